"""§2.2 augmentation (boxes follow the pixels), HSV against matplotlib, the generated set, loading by path."""
import numpy as np
import pytest
import torch
from matplotlib.colors import hsv_to_rgb as mpl_hsv_to_rgb, rgb_to_hsv as mpl_rgb_to_hsv
from PIL import Image

from papers.yolo.data import augment, generate_shapes, hsv_to_rgb, load_splits, rgb_to_hsv, shapes_coco


def test_hsv_matches_matplotlib():
    x = torch.rand(2, 3, 5, 7)
    hsv = rgb_to_hsv(x)
    ref = mpl_rgb_to_hsv(x.permute(0, 2, 3, 1).numpy())
    np.testing.assert_allclose(hsv.permute(0, 2, 3, 1).numpy(), ref, atol=1e-5)
    back = hsv_to_rgb(hsv)
    torch.testing.assert_close(back, x, atol=1e-5, rtol=0)
    np.testing.assert_allclose(back.permute(0, 2, 3, 1).numpy(), mpl_hsv_to_rgb(ref), atol=1e-5)


def _box_of_red(img):
    red = (img[0] > 0.8) & (img[1] < 0.2) & (img[2] < 0.2)
    ys, xs = torch.nonzero(red, as_tuple=True)
    H, W = img.shape[1:]
    return torch.tensor([xs.min() / W, ys.min() / H, (xs.max() + 1) / W, (ys.max() + 1) / H])


@pytest.mark.parametrize("scale,tx,ty", [(1.2, 0.1, -0.05), (0.8, -0.2, 0.2), (1.0, 0.0, 0.0)])
def test_scale_translate_moves_boxes_with_pixels(scale, tx, ty):
    img = torch.full((1, 3, 100, 100), 0.5)
    img[:, :, 30:60, 20:50] = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)   # a red box (x 20..50, y 30..60)
    box = [torch.tensor([[0.2, 0.3, 0.5, 0.6]])]
    p = {"scale": torch.tensor([scale]), "tx": torch.tensor([tx]), "ty": torch.tensor([ty]),
         "exp": torch.tensor([1.0]), "sat": torch.tensor([1.0])}
    out, boxes, labels = augment(img, box, [torch.tensor([0])], params=p)
    torch.testing.assert_close(boxes[0][0], _box_of_red(out[0]), atol=0.021, rtol=0)   # within 2 pixels
    assert labels[0].tolist() == [0]


def test_boxes_leaving_the_image_are_clipped_or_dropped():
    img = torch.rand(1, 3, 50, 50)
    box = [torch.tensor([[0.0, 0.0, 0.1, 0.1], [0.4, 0.4, 0.6, 0.6]])]
    p = {"scale": torch.tensor([1.0]), "tx": torch.tensor([-0.2]), "ty": torch.tensor([0.0]),
         "exp": torch.tensor([1.0]), "sat": torch.tensor([1.0])}
    _, boxes, labels = augment(img, box, [torch.tensor([3, 4])], params=p)
    assert labels[0].tolist() == [4]                                     # the first box left the image
    torch.testing.assert_close(boxes[0], torch.tensor([[0.2, 0.4, 0.4, 0.6]]))


def test_exposure_and_saturation_in_hsv():
    img = torch.tensor([0.6, 0.3, 0.15]).view(1, 3, 1, 1).expand(1, 3, 4, 4).clone()
    p = {"scale": torch.tensor([1.0]), "tx": torch.tensor([0.0]), "ty": torch.tensor([0.0]),
         "exp": torch.tensor([1.5]), "sat": torch.tensor([1 / 1.5])}
    out, _, _ = augment(img, [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)], params=p)
    h0, s0, v0 = rgb_to_hsv(img)[0, :, 0, 0]
    h1, s1, v1 = rgb_to_hsv(out)[0, :, 0, 0]
    assert h1.item() == pytest.approx(h0.item(), abs=1e-4)               # hue untouched
    assert s1.item() == pytest.approx(s0.item() / 1.5, rel=1e-3)
    assert v1.item() == pytest.approx(min(1.0, v0.item() * 1.5), rel=1e-3)
    # random draws stay within the paper's ranges
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 8, 8)
    from papers.yolo.data import _rand_scale
    f = _rand_scale(1000, 1.5, g)
    assert f.min() >= 1 / 1.5 - 1e-6 and f.max() <= 1.5 + 1e-6 and (f < 1).any() and (f > 1).any()
    out, _, _ = augment(x, [torch.zeros(0, 4)] * 64, [torch.zeros(0, dtype=torch.long)] * 64, generator=g)
    assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1


def test_generated_shapes_are_tight_and_coco():
    s = generate_shapes(6, 64, seed=3)
    assert s.images.shape == (6, 3, 64, 64) and s.images.dtype == torch.uint8 and s.classes == ["circle", "square",
                                                                                                    "triangle"]
    for b in s.boxes:
        assert len(b) >= 1 and (b[:, 2] > b[:, 0]).all() and (b >= 0).all() and (b <= 1).all()
    coco = shapes_coco(s)
    assert len(coco["images"]) == 6 and len(coco["annotations"]) == sum(len(b) for b in s.boxes)
    x, y, w, h = coco["annotations"][0]["bbox"]
    torch.testing.assert_close(torch.tensor([x, y, x + w, y + h]) / 64, s.boxes[0][0])


def test_any_detection_set_by_path(tmp_path):
    # a tiny VOC folder: 5 images, read through shared/data/detection.py, split 80/20
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "JPEGImages").mkdir()
    for i in range(5):
        Image.new("RGB", (80, 40)).save(tmp_path / "JPEGImages" / f"{i}.jpg")
        (tmp_path / "Annotations" / f"{i}.xml").write_text(
            f"<annotation><filename>{i}.jpg</filename><size><width>80</width><height>40</height></size>"
            "<object><name>cat</name><bndbox><xmin>8</xmin><ymin>4</ymin><xmax>40</xmax><ymax>20</ymax></bndbox>"
            "</object></annotation>")
    tr, te, src = load_splits(str(tmp_path), 32, test_fraction=0.2, seed=0)
    assert (len(tr), len(te)) == (4, 1) and tr.images.shape[1:] == (3, 32, 32) and tr.classes == ["cat"]
    torch.testing.assert_close(tr.boxes[0], torch.tensor([[0.1, 0.1, 0.5, 0.5]]))
    assert te.ground_truth()[0]["boxes"] == [[8.0, 4.0, 40.0, 20.0]]      # back in original pixels


def test_holdout_is_carved_from_the_training_split_only():
    from papers.yolo.data import holdout
    tr = generate_shapes(10, 16, seed=0)
    rest, val = holdout(tr, 3, seed=5)
    assert (len(rest), len(val)) == (7, 3)
    assert sorted(rest.names + val.names) == sorted(tr.names) and not set(rest.names) & set(val.names)
    again_rest, again_val = holdout(tr, 3, seed=5)
    assert again_val.names == val.names                                   # seeded
    i = tr.names.index(val.names[0])
    assert torch.equal(val.images[0], tr.images[i]) and torch.equal(val.boxes[0], tr.boxes[i])
    with pytest.raises(ValueError):
        holdout(tr, 10)
