"""The §4.1 localisation protocol, the pointing game and the rank correlation, on hand-computed cases."""
import pytest
import torch

from papers.gradcam import loss
from papers.gradcam.loss import (box_correct, box_from_map, centre_box, connected_components, iou,
                                 largest_component, localisation_errors, mask_box, point_in_box, pointing_hits,
                                 random_boxes, random_points, spearman)


def test_paper_constants():
    assert (loss.LOC_THRESHOLD, loss.IOU_THRESHOLD, loss.POINTING_TOLERANCE) == (0.15, 0.5, 15)


def test_iou_by_hand():
    a = torch.tensor([[0, 0, 4, 4], [0, 0, 2, 2], [0, 0, 2, 2]])
    b = torch.tensor([[2, 0, 6, 4], [0, 0, 2, 2], [5, 5, 6, 6]])
    torch.testing.assert_close(iou(a, b), torch.tensor([8 / 24, 1.0, 0.0]))
    assert box_correct(a, b).tolist() == [False, True, False]


def test_components_and_largest_segment():
    m = torch.zeros(1, 6, 7, dtype=torch.bool)
    m[0, 0, 0] = m[0, 1, 1] = True                 # diagonal neighbours: one 8-connected segment of 2
    m[0, 3:6, 3:6] = True                          # a 3x3 block: 9 pixels
    m[0, 0, 6] = True                              # a single pixel
    lab = connected_components(m)
    assert lab[0, 0, 0] == lab[0, 1, 1] != lab[0, 4, 4] and len(lab.unique()) == 4   # background + 3
    big = largest_component(m)
    assert big.sum() == 9 and big[0, 3:6, 3:6].all()
    torch.testing.assert_close(mask_box(big), torch.tensor([[3, 3, 6, 6]]))
    torch.testing.assert_close(mask_box(torch.zeros(1, 4, 5, dtype=torch.bool)), torch.tensor([[0, 0, 5, 4]]))


def test_box_from_map_thresholds_at_15_percent_of_the_max():
    h = torch.zeros(1, 10, 10)
    h[0, 1:3, 1:4] = 1.0                           # peak blob: 6 pixels
    h[0, 6:10, 5:10] = 0.2                         # weaker but larger blob above 15% of the max: 20 pixels
    h[0, 0, 9] = 0.1                               # below 15%: ignored
    torch.testing.assert_close(box_from_map(h), torch.tensor([[5, 6, 10, 10]]))    # the largest segment wins
    torch.testing.assert_close(box_from_map(h, threshold=0.5), torch.tensor([[1, 1, 4, 3]]))
    torch.testing.assert_close(box_from_map(torch.zeros(1, 3, 4)), torch.tensor([[0, 0, 4, 3]]))  # empty map


def test_localisation_errors_table1_definitions():
    logits = torch.tensor([[5.0, 1, 0, 0, 0, 0], [0, 5.0, 1, 0, 0, 0], [0, 1, 2, 3, 4, 5.0]])
    y = torch.tensor([0, 0, 0])                   # right; second; sixth (outside the top 5)
    ok = torch.tensor([True, True, True])
    e = localisation_errors(logits, y, ok)
    assert e["top1_cls"].tolist() == [0, 1, 1] and e["top5_cls"].tolist() == [0, 0, 1]
    assert e["top1_loc"].tolist() == [0, 1, 1] and e["top5_loc"].tolist() == [0, 0, 1]
    e2 = localisation_errors(logits, y, torch.tensor([False, True, True]), torch.tensor([True, False, True]))
    assert e2["top1_loc"].tolist() == [1, 1, 1] and e2["top5_loc"].tolist() == [0, 1, 1]


def test_pointing_game():
    maps = torch.zeros(2, 8, 8)
    maps[0, 2, 5] = 1.0                            # (x, y) = (5, 2)
    maps[1, 7, 0] = 1.0                            # (0, 7)
    boxes = torch.tensor([[4, 1, 7, 4], [2, 2, 5, 5]])
    assert pointing_hits(maps, boxes).tolist() == [True, False]
    # (0, 7) is 2 px left of x0 = 2 and 3 px below y1 - 1 = 4: distance sqrt(13)
    assert pointing_hits(maps, boxes, tolerance=3.61).tolist() == [True, True]
    assert pointing_hits(maps, boxes, tolerance=3.6).tolist() == [True, False]
    assert point_in_box(torch.tensor([[4, 4]]), torch.tensor([[0, 0, 5, 5]])).item()


def test_baselines():
    torch.testing.assert_close(centre_box((64, 64), (20.0, 30.0), 2), torch.tensor([[22, 17, 42, 47]] * 2))
    g = torch.Generator().manual_seed(0)
    b = random_boxes((16, 16), torch.tensor([[4, 6]] * 200), g)
    assert (b[:, 0] >= 0).all() and (b[:, 2] <= 16).all() and (b[:, 3] <= 16).all()
    assert ((b[:, 2] - b[:, 0]) == 4).all() and b[:, 0].min() == 0 and b[:, 2].max() == 16
    p = random_points((5, 7), 500, g)
    assert p[:, 0].max() == 6 and p[:, 1].max() == 4 and p.min() == 0


def test_spearman_with_ties_by_hand():
    a = torch.tensor([[1.0, 2.0, 2.0, 3.0]])       # ranks 1, 2.5, 2.5, 4
    b = torch.tensor([[1.0, 3.0, 2.0, 4.0]])       # ranks 1, 3, 2, 4
    # centred ranks: (-1.5, 0, 0, 1.5) and (-1.5, 0.5, -0.5, 1.5): r = 4.5 / sqrt(4.5 * 5)
    assert spearman(a, b).item() == pytest.approx(4.5 / (4.5 * 5) ** 0.5, abs=1e-6)
    assert spearman(b, -b).item() == pytest.approx(-1.0)
    assert spearman(torch.ones(1, 4), b).item() == 0.0                 # a constant map has no ranking
    x = torch.rand(3, 5, 5)
    torch.testing.assert_close(spearman(x, x.exp()), torch.ones(3))   # monotone transform: 1
