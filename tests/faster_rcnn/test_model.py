"""Faster R-CNN: paper facts, hand-computed cases, and equivalence with torchvision's components."""
import math

import pytest
import torch
import torchvision  # oracle: a test dependency, never skipped
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.rpn import RPNHead as TVRPNHead, concat_box_prediction_layers

from papers.faster_rcnn import interop
from papers.faster_rcnn.model import (VARIANTS, FasterRCNN, FasterRCNNConfig, ProposalLayer, RPNHead, cell_anchors,
                                      decode, encode, grid_anchors, roi_pool)
from shared.profiling import count_params


def rand_boxes(n, size=600.0, g=None):
    xy = torch.rand(n, 2, generator=g) * size * 0.7
    wh = torch.rand(n, 2, generator=g) * size * 0.3 + 4
    return torch.cat([xy, xy + wh], 1)


# ------------------------------------------------------------------------------------------------ anchors
def test_nine_anchors_with_the_papers_areas_and_ratios():
    """§3.1.1: 3 scales (areas 128², 256², 512²) x 3 aspect ratios (1:1, 1:2, 2:1)."""
    a = cell_anchors((128, 256, 512), (0.5, 1.0, 2.0))
    assert a.shape == (9, 4)
    w, h = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    areas = sorted({round(math.sqrt(x)) for x in (w * h).tolist()})
    for s in (128, 256, 512):
        assert any(abs(x - s) / s < 0.01 for x in areas), (s, areas)   # whole-pixel rounding: within 1%
    for r in (0.5, 1.0, 2.0):
        assert ((h / w - r).abs() / r < 0.02).sum() == 3
    centres = (a[:, :2] + a[:, 2:]) / 2
    assert torch.allclose(centres, torch.zeros_like(centres), atol=0.5)


def test_anchor_count_on_a_38_by_50_map():
    """§3.1.1 / PAPER: a ~600x800 image gives a 38x50 conv5_3 map: 38 * 50 * 9 = 17,100 anchors."""
    assert grid_anchors(38, 50, 16, cell_anchors((128, 256, 512), (0.5, 1.0, 2.0))).shape == (17_100, 4)


def test_anchors_equal_torchvision_anchor_generator():
    gen = AnchorGenerator(sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),))
    images = ImageList(torch.zeros(1, 3, 608, 800), [(608, 800)])
    feats = [torch.zeros(1, 512, 38, 50)]
    ref = gen(images, feats)[0]
    ours = grid_anchors(38, 50, 16, cell_anchors((128, 256, 512), (0.5, 1.0, 2.0)))
    assert torch.equal(ours, ref)


# ------------------------------------------------------------------------------------------------ Eq. (2)
def test_encode_decode_by_hand_and_round_trip():
    anchor = torch.tensor([[0.0, 0.0, 100.0, 50.0]])
    assert torch.equal(encode(anchor, anchor), torch.zeros(1, 4))          # encode(anchor, anchor) = 0
    box = torch.tensor([[10.0, 5.0, 210.0, 55.0]])                         # centre (110, 30), 200 x 50
    t = encode(box, anchor)                                                  # ((110-50)/100, (30-25)/50, ln 2, 0)
    assert torch.allclose(t, torch.tensor([[0.6, 0.1, math.log(2.0), 0.0]]))
    g = torch.Generator().manual_seed(0)
    b, a = rand_boxes(200, g=g), rand_boxes(200, g=g)
    assert torch.allclose(decode(encode(b, a), a), b, atol=1e-3)            # decode(encode(b)) = b


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
def test_box_coder_equals_torchvision(weights):
    g = torch.Generator().manual_seed(1)
    b, a = rand_boxes(300, g=g), rand_boxes(300, g=g)
    coder = BoxCoder(weights)
    assert torch.allclose(encode(b, a, weights), coder.encode_single(b, a), atol=1e-5)
    t = torch.randn(300, 4, generator=g)
    assert torch.allclose(decode(t, a, weights), coder.decode_single(t, a), atol=1e-3)


# ------------------------------------------------------------------------------------------------ RPN
def test_rpn_head_equals_torchvision_in_logistic_mode():
    torch.manual_seed(0)
    tv = TVRPNHead(16, 9)
    ours = interop.load_rpn_head(RPNHead(16, 16, 9, softmax=False), tv.state_dict())
    x = torch.randn(2, 16, 5, 7, requires_grad=True)
    cls, reg = ours(x)
    tcls, treg = tv([x])
    tcls, treg = concat_box_prediction_layers(tcls, treg)                    # [N*HWA, 1], [N*HWA, 4]
    assert torch.allclose(cls.reshape(-1), tcls.reshape(-1), atol=1e-6)
    assert torch.allclose(reg.reshape(-1, 4), treg, atol=1e-6)
    (g1,) = torch.autograd.grad((cls.sum() + reg.square().sum()), x)
    (g2,) = torch.autograd.grad((tcls.sum() + treg.square().sum()), x)
    assert torch.allclose(g1, g2, atol=1e-5)


def test_rpn_head_layers_follow_section_3_1():
    """3x3 window to 512-d, sibling 1x1 cls (2k) and reg (4k) layers, initialised from N(0, 0.01)."""
    torch.manual_seed(0)
    head = RPNHead(512, 512, 9)
    assert head.conv.kernel_size == (3, 3) and head.conv.out_channels == 512
    assert head.cls.kernel_size == (1, 1) and head.cls.out_channels == 18
    assert head.reg.kernel_size == (1, 1) and head.reg.out_channels == 36
    assert abs(head.conv.weight.std().item() - 0.01) < 0.0005 and head.conv.bias.abs().max() == 0
    cls, reg = head(torch.randn(1, 512, 4, 6))
    assert cls.shape == (1, 4 * 6 * 9, 2) and reg.shape == (1, 4 * 6 * 9, 4)


def test_proposal_layer_keeps_top_n_after_nms_at_0_7():
    cfg = FasterRCNNConfig(pre_nms_top_n_test=500, post_nms_top_n_test=50, min_size=2.0)
    layer = ProposalLayer(cfg).eval()
    g = torch.Generator().manual_seed(0)
    anchors = rand_boxes(800, 200.0, g)
    scores, offsets = torch.rand(800, generator=g), torch.randn(800, 4, generator=g) * 0.1
    boxes, s = layer(anchors, scores, offsets, (200, 200))
    # the same pipeline spelled with torchvision.ops
    ref = torchvision.ops.clip_boxes_to_image(BoxCoder((1.0, 1.0, 1.0, 1.0)).decode_single(offsets, anchors), (200, 200))
    keep = torchvision.ops.remove_small_boxes(ref, 2.0)
    ref, rs = ref[keep], scores[keep]
    top = rs.topk(min(500, len(rs))).indices
    ref, rs = ref[top], rs[top]
    keep = torchvision.ops.nms(ref, rs, 0.7)[:50]
    assert len(boxes) == len(keep) <= 50
    assert torch.allclose(boxes, ref[keep], atol=1e-3) and torch.equal(s, rs[keep])


# ------------------------------------------------------------------------------------------------ RoI pooling
def test_roi_pool_equals_torchvision_forward_and_backward():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 4, 12, 15, generator=g, requires_grad=True)
    boxes = rand_boxes(10, 240.0, g)
    rois = torch.cat([torch.tensor([[0.0]] * 5 + [[1.0]] * 5), boxes], 1)
    ours = roi_pool(feats, rois, 7, 1 / 16)
    ref = torchvision.ops.roi_pool(feats, rois, 7, 1 / 16)
    assert torch.allclose(ours, ref)
    w = torch.randn(ours.shape, generator=g)
    (g1,) = torch.autograd.grad((ours * w).sum(), feats)
    (g2,) = torch.autograd.grad((ref * w).sum(), feats)
    assert torch.allclose(g1, g2)


# ------------------------------------------------------------------------------------------------ VGG-16 model
def vgg16_conv_params():
    """VGG-16 configuration D up to conv5_3, typed from Simonyan & Zisserman's Table 1."""
    chans = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    return sum(9 * a * b + b for a, b in zip(chans[:-1], chans[1:]))


def test_vgg16_parameter_count_from_the_layer_table():
    """13 conv layers (14,714,688), fc6 25088->4096, fc7 4096->4096, the RPN (3x3 512->512, 1x1 to 18 and 36),
    and the VOC detector outputs (21 classes, 84 box outputs)."""
    k, C = 9, 20
    expected = (vgg16_conv_params()
                + 512 * 7 * 7 * 4096 + 4096 + 4096 * 4096 + 4096                       # fc6, fc7
                + 9 * 512 * 512 + 512 + 512 * 2 * k + 2 * k + 512 * 4 * k + 4 * k       # RPN
                + 4096 * (C + 1) + (C + 1) + 4096 * 4 * (C + 1) + 4 * (C + 1))          # cls, bbox
    assert vgg16_conv_params() == 14_714_688
    assert expected == 137_078_239
    assert count_params(lambda: VARIANTS["faster-rcnn-vgg16"]()) == expected


def test_vgg16_weights_import_from_torchvision():
    torch.manual_seed(0)
    tv = torchvision.models.vgg16()
    model = interop.load_vgg16(VARIANTS["faster-rcnn-vgg16"](), tv.state_dict()).eval()
    x = torch.randn(1, 3, 64, 48)
    assert torch.allclose(model.backbone(x), tv.features[:30](x), atol=1e-5)   # conv5_3 + ReLU, stride 16
    assert model.backbone(x).shape == (1, 512, 4, 3)
    assert torch.equal(model.head.fc6.weight, tv.classifier[0].weight)
    assert torch.equal(model.head.fc7.bias, tv.classifier[3].bias)
    with pytest.raises(KeyError, match="not a torchvision VGG-16"):
        interop.load_vgg16(model, {"x": torch.zeros(1)})


# ------------------------------------------------------------------------------------------------ the detector
def test_cpu_model_detects_and_its_head_uses_dropout_in_train_mode():
    torch.manual_seed(0)
    model = VARIANTS["faster-rcnn-cpu"](num_classes=3)
    images = torch.randn(2, 3, 128, 160)
    model.eval()
    dets = model(images)
    assert len(dets) == 2
    for d in dets:
        assert d.boxes.shape[1] == 4 and len(d.boxes) == len(d.scores) == len(d.labels) <= 100
        assert ((d.labels >= 1) & (d.labels <= 3)).all()
        assert (d.boxes[:, 0] >= 0).all() and (d.boxes[:, 2] <= 160).all()
        assert len(d.proposals) <= model.cfg.post_nms_top_n_test
    pooled = torch.randn(4, 128, 7, 7)
    model.head.train()
    assert not torch.allclose(model.head(pooled)[0], model.head(pooled)[0])    # dropout after fc6 and fc7
    model.head.eval()
    assert torch.equal(model.head(pooled)[0], model.head(pooled)[0])
    assert model.head.drop.p == 0.5


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="backbone"):
        FasterRCNN(FasterRCNNConfig(backbone="resnet"))


def test_roi_pool_equals_torchvision_with_ties_edges_and_chunks():
    """ReLU features (many equal zeros), RoIs outside the map, on half-cell corners, empty bins, small chunks."""
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(3, 5, 9, 13, generator=g).relu().requires_grad_()
    n = 40
    xy = torch.rand(n, 2, generator=g) * 260 - 40
    rois = torch.cat([torch.randint(0, 3, (n, 1), generator=g).float(), xy, xy + torch.rand(n, 2, generator=g) * 200], 1)
    rois[:3, 1:] = torch.tensor([8.0, 8.0, 24.0, 40.0])             # corners at x.5 cells: C's round, not banker's
    rois[3, 1:] = torch.tensor([400.0, 400.0, 500.0, 500.0])        # entirely outside: every bin empty
    ours = roi_pool(feats, rois, 7, 1 / 16, chunk_elements=5000)
    ref = torchvision.ops.roi_pool(feats, rois, 7, 1 / 16)
    assert torch.equal(ours, ref)
    w = torch.randn(ours.shape, generator=g)
    (g1,) = torch.autograd.grad((ours * w).sum(), feats)
    (g2,) = torch.autograd.grad((ref * w).sum(), feats)
    assert torch.allclose(g1, g2, atol=1e-6)                         # the gradient goes to the same argmax cell
