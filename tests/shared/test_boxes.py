"""shared/boxes.py against torchvision.ops on random inputs, plus hand cases."""
import pytest
import torch
import torchvision.ops as tvops

from shared.boxes import (batched_nms, box_area, box_convert, box_iou, box_iou_aligned, clip_boxes_to_image, nms,
                          remove_small_boxes)


def random_boxes(n, scale=100.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * scale
    wh = torch.rand(n, 2, generator=g) * scale / 3 + 1
    return torch.cat([xy, xy + wh], 1)


@pytest.mark.parametrize("fmt", ["xywh", "cxcywh"])
def test_convert_matches_torchvision_and_round_trips(fmt):
    b = random_boxes(50)
    ours = box_convert(b, "xyxy", fmt)
    torch.testing.assert_close(ours, tvops.box_convert(b, "xyxy", fmt))
    torch.testing.assert_close(box_convert(ours, fmt, "xyxy"), b)
    torch.testing.assert_close(box_convert(ours, fmt, "cxcywh" if fmt == "xywh" else "xywh"),
                               tvops.box_convert(ours, fmt, "cxcywh" if fmt == "xywh" else "xywh"))
    with pytest.raises(ValueError, match="format"):
        box_convert(b, "xyxy", "yolo")


def test_area_iou_match_torchvision():
    a, b = random_boxes(40, seed=1), random_boxes(30, seed=2)
    torch.testing.assert_close(box_area(a), tvops.box_area(a))
    torch.testing.assert_close(box_iou(a, b), tvops.box_iou(a, b))
    torch.testing.assert_close(box_iou_aligned(a[:30], b), torch.diagonal(tvops.box_iou(a[:30], b)))
    # hand case: two unit-offset squares of side 2 overlap in 2 of 6 units of union area
    assert box_iou(torch.tensor([[0., 0, 2, 2]]), torch.tensor([[1., 0, 3, 2]])).item() == pytest.approx(1 / 3)


def test_clip_and_small_match_torchvision():
    b = random_boxes(40, scale=150) - 20
    torch.testing.assert_close(clip_boxes_to_image(b, (90, 120)), tvops.clip_boxes_to_image(b, (90, 120)))
    assert torch.equal(remove_small_boxes(b, 20.0), tvops.remove_small_boxes(b, 20.0))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("thr", [0.3, 0.5, 0.7])
def test_nms_matches_torchvision(seed, thr):
    b = random_boxes(120, seed=seed)
    s = torch.rand(120, generator=torch.Generator().manual_seed(seed + 10))
    assert torch.equal(nms(b, s, thr), tvops.nms(b, s, thr))
    idx = torch.randint(0, 4, (120,), generator=torch.Generator().manual_seed(seed + 20))
    assert torch.equal(batched_nms(b, s, idx, thr), tvops.batched_nms(b, s, idx, thr))


def test_nms_hand_case_and_empty():
    boxes = torch.tensor([[0., 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]])
    scores = torch.tensor([0.8, 0.9, 0.7])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]      # box 0 overlaps box 1 with IoU 81/119 > .5
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [1, 0, 2]  # other class kept
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
