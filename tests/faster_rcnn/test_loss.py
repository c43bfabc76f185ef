"""Faster R-CNN losses, anchor labelling and sampling on hand-built cases; the recipe pinned to §3.1 and §4.1."""
import math

import pytest
import torch
import torch.nn.functional as F

from papers.faster_rcnn.loss import (DetLossConfig, Recipe, RPNLossConfig, detector_loss, label_anchors, lr_at,
                                     rpn_loss, sample_anchors, sample_rois, smooth_l1)
from papers.faster_rcnn.model import FasterRCNNConfig, encode


def test_smooth_l1_by_hand():
    x = torch.tensor([0.5, -0.5, 2.0, -1.0, 0.0])
    assert torch.allclose(smooth_l1(x), torch.tensor([0.125, 0.125, 1.5, 0.5, 0.0]))


def test_label_assignment_on_a_hand_built_case():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    anchors = torch.tensor([
        [0.0, 0.0, 10.0, 9.0],     # IoU 0.9 with gt 0            -> positive (> 0.7)
        [5.0, 5.0, 15.0, 15.0],    # IoU 25/175 = 0.14 with gt 0  -> negative (< 0.3 with all)
        [0.0, 0.0, 10.0, 6.0],     # IoU 0.6                       -> ignored
        [20.0, 20.0, 30.0, 24.0],  # IoU 0.4 with gt 1, its best   -> positive (rule i)
        [20.0, 20.0, 30.0, 22.0],  # IoU 0.2                       -> negative
        [-1.0, 0.0, 9.0, 10.0],    # IoU 0.82, but crosses the image boundary -> ignored (§3.3)
    ])
    labels, matched = label_anchors(anchors, gt, (40, 40))
    assert labels.tolist() == [1, 0, -1, 1, 0, -1]
    assert matched[0] == 0 and matched[3] == 1
    labels, _ = label_anchors(anchors, gt, None)                       # no image size: boundary anchors count
    assert labels[5] == 1
    no_gt, _ = label_anchors(anchors, torch.empty(0, 4), (40, 40))
    assert no_gt.tolist() == [0, 0, 0, 0, 0, -1]


def test_minibatch_of_256_up_to_one_to_one():
    g = torch.Generator().manual_seed(0)
    labels = torch.cat([torch.ones(1000), torch.zeros(5000), -torch.ones(100)]).long()
    s = sample_anchors(labels, 256, 0.5, g)
    assert (s == 1).sum() == 128 and (s == 0).sum() == 128
    few = torch.cat([torch.ones(10), torch.zeros(5000)]).long()
    s = sample_anchors(few, 256, 0.5, g)
    assert (s == 1).sum() == 10 and (s == 0).sum() == 246                # "pad with negatives"


def test_rpn_loss_normalisation_and_lambda_by_hand():
    """Eq. (1): cls summed over the 256 sampled anchors / N_cls; reg over positives / N_reg, times λ = 10."""
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0], [80.0, 0.0, 90.0, 10.0]])
    gt = [torch.tensor([[0.0, 0.0, 10.0, 10.0]])]
    cls = torch.zeros(1, 3, 2)                                           # p = 0.5 everywhere
    reg = torch.zeros(1, 3, 4)
    reg[0, 0] = torch.tensor([0.5, 0.0, 2.0, 0.0])                      # anchor 0 is positive, target 0
    cfg = RPNLossConfig()
    out = rpn_loss(cls, reg, anchors, gt, (100, 100), n_locations=3, cfg=cfg)
    assert out["rpn_cls"].item() == pytest.approx(3 * math.log(2) / 256)   # 3 sampled anchors, N_cls = 256
    assert out["rpn_reg"].item() == pytest.approx(10 * (0.125 + 1.5) / 3)  # λ * smooth-L1 sum / N_reg
    perfect = rpn_loss(cls, torch.zeros(1, 3, 4), anchors, gt, (100, 100), n_locations=3, cfg=cfg)
    assert perfect["rpn_reg"].item() == 0.0


def test_lambda_10_weights_the_two_terms_roughly_equally():
    """§3.1.2: with N_cls = 256 and N_reg ~ 2,400, λ = 10 makes both terms roughly equally weighted."""
    cfg = RPNLossConfig()
    assert (cfg.lam, cfg.batch_size, cfg.pos_iou, cfg.neg_iou, cfg.pos_fraction) == (10.0, 256, 0.7, 0.3, 0.5)
    assert 0.9 < (cfg.lam / 2400) / (1 / 256) < 1.2


def test_detector_loss_by_hand():
    logits = torch.zeros(2, 3)
    offsets = torch.zeros(2, 3, 4)
    offsets[0, 2] = torch.tensor([0.5, 0.0, 0.0, 2.0])                  # RoI 0 is class 2
    labels = torch.tensor([2, 0])
    targets = torch.zeros(2, 4)
    out = detector_loss(logits, offsets, labels, targets)
    assert out["det_cls"].item() == pytest.approx(math.log(3))
    assert out["det_reg"].item() == pytest.approx((0.125 + 1.5) / 2)    # only the true class; averaged over RoIs


def test_roi_sampling_fractions_and_targets():
    g = torch.Generator().manual_seed(0)
    gt = torch.tensor([[10.0, 10.0, 60.0, 60.0]])
    jitter = torch.randn(400, 4, generator=g) * 12
    proposals = gt.repeat(400, 1) + jitter
    rois, labels, targets = sample_rois(proposals, gt, torch.tensor([3]), DetLossConfig(), g)
    assert len(rois) <= 128 and (labels > 0).sum() <= 32                 # 25% foreground
    from shared.boxes import box_iou
    iou = box_iou(rois, gt)[:, 0]
    assert (iou[labels > 0] >= 0.5).all() and (labels[labels > 0] == 3).all()
    assert ((iou[labels == 0] < 0.5) & (iou[labels == 0] >= 0.1)).all()
    fg = labels > 0
    assert torch.allclose(targets[fg], encode(gt.expand(int(fg.sum()), 4), rois[fg]))


def test_recipe_and_proposal_settings_pin_the_paper():
    r = Recipe()
    assert (r.lr, r.lr_steps, r.max_iters, r.momentum, r.weight_decay, r.short_side) == \
        (0.001, (60_000,), 80_000, 0.9, 0.0005, 600)
    assert lr_at(59_999, r) == 0.001 and lr_at(60_000, r) == pytest.approx(0.0001)
    c = FasterRCNNConfig()
    assert (c.nms_thresh, c.post_nms_top_n_train, c.post_nms_top_n_test, c.stride) == (0.7, 2000, 300, 16)
    assert (c.anchor_sizes, c.anchor_ratios, c.rpn_channels, c.init_std) == ((128.0, 256.0, 512.0), (0.5, 1.0, 2.0),
                                                                              512, 0.01)


# ------------------------------------------------------------------------------------------------ §3.2 schemes
def _toy_batches(n=2, size=96):
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        images = torch.rand(1, 3, size, size, generator=g)
        boxes = [torch.tensor([[16.0, 16.0, 64.0, 72.0]])]
        out.append((images, boxes, [torch.tensor([1])]))
    return out


def _snapshot(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def _changed(before, m, prefix):
    return any(not torch.equal(before[k], v) for k, v in m.state_dict().items() if k.startswith(prefix))


def test_alternating_training_trains_what_each_step_says():
    from papers.faster_rcnn.model import faster_rcnn_cpu
    from papers.faster_rcnn.train import train_alternating
    torch.manual_seed(0)
    model = faster_rcnn_cpu(num_classes=1, cpu_widths=(8, 8, 16, 16), rpn_channels=16, fc_dim=32)
    recipe = Recipe(lr=0.01)
    seen = []
    logs = train_alternating(model, _toy_batches(), (2, 2, 0, 0), recipe)
    assert [l.name[:1] for l in logs] == ["1", "2", "3", "4"] and model.rpn_backbone is None
    # steps 3 and 4 leave the shared convolutions (and their BatchNorm statistics) fixed
    before = _snapshot(model)
    from papers.faster_rcnn import train as T
    T.freeze(model.backbone); T.freeze(model.head)
    T._loop("3", model, _toy_batches(), 2, recipe, rpn=True, det=False)
    assert _changed(before, model, "rpn.") and not _changed(before, model, "backbone.")
    assert not _changed(before, model, "head.")
    before = _snapshot(model)
    T.freeze(model.rpn); T.freeze(model.head, False)
    T._loop("4", model, _toy_batches(), 2, recipe, rpn=False, det=True)
    assert _changed(before, model, "head.") and not _changed(before, model, "backbone.")
    assert not _changed(before, model, "rpn.")


def test_joint_training_trains_everything_and_lowers_the_loss():
    from papers.faster_rcnn.model import faster_rcnn_cpu
    from papers.faster_rcnn.train import losses, train_joint
    torch.manual_seed(0)
    model = faster_rcnn_cpu(num_classes=1, cpu_widths=(8, 8, 16, 16), rpn_channels=16, fc_dim=32)
    batches = _toy_batches(1)
    g = torch.Generator().manual_seed(1)
    model.eval()
    first = float(sum(losses(model, *batches[0], generator=g).values()))
    before = _snapshot(model)
    train_joint(model, batches, 8, Recipe(lr=0.05))
    for prefix in ("backbone.", "rpn.", "head."):
        assert _changed(before, model, prefix), prefix
    model.eval()
    g = torch.Generator().manual_seed(1)
    assert float(sum(losses(model, *batches[0], generator=g).values())) < first
