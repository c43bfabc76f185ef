"""shared/data/detection.py (COCO json, VOC xml, YOLO txt into one form) and the error breakdown."""
import json

import numpy as np
import pytest
from PIL import Image

from shared.data.detection import load_detection
from shared.metrics import coco_map, detection_error_breakdown


def _img(path, w=40, h=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h)).save(path)


def test_coco_voc_yolo_agree(tmp_path):
    # the same two images, three formats: a 'cat' box and a 'dog' box (xyxy in pixels)
    boxes = {"a": [(0, [4.0, 6.0, 20.0, 18.0])], "b": [(1, [10.0, 3.0, 30.0, 27.0]), (0, [0.0, 0.0, 8.0, 8.0])]}
    names = ["cat", "dog"]
    # COCO
    coco = tmp_path / "coco"
    for k in boxes:
        _img(coco / "images" / f"{k}.jpg")
    ann = {"images": [{"id": i + 1, "file_name": f"{k}.jpg", "width": 40, "height": 30} for i, k in enumerate(boxes)],
           "categories": [{"id": 7, "name": "cat"}, {"id": 9, "name": "dog"}],
           "annotations": [{"id": n, "image_id": i + 1, "category_id": [7, 9][c],
                            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "iscrowd": 0}
                           for n, (i, k) in enumerate(enumerate(boxes)) for c, b in boxes[k]]}
    (coco / "ann.json").write_text(json.dumps(ann))
    # VOC
    voc = tmp_path / "voc"
    for k, objs in boxes.items():
        _img(voc / "JPEGImages" / f"{k}.jpg")
        (voc / "Annotations").mkdir(parents=True, exist_ok=True)
        o = "".join(f"<object><name>{names[c]}</name><difficult>0</difficult><bndbox><xmin>{b[0]}</xmin>"
                    f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for c, b in objs)
        (voc / "Annotations" / f"{k}.xml").write_text(
            f"<annotation><filename>{k}.jpg</filename><size><width>40</width><height>30</height></size>{o}</annotation>")
    # YOLO
    yolo = tmp_path / "yolo"
    (yolo / "labels" / "train").mkdir(parents=True)
    (yolo / "data.yaml").write_text("path: .\nnames:\n  0: cat\n  1: dog\n")
    for k, objs in boxes.items():
        _img(yolo / "images" / "train" / f"{k}.jpg")
        (yolo / "labels" / "train" / f"{k}.txt").write_text("".join(
            f"{c} {(b[0] + b[2]) / 80} {(b[1] + b[3]) / 60} {(b[2] - b[0]) / 40} {(b[3] - b[1]) / 30}\n" for c, b in objs))
    _img(yolo / "images" / "train" / "c.jpg")                  # an image without a label file: no objects
    sets = [load_detection(coco / "ann.json"), load_detection(voc), load_detection(yolo, split="train")]
    assert [s.format for s in sets] == ["coco", "voc", "yolo"]
    for s in sets:
        assert s.classes == names
        r = {x.image.stem: x for x in s.records}
        for k, objs in boxes.items():
            order = np.argsort(r[k].labels, kind="stable")
            want = sorted(objs, key=lambda o: o[0])
            np.testing.assert_allclose(r[k].boxes[order], [b for _, b in want], atol=1e-4)
            assert r[k].labels[order].tolist() == [c for c, _ in want]
            assert (r[k].width, r[k].height) == (40, 30)
    assert len(sets[2].records) == 3 and len(sets[2].records[2].boxes) == 0
    assert [x.image.name for x in sets[1].subset(["b.jpg"]).records] == ["b.jpg"]
    with pytest.raises(FileNotFoundError, match="splits here"):
        load_detection(yolo, split="val")
    with pytest.raises(ValueError, match="not a detection set"):
        load_detection(tmp_path)


def test_error_breakdown_hand_case():
    # class 0 has 4 objects, class 1 one object (images 1 and 2)
    gt = [{"image_id": 1, "boxes": [[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], "labels": [0, 0, 0]},
          {"image_id": 2, "boxes": [[0, 0, 10, 10], [50, 50, 60, 60]], "labels": [0, 1]}]
    dets = [{"image_id": 1, "labels": [0, 0, 0, 0, 0],
             "boxes": [[0, 0, 10, 10],          # correct (IoU 1)
                       [0, 0, 10, 9],           # duplicate of the found object -> localization
                       [20, 20, 30, 24],        # IoU .4 -> localization
                       [80, 80, 90, 90],        # background
                       [40, 40, 50, 50]],       # correct but ranked 5th of N = 4 -> not counted
             "scores": [0.9, 0.8, 0.7, 0.6, 0.1]},
            {"image_id": 2, "labels": [1], "boxes": [[0, 0, 10, 10]], "scores": [0.95]}]  # on a class-0 object
    out = detection_error_breakdown(gt, dets)
    assert out["per_class"][0] == {"correct": 25.0, "localization": 50.0, "similar": 0.0, "other": 0.0,
                                   "background": 25.0}
    assert out["per_class"][1]["other"] == 100.0
    assert out["counts"] == {"correct": 1, "localization": 2, "similar": 0, "other": 1, "background": 1}
    assert out["mean"]["other"] == pytest.approx(50.0)
    sim = detection_error_breakdown(gt, dets, similar=lambda a, b: True)
    assert sim["per_class"][1]["similar"] == 100.0
    assert coco_map(gt, dets)["AP50"] < 1.0
