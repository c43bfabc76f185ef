"""End to end: the smoke preset on the embedded default, resume, the §4.2 schedule, the ImageNet path."""
import json

import numpy as np
import pytest
import torch

from papers.resnet import reproduce
from papers.resnet.reproduce import PRESETS, PaperSchedule


def test_smoke_run_writes_report(no_data_env):
    out = no_data_env / "smoke"
    reproduce.main(["--preset", "smoke", "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    assert m["paper"] == "resnet" and m["environment"]["data"] == {"cifar10": "synthetic"}
    ids = {c["id"] for c in m["claims"]}
    assert {"table6-params", "shortcuts-help-at-depth-20", "table6-test-error-resnet20"} <= ids
    assert (out / "fig6.png").is_file() and (out / "README.md").read_text().startswith("# ResNet")
    runs = m["results"]["runs"]
    assert set(runs) == {"plain20-seed0", "resnet20-seed0"}
    assert all(0 <= r["test_error"] <= 1 for r in runs.values())


def test_resume_is_exact(no_data_env):
    args = ["--preset", "smoke", "--set", "variants=resnet20", "--set", "ckpt_every=2"]
    reproduce.main([*args, "--out", "a"])
    reproduce.main([*args, "--out", "b", "--set", "max_steps=2"])
    reproduce.main([*args, "--out", "b", "--resume"])
    a = torch.load("a/runs/resnet20-seed0/checkpoint.pt", weights_only=True)
    b = torch.load("b/runs/resnet20-seed0/checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == PRESETS["smoke"].max_steps
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k


def test_paper_schedule_4_2():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = PaperSchedule(opt, 0.1, milestones=(32000, 48000))
    lrs = {}
    for step in range(64000):
        if step in (0, 31999, 32000, 47999, 48000, 63999):
            lrs[step] = opt.param_groups[0]["lr"]
        s.step()
    assert lrs == pytest.approx({0: 0.1, 31999: 0.1, 32000: 0.01, 47999: 0.01, 48000: 0.001, 63999: 0.001})
    cfg = PRESETS["paper"]
    assert (cfg.batch_size, cfg.lr, cfg.milestones, cfg.max_steps, cfg.weight_decay, cfg.momentum, cfg.val_size) \
        == (128, 0.1, (32000, 48000), 64000, 1e-4, 0.9, 5000)


def test_warmup_until_training_error_below_80_percent():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = PaperSchedule(opt, 0.1, milestones=(32000,), warmup_lr=0.01, until_error=0.8)
    for _ in range(50):
        s.observe(0.9)
        s.step()
    assert s.warming and opt.param_groups[0]["lr"] == 0.01
    for _ in range(50):
        s.observe(0.5)
        s.step()
    assert not s.warming and opt.param_groups[0]["lr"] == pytest.approx(0.1)
    assert 50 < s.warmup_end_step < 100
    s2 = PaperSchedule(opt, 0.1, warmup_lr=0.01)
    s2.load_state_dict(s.state_dict())
    assert not s2.warming and s2.steps == 100 and s2.warmup_end_step == s.warmup_end_step


def test_imagenet_path_on_a_tiny_folder(no_data_env):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in ("n01", "n02"):
            d = no_data_env / "imnet" / split / c
            d.mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(d / f"{i}.JPEG")
    reproduce.main(["--preset", "paper-imagenet", "--out", "im", "--set", "imagenet_root=imnet",
                    "--set", "variants=resnet18", "--set", "batch_size=4", "--set", "max_steps=2",
                    "--set", "imagenet_scale=32,40", "--set", "imagenet_crop=32", "--set", "imagenet_test_size=36",
                    "--set", "num_workers=0", "--set", "eval_every=0", "--set", "log_every=1"])
    m = json.loads((no_data_env / "im" / "metrics.json").read_text())
    rec = m["results"]["runs"]["resnet18-seed0"]
    assert 0 <= rec["top1_error"] <= 1 and rec["top5_error"] <= rec["top1_error"]


def test_bad_variant_is_a_clear_error(no_data_env):
    with pytest.raises(SystemExit, match="not CIFAR-10 networks"):
        reproduce.main(["--preset", "smoke", "--out", "x", "--set", "variants=resnet50"])


def test_linear_warmup_ramps_then_follows_the_schedule():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    s = PaperSchedule(opt, 0.1, milestones=(8,), linear_warmup=4)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        s.step()
    assert lrs == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01])
