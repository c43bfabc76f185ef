"""End to end: the smoke preset, the paper presets at toy size, the Fig. 7 analyses."""
import json

import numpy as np
import pytest
import torch

from papers.vit import reproduce
from papers.vit.model import ViTConfig, VisionTransformer
from shared.report import render_readme


def test_smoke_run_writes_report(no_data_env):
    out = no_data_env / "smoke"
    reproduce.main(["--preset", "smoke", "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    assert m["paper"] == "vit" and m["environment"]["data"] == {"cifar10": "synthetic"}
    ids = {c["id"]: c for c in m["claims"]}
    assert {"cnn-beats-vit-on-small-data", "gap-narrows-with-data", "vit-wins-at-scale",
            "table1-params-vit-b16", "tokens-224-16"} <= set(ids)
    assert ids["vit-wins-at-scale"]["verdict"] == "not comparable"
    assert ids["table1-params-vit-b16"]["verdict"] == "reproduced" and ids["tokens-224-16"]["ours"] == 197
    assert len(ids["cnn-beats-vit-on-small-data"]["criterion"]["a"]) == 3        # 3 seeds per arm
    runs = m["results"]["runs"]
    assert len(runs) == 2 * 2 * 3 and all(0 <= r["test_acc"] <= 1 for r in runs.values())
    for f in ("accuracy_vs_size.png", "fig7_position_similarity.png", "fig7_attention_distance.png"):
        assert (out / f).is_file()
    assert (out / "README.md").read_text() == render_readme(m)


def test_paper_finetune_preset_at_toy_size(no_data_env):
    """The fine-tuning recipe end to end (tiny model from a saved checkpoint, 2 steps, 48 px) emits the
    paper's CIFAR-10 numbers."""
    src = VisionTransformer(ViTConfig(image_size=32, patch_size=8, D=16, L=1, heads=2, mlp_dim=32, num_classes=7,
                                      representation_size=16))
    from papers.vit.interop import to_torchvision_state_dict
    torch.save(to_torchvision_state_dict(src), no_data_env / "ckpt.pth")
    reproduce.main(["--preset", "paper", "--out", "p", "--set", "variant=config", "--set", "vit.image_size=32",
                    "--set", "vit.patch_size=8", "--set", "vit.D=16", "--set", "vit.L=1", "--set", "vit.heads=2",
                    "--set", "vit.mlp_dim=32", "--set", "vit.num_classes=7", "--set", "vit.representation_size=16",
                    "--set", "init=ckpt.pth", "--set", "resolution=48", "--set", "batch_size=8", "--set",
                    "max_steps=2", "--set", "warmup_steps=1", "--set", "val_size=16", "--set", "test_size=16",
                    "--set", "eval_every=1", "--set", "ckpt_every=0", "--set", "log_every=1"])
    m = json.loads((no_data_env / "p" / "metrics.json").read_text())
    c = {x["id"]: x for x in m["claims"]}
    assert c["table2-cifar10-vit-h14"]["paper"] == 99.50
    assert c["cifar10-finetune-config"]["verdict"] == "not comparable"
    assert m["config"]["optimizer"] == "sgd" and m["config"]["resolution"] == 48


def test_paper_finetune_claims_table5_value():
    assert reproduce.TABLE5_IMAGENET_ONLY["vit-b16"] == (77.91, 98.13)  # App. Table 5 (PAPER_FACTS §9)
    assert reproduce.TABLE2_CIFAR10["vit-h14 (JFT)"] == 99.50


def test_paper_pretrain_preset_at_toy_size(no_data_env):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in ("a", "b"):
            d = no_data_env / "imgs" / split / c
            d.mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(d / f"{i}.jpg")
    reproduce.main(["--preset", "paper-pretrain", "--out", "pp", "--set", "variant=config", "--set",
                    "image_root=imgs", "--set", "resolution=32", "--set", "vit.patch_size=8", "--set", "vit.D=16",
                    "--set", "vit.L=1", "--set", "vit.heads=2", "--set", "vit.mlp_dim=32", "--set",
                    "representation_size=16", "--set", "batch_size=4", "--set", "max_steps=2", "--set",
                    "warmup_steps=1", "--set", "eval_every=2", "--set", "ckpt_every=0", "--set", "num_workers=0",
                    "--set", "log_every=1"])
    m = json.loads((no_data_env / "pp" / "metrics.json").read_text())
    c = {x["id"]: x for x in m["claims"]}
    assert c["imagenet-pretrain-config"]["verdict"] == "not comparable"
    assert m["config"]["batch_size"] == 4 and m["config"]["weight_decay"] == 0.1


def test_mean_attention_distance_and_position_similarity():
    torch.manual_seed(0)
    m = VisionTransformer(ViTConfig(image_size=16, patch_size=4, D=8, L=2, heads=2, mlp_dim=16, num_classes=3))
    # uniform attention over a 4x4 grid: the mean distance is the mean pairwise patch distance
    for b in m.blocks:
        torch.nn.init.zeros_(b.msa.qkv.weight)
        torch.nn.init.zeros_(b.msa.qkv.bias)
    mad = reproduce.mean_attention_distance(m, torch.randn(2, 3, 16, 16))
    r, c = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    p = np.stack([r.ravel(), c.ravel()], 1) * 4.0
    want = np.mean(np.linalg.norm(p[:, None] - p[None], axis=-1))
    assert mad.shape == (2, 2) and np.allclose(mad, want, atol=1e-4)
    sim = reproduce.position_similarity(m)
    assert sim.shape == (4, 4, 4, 4) and np.allclose([sim[i, j, i, j] for i in range(4) for j in range(4)], 1, atol=1e-5)
