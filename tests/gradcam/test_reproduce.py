"""End to end: the smoke preset, the paper preset at toy size (ILSVRC layout, Table 1 claims), the explain CLI."""
import json

import numpy as np
import pytest
import torch

from papers.gradcam import explain, reproduce
from papers.gradcam.model import CNNConfig, SmallCNN
from papers.gradcam.reproduce import PRESETS, TABLE1


def test_presets_pin_the_paper():
    p = PRESETS["paper"]
    assert (p.task, p.arch, p.loc_threshold, p.iou_threshold, p.paper_image_size) == ("imagenet", "vgg16", 0.15, 0.5, 224)
    assert TABLE1["gradcam"] == {"top1_cls": 30.38, "top5_cls": 10.89, "top1_loc": 56.51, "top5_loc": 46.41}
    assert TABLE1["cam"]["top1_loc"] == 57.20 and TABLE1["cam"]["cls_cost"] == 2.98
    q = PRESETS["quick"]
    assert (q.image_size, q.seeds, q.loc_threshold, q.iou_threshold, q.n_test) == (64, (0, 1, 2), 0.15, 0.5, 1000)


def test_smoke_run_end_to_end(no_data_env):
    out = no_data_env / "smoke"
    m = reproduce.main(["--preset", "smoke", "--out", str(out)])
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["paper"] == "gradcam" and saved["environment"]["data"] == {"mnist": "synthetic"}
    ids = {c["id"] for c in saved["claims"]}
    assert {"cam-equivalence", "oracle-grad-cam-package", "loc-beats-centre-box", "loc-comparable-to-cam",
            "pointing-beats-random", "counterfactual-points-at-other-object", "sanity-gradcam-depends-on-weights",
            "table1-vgg16-ilsvrc", "gradcam-explains-resnet", "gradcam-explains-vit"} <= ids
    by_id = {c["id"]: c for c in saved["claims"]}
    assert by_id["cam-equivalence"]["verdict"] == "reproduced"                 # exact at any training stage
    assert by_id["oracle-grad-cam-package"]["verdict"] == "reproduced"
    assert by_id["table1-vgg16-ilsvrc"]["paper"] == 56.51
    for f in ("overlays.png", "sanity.png", "networks.png", "README.md", "log.jsonl"):
        assert (out / f).is_file(), f
    s = saved["results"]["per_seed"]["0"]
    assert set(s["localisation"]) >= {"gradcam", "cam", "gradient", "centre box", "random box", "full image"}
    assert s["sanity"]["curves"]["Grad-CAM"][0] == 1.0 and len(s["sanity"]["steps"]) == 6
    assert m["preset"] == "smoke"


def _toy_imagenet(root, rng):
    from PIL import Image
    for c, w in enumerate(("n01440764", "n01443537")):
        (root / "val" / w).mkdir(parents=True)
        for i in range(3):
            stem = f"ILSVRC2012_val_{c}{i:07d}"
            Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(root / "val" / w / f"{stem}.JPEG")
            if (c, i) == (1, 2):
                continue  # an image without a box file is skipped
            (root / "val_boxes").mkdir(exist_ok=True)
            (root / "val_boxes" / f"{stem}.xml").write_text(
                f"<annotation><filename>{stem}</filename><size><width>50</width><height>40</height><depth>3</depth>"
                f"</size><object><name>{w}</name><bndbox><xmin>5</xmin><ymin>4</ymin><xmax>30</xmax><ymax>35</ymax>"
                "</bndbox></object></annotation>")


def test_paper_preset_at_toy_size_emits_table1_claims(no_data_env):
    rng = np.random.default_rng(0)
    _toy_imagenet(no_data_env / "imnet", rng)
    torch.manual_seed(0)
    net = SmallCNN(CNNConfig(in_channels=3, widths=(4, 8), hidden=8, num_classes=2, image_size=32))
    torch.save(net.state_dict(), no_data_env / "w.pth")
    out = no_data_env / "paper"
    reproduce.main(["--preset", "paper", "--out", str(out), "--set", "arch=cnn-fc", "--set", "weights=w.pth",
                    "--set", "imagenet_root=imnet", "--set", "paper_image_size=32", "--set", "eval_batch=4"])
    m = json.loads((out / "metrics.json").read_text())
    claims = {c["id"]: c for c in m["claims"]}
    assert {k: c["paper"] for k, c in claims.items()} == {
        "table1-vgg16-top1-loc": 56.51, "table1-vgg16-top5-loc": 46.41,
        "table1-vgg16-top1-cls": 30.38, "table1-vgg16-top5-cls": 10.89}
    assert m["results"]["images"] == 5 and m["results"]["skipped"] == 1
    assert all(0 <= c["ours"] <= 100 for c in claims.values())
    assert claims["table1-vgg16-top5-cls"]["ours"] == 0.0                   # 2 classes: always in the top 5
    with pytest.raises(ValueError, match="weights"):
        reproduce.main(["--preset", "paper", "--out", str(out)])


def test_explain_cli_writes_an_overlay(no_data_env):
    import torchvision
    from PIL import Image
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 40, 3), dtype=np.uint8)).save("cat.png")
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(num_classes=7).state_dict(), "r18.pth")   # torchvision format
    r = explain.main(["cat.png", "--model", "resnet18", "--weights", "r18.pth", "--size", "64", "--device", "cpu",
                      "--target", "3", "--out", "o.png"])
    assert r["target"] == 3 and r["layer"] == "conv5_x" and (no_data_env / "o.png").stat().st_size > 1000
    assert r["gradcam"].shape == (64, 64) and r["guided_gradcam"].shape == (3, 64, 64)
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        explain.main(["cat.png", "--model", "vgg16", "--weights", "missing.pth"])
    with pytest.raises(ValueError, match="unknown model"):
        explain.build_explained("alexnet")
