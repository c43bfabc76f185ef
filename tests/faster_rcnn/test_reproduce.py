"""reproduce.py end to end (smoke preset; the paper preset at toy size), the presets pinned to the paper, and
the reproduction's own pieces: data (short side 600, flips, shards), proposal recall, greedy NMS."""
import json
from pathlib import Path

import pytest
import torch
import torchvision

from papers.faster_rcnn import reproduce
from papers.faster_rcnn.data import Batches, DetSplit, Item, flip_boxes
from papers.faster_rcnn.loss import DetLossConfig, Recipe, RPNLossConfig
from papers.faster_rcnn.model import FasterRCNNConfig, greedy_nms
from papers.faster_rcnn.train import scaled
from shared.boxes import nms


def test_paper_preset_pins_the_paper():
    p = reproduce.PRESETS["paper"]
    r = p.recipe                                                    # §4.1
    assert (r.lr, r.lr_steps, r.max_iters, r.momentum, r.weight_decay, r.short_side, r.images_per_batch) == \
        (0.001, (60_000,), 80_000, 0.9, 0.0005, 600, 1)
    assert p.model == FasterRCNNConfig() and p.model.backbone == "vgg16"
    assert (p.model.anchor_sizes, p.model.anchor_ratios, p.model.nms_thresh) == ((128.0, 256.0, 512.0),
                                                                                 (0.5, 1.0, 2.0), 0.7)
    assert (p.model.post_nms_top_n_train, p.model.post_nms_top_n_test) == (2000, 300)
    assert p.rpn_loss == RPNLossConfig() and (p.rpn_loss.lam, p.rpn_loss.batch_size) == (10.0, 256)
    assert p.det_loss == DetLossConfig()
    assert p.scheme == "alternating"                                # §3.2: the paper's results
    assert p.alt_steps == (80_000, 40_000, 80_000, 40_000) and p.normalize == "imagenet" and p.image_size == 0
    # each alternating step stretches the §4.1 schedule: the detector steps drop the lr at 30k of 40k
    assert scaled(r, 40_000).lr_steps == (30_000,) and scaled(r, 80_000) == r


def test_quick_preset_anchor_settings():
    from papers.yolo.model import YOLO_CPU
    from papers.yolo.reproduce import PRESETS as YOLO_PRESETS
    q = reproduce.PRESETS["quick"]
    assert q.image_size == YOLO_CPU.image_size and YOLO_PRESETS["quick"].variant == "yolo-cpu"   # same pixels
    # anchors at the paper's anchor / short-side ratios (128, 256, 512 for 600 pixels), 300 test proposals
    for ours, paper in zip(q.model.anchor_sizes, (128, 256, 512)):
        assert abs(ours - paper * q.image_size / 600) < 1.0
    assert q.model.anchor_ratios == (0.5, 1.0, 2.0) and q.model.post_nms_top_n_test == 300
    assert q.model.nms_thresh == 0.7 and q.rpn_loss == RPNLossConfig()
    assert q.recipe.lr_steps[0] / q.recipe.max_iters == 60_000 / 80_000        # §4.1's proportion
    assert (q.recipe.momentum, q.recipe.weight_decay) == (0.9, 0.0005)
    assert len(q.seeds) >= 3 and q.compare_schemes and set(q.lambdas) == {0.1, 1.0, 100.0} and q.yolo
    assert q.alt_steps == (q.joint_steps, q.joint_steps // 2, q.joint_steps, q.joint_steps // 2)


def test_smoke_end_to_end(tmp_path, no_data_env):
    out = tmp_path / "smoke"
    reproduce.main(["--preset", "smoke", "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    ids = {c["id"] for c in m["claims"]}
    assert {"anchors-k9", "anchors-per-image", "vgg16-shared-convs", "rpn-outputs", "map-voc07",
            "detects-above-trivial-baseline", "fig4-proposal-recall", "joint-close-to-alternating",
            "joint-saves-time", "table9-lambda-0.1-worse", "table9-lambda-1-close", "table9-lambda-100-close",
            "yolo-table1-accuracy", "fig4-yolo-more-localization-errors", "fig4-frcnn-more-background-errors"} <= ids
    assert m["environment"]["data"] == {"shapes (generated detection canvases)": "synthetic"}
    assert len(m["results"]["runs"]) == 15 and len(m["results"]["yolo_runs"]) == 3   # 5 arms x 3 seeds; YOLO
    for c in m["claims"][:4]:
        assert c["verdict"] == "reproduced", c
    for f in ("recall.png", "detections.png", "comparison.png", "ablations.png", "README.md"):
        assert (out / f).is_file(), f
    assert not list(out.rglob("checkpoint.pt"))
    table = m["results"]["table1"]
    assert [r["name"] for r in table] == ["Faster R-CNN (CPU)", "YOLO (CPU)", "prior box"]


def test_paper_preset_at_toy_size_claims_the_papers_numbers(tmp_path, no_data_env):
    out = tmp_path / "paper"
    reproduce.main(["--preset", "paper", "--out", str(out), "--set", "dataset=shapes", "--set", "image_size=64",
                    "--set", "max_train=2", "--set", "max_test=2", "--set", "alt_steps=1,1,1,1",
                    "--set", "model.fc_dim=16", "--set", "model.rpn_channels=16", "--set", "fps_size=64,64",
                    "--set", "fps_iters=1", "--set", "normalize=none", "--set", "recall_proposals=10"])
    claims = {c["id"]: c for c in json.loads((out / "metrics.json").read_text())["claims"]}
    assert claims["map-voc07"]["paper"] == 69.9 and claims["map-voc07"]["criterion"]["kind"] == "target"
    assert claims["table5-vgg16-fps"]["paper"] == 5.0 and claims["table5-zf-fps"]["paper"] == 17.0
    assert claims["anchors-per-image"]["verdict"] == "reproduced"


@pytest.mark.parametrize("bench,value", [("voc07+12", 73.2), ("voc07++12", 70.4), ("coco", 41.5)])
def test_paper_tables(bench, value):
    assert {**reproduce.TABLE3, **reproduce.TABLE4}.get(bench, reproduce.TABLE11_VAL[0]) == value
    assert reproduce.TABLE5_FPS == {"vgg16": 5.0, "zf": 17.0}
    assert reproduce.TABLE9 == {0.1: 67.2, 1.0: 68.9, 10.0: 69.9, 100.0: 69.1}


def test_short_side_600_and_long_side_cap():
    """§3.3: short side s = 600; the authors' code caps the long side at 1,000."""
    items = [Item(Path("a.jpg"), torch.tensor([[0.0, 0.0, 50.0, 100.0]]), torch.tensor([0]), (500, 375), "a"),
             Item(Path("b.jpg"), torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), (2000, 500), "b")]
    s = DetSplit(items, ["x"])
    assert s.net_size(0) == (600, 800) and s.net_size(1) == (250, 1000)
    boxes, labels = s.target(0)
    assert torch.allclose(boxes, torch.tensor([[0.0, 0.0, 80.0, 160.0]])) and labels.tolist() == [1]
    assert torch.allclose(s.to_original(0, boxes), items[0].boxes)


def test_flips_and_batches():
    assert flip_boxes(torch.tensor([[10.0, 5.0, 30.0, 20.0]]), 100).tolist() == [[70.0, 5.0, 90.0, 20.0]]
    imgs = [torch.randint(0, 255, (3, 8, 8), dtype=torch.uint8) for _ in range(6)]
    items = [Item(x, torch.tensor([[0.0, 0.0, 4.0, 4.0]]), torch.tensor([0]), (8, 8), str(i)) for i, x in enumerate(imgs)]
    split = DetSplit(items, ["x"], square=8)
    a, b = Batches(split, 2, seed=3, flip=1.0), Batches(split, 2, seed=3, flip=1.0)
    xa, ba, _ = next(iter(a))
    xb, _, _ = next(iter(b))
    assert torch.equal(xa, xb)                                       # the same seed, the same epoch
    assert ba[0].tolist() == [[4.0, 0.0, 8.0, 4.0]]                  # flipped with the image
    r0 = [x for x, _, _ in Batches(split, 1, seed=0, world=2, rank=0)]
    r1 = [x for x, _, _ in Batches(split, 1, seed=0, world=2, rank=1)]
    assert len(r0) == len(r1) == 3 and not any(torch.equal(p, q) for p in r0 for q in r1)   # disjoint shards


def test_greedy_nms_equals_shared_and_torchvision():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(300, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + torch.rand(300, 2, generator=g) * 40 + 1], 1)
    scores = torch.rand(300, generator=g)
    ours = greedy_nms(boxes, scores, 0.7)
    assert torch.equal(ours, nms(boxes, scores, 0.7)) and torch.equal(ours, torchvision.ops.nms(boxes, scores, 0.7))
    assert torch.equal(greedy_nms(boxes, scores, 0.5, 10), torchvision.ops.nms(boxes, scores, 0.5)[:10])


def test_proposal_recall_by_hand():
    items = [Item(torch.zeros(3, 100, 100, dtype=torch.uint8), torch.tensor([[0.0, 0.0, 10.0, 10.0],
                                                                               [50.0, 50.0, 70.0, 70.0]]),
                  torch.tensor([0, 0]), (100, 100), "a")]
    split = DetSplit(items, ["x"], square=100)
    props = [torch.tensor([[0.0, 0.0, 10.0, 8.0],           # IoU 0.8 with the first box
                           [50.0, 50.0, 70.0, 70.0]])]       # exact: the second
    rec = reproduce.proposal_recall(split, props, 2)
    assert rec[0] == 1.0 and rec[reproduce.RECALL_IOUS.index(0.8)] == 1.0 and rec[-1] == 0.5
    assert reproduce.proposal_recall(split, props, 1)[0] == 0.5    # only the top proposal counts
