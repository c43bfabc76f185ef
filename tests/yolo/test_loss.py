"""Eq. (3) on hand-built target grids, target encoding, decoding + NMS, and the §2.2 recipe pinned."""
import math

import pytest
import torch
import torchvision.ops as tvops

from papers.yolo.loss import (PAPER_RECIPE, LossConfig, decode, encode_targets, lr_at, responsible, sgd, yolo_loss,
                              cell_boxes_to_image)

S, B, C = 3, 2, 2


def grid_with_one_object():
    """A 3x3 grid; one object of class 1 centred at (0.5, 0.5) of the image, size 0.2 x 0.4 -> cell (1, 1)."""
    boxes = [torch.tensor([[0.4, 0.3, 0.6, 0.7]])]
    return encode_targets(boxes, [torch.tensor([1])], S, C)


def perfect_prediction(t, iou_target=True):
    out = torch.zeros(1, S, S, B * 5 + C)
    x, y, w, h = t[0, 1, 1, :4].tolist()
    out[0, 1, 1, 0:5] = torch.tensor([x, y, math.sqrt(w), math.sqrt(h), 1.0])     # predictor 0: exact box, C = IoU = 1
    out[0, 1, 1, 10:] = t[0, 1, 1, 5:]
    return out


def test_encode_targets_by_hand():
    t = grid_with_one_object()
    assert t.shape == (1, 3, 3, 5 + C)
    assert t[..., 4].sum() == 1 and t[0, 1, 1, 4] == 1                       # the centre's cell is responsible
    torch.testing.assert_close(t[0, 1, 1, :4], torch.tensor([0.5, 0.5, 0.2, 0.4]))  # offsets in the cell; w, h of image
    assert t[0, 1, 1, 5:].tolist() == [0.0, 1.0]
    # two objects in one cell: the first keeps it; an object on the right edge goes to the last column
    t2 = encode_targets([torch.tensor([[0.0, 0.0, 0.2, 0.2], [0.05, 0.05, 0.15, 0.15], [0.9, 0.4, 1.0, 0.6]])],
                        [torch.tensor([0, 1, 1])], S, C)
    assert t2[0, 0, 0, 5:].tolist() == [1.0, 0.0] and t2[0, 1, 2, 4] == 1 and t2[..., 4].sum() == 2


def test_perfect_prediction_has_zero_loss():
    t = grid_with_one_object()
    loss, terms = yolo_loss(perfect_prediction(t), t, B)
    assert loss.item() == pytest.approx(0.0, abs=1e-10)
    assert all(v == pytest.approx(0.0, abs=1e-10) for v in terms.values())


def test_no_object_cell_contributes_only_lambda_noobj_c2():
    t = grid_with_one_object()
    out = perfect_prediction(t)
    base, _ = yolo_loss(out, t, B)
    out2 = out.clone()
    out2[0, 0, 2] = torch.randn(B * 5 + C)                # anything in an empty cell: boxes and classes ignored
    loss, terms = yolo_loss(out2, t, B)
    c2 = out2[0, 0, 2, 4] ** 2 + out2[0, 0, 2, 9] ** 2
    assert (loss - base).item() == pytest.approx(0.5 * c2.item(), rel=1e-5)
    assert terms["conf_noobj"] == pytest.approx(0.5 * c2.item(), rel=1e-5)
    assert terms["coord_xy"] == terms["coord_wh"] == terms["class"] == pytest.approx(0.0, abs=1e-10)
    loss1, _ = yolo_loss(out2, t, B, LossConfig(lambda_noobj=1.0))
    assert loss1.item() == pytest.approx(c2.item(), rel=1e-5)


def test_responsible_predictor_is_argmax_iou():
    t = grid_with_one_object()
    out = perfect_prediction(t)
    # predictor 0 far off (IoU 0), predictor 1 close (IoU > 0): predictor 1 is responsible
    out[0, 1, 1, 0:4] = torch.tensor([0.5, 0.5, 0.05, 0.05])
    out[0, 1, 1, 5:9] = torch.tensor([0.55, 0.5, math.sqrt(0.2), math.sqrt(0.4)])
    xywh = out[..., :10].reshape(1, S, S, B, 5)[..., :4]
    mask, iou = responsible(cell_boxes_to_image(xywh, S, True), t)
    assert mask[0, 1, 1].tolist() == [False, True] and mask.sum() == 1
    assert iou[0, 1, 1, 1] > iou[0, 1, 1, 0]
    # independent IoU: torchvision on the same boxes in image units
    gt = torch.tensor([[0.4, 0.3, 0.6, 0.7]])
    p1 = torch.tensor([[0.5 + (0.55 - 0.5) / 3 - 0.1, 0.3, 0.5 + 0.05 / 3 + 0.1, 0.7]])
    assert iou[0, 1, 1, 1].item() == pytest.approx(tvops.box_iou(p1, gt).item(), rel=1e-5)
    # the non-responsible predictor 0 is pushed to C = 0 with weight λ_noobj; predictor 1 towards its IoU
    out[0, 1, 1, 4], out[0, 1, 1, 9] = 0.7, 0.3
    _, terms = yolo_loss(out, t, B)
    assert terms["conf_noobj"] == pytest.approx(0.5 * 0.7 ** 2, rel=1e-5)
    assert terms["conf_obj"] == pytest.approx((0.3 - iou[0, 1, 1, 1].item()) ** 2, rel=1e-5)


def test_each_terms_gradient():
    t = grid_with_one_object()
    out = perfect_prediction(t)
    out[0, 1, 1, 0:4] += torch.tensor([0.1, -0.2, 0.05, -0.05])     # responsible predictor 0, slightly off
    out[0, 1, 1, 10:] = torch.tensor([0.3, 0.6])                     # class probs
    out[0, 2, 0, 4] = 0.4                                            # an empty cell's confidence
    out.requires_grad_(True)
    loss, _ = yolo_loss(out, t, B)
    loss.backward()
    g = out.grad[0]
    x, y, w, h = t[0, 1, 1, :4].tolist()
    # d/dx of 5 (x - x̂)^2 = 10 (x - x̂); same for √w
    torch.testing.assert_close(g[1, 1, 0:2], 10 * (out[0, 1, 1, 0:2] - torch.tensor([x, y])).detach())
    torch.testing.assert_close(g[1, 1, 2:4], 10 * (out[0, 1, 1, 2:4] - torch.tensor([w, h]).sqrt()).detach())
    # confidence of the responsible box: 2 (C - IoU), the IoU treated as a constant
    xywh = out.detach()[..., :10].reshape(1, S, S, B, 5)[..., :4]
    _, iou = responsible(cell_boxes_to_image(xywh, S, True), t)
    assert g[1, 1, 4].item() == pytest.approx(2 * (1.0 - iou[0, 1, 1, 0].item()), rel=1e-5)
    # no-object confidence: 2 λ_noobj C
    assert g[2, 0, 4].item() == pytest.approx(2 * 0.5 * 0.4)
    # class: 2 (p - p̂) only in the object's cell; nothing for an empty cell's classes and boxes
    torch.testing.assert_close(g[1, 1, 10:], torch.tensor([2 * 0.3, 2 * (0.6 - 1.0)]))
    assert g[2, 0, 10:].abs().sum() == 0 and g[2, 0, :4].abs().sum() == 0
    # loss is a mean over images: a batch of two copies has the same value and half the per-image gradient
    two = out.detach().repeat(2, 1, 1, 1).requires_grad_(True)
    l2, _ = yolo_loss(two, t.repeat(2, 1, 1, 1), B)
    l2.backward()
    assert l2.item() == pytest.approx(loss.item(), rel=1e-6)
    torch.testing.assert_close(two.grad[0], g / 2)


def test_raw_wh_ablation_regresses_w_h():
    t = grid_with_one_object()
    out = perfect_prediction(t)
    out[0, 1, 1, 2:4] = t[0, 1, 1, 2:4]                              # w, h themselves
    loss, terms = yolo_loss(out, t, B, LossConfig(sqrt_wh=False))
    assert terms["coord_wh"] == pytest.approx(0.0, abs=1e-10)
    assert yolo_loss(out, t, B)[1]["coord_wh"] > 0


def test_decode_scores_and_nms_match_torchvision():
    torch.manual_seed(0)
    out = torch.rand(2, 7, 7, 30)
    dets = decode(out, 2, score_threshold=0.2, iou_threshold=0.5, max_detections=100_000)
    # independent path: class-specific scores p(c) * C (Eq. 2), torchvision's batched_nms
    xywh = out[..., :10].reshape(2, 7, 7, 2, 5)
    boxes = cell_boxes_to_image(xywh[..., :4], 7, True).clamp(0, 1).reshape(2, -1, 4)
    scores = (xywh[..., 4:5] * out[..., 10:].unsqueeze(3)).reshape(2, -1, 20)
    for n in range(2):
        bi, ci = (scores[n] > 0.2).nonzero(as_tuple=True)
        b, s = boxes[n][bi], scores[n][bi, ci]
        ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])       # boxes that clipping made empty are dropped
        b, s, ci = b[ok], s[ok], ci[ok]
        keep = tvops.batched_nms(b, s, ci, 0.5)
        torch.testing.assert_close(dets[n]["scores"], s[keep])
        torch.testing.assert_close(dets[n]["boxes"], b[keep])
        assert torch.equal(dets[n]["labels"], ci[keep])


def test_paper_recipe_pinned():
    r = PAPER_RECIPE                                  # §2.2 / PAPER_FACTS §4
    assert (r.epochs, r.batch_size, r.momentum, r.weight_decay) == (135, 64, 0.9, 5e-4)
    assert (r.lr_start, r.lr) == (1e-3, 1e-2)
    assert lr_at(0.0) == pytest.approx(1e-3) and lr_at(1.0) == pytest.approx(1e-2)
    assert lr_at(0.5) == pytest.approx(5.5e-3)        # the ramp
    assert lr_at(74.9) == 1e-2 and lr_at(75) == 1e-3 and lr_at(104.9) == 1e-3 and lr_at(105) == 1e-4
    assert lr_at(134.9) == 1e-4                       # 75 + 30 + 30 = 135 epochs
    assert LossConfig().lambda_coord == 5.0 and LossConfig().lambda_noobj == 0.5 and LossConfig().sqrt_wh
    opt = sgd(torch.nn.Linear(2, 2))
    assert opt.defaults["momentum"] == 0.9 and opt.defaults["weight_decay"] == 5e-4
