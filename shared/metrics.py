"""Metrics: accuracy, BLEU (sacrebleu), COCO mAP (pycocotools), PASCAL VOC AP (11-point and area) and perplexity."""
from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import torch


def accuracy(logits_or_preds: torch.Tensor, targets: torch.Tensor, topk: int = 1) -> float:
    """Fraction of rows whose target is among the top-k scores (or equals the predicted label)."""
    if logits_or_preds.dim() == targets.dim():  # already labels
        return (logits_or_preds == targets).float().mean().item()
    top = logits_or_preds.topk(topk, dim=-1).indices
    return (top == targets.unsqueeze(-1)).any(-1).float().mean().item()


def perplexity(mean_nll: float) -> float:
    """exp of the mean negative log-likelihood per token (nats)."""
    return math.exp(mean_nll)


def bleu(hypotheses: list[str], references: list[str] | list[list[str]], tokenize: str = "13a"
         ) -> tuple[float, str]:
    """Corpus BLEU of detokenised text with sacrebleu; returns (score, signature).

    The signature (e.g. ``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``) goes into
    the report, so that the number can be compared with others computed the same way.
    """
    import sacrebleu

    refs = [references] if references and isinstance(references[0], str) else list(references)
    if any(len(r) != len(hypotheses) for r in refs):
        raise ValueError(f"{len(hypotheses)} hypotheses but reference streams of {[len(r) for r in refs]}")
    metric = sacrebleu.BLEU(tokenize=tokenize)
    score = metric.corpus_score(hypotheses, refs)
    return float(score.score), str(metric.get_signature())


def coco_map(ground_truth: list[dict], detections: list[dict], categories: list[int] | None = None,
             iou_type: str = "bbox") -> dict[str, float]:
    """COCO mAP from in-memory boxes via pycocotools.

    ``ground_truth``: one dict per image ``{"image_id", "boxes": [[x1, y1, x2, y2], ...], "labels": [...]}``
    (optionally ``"width"``, ``"height"``, ``"iscrowd"``); ``detections`` the same with ``"scores"``.
    Returns ``{"mAP": AP@[.5:.95], "AP50": AP@.5, "AP75": AP@.75}`` in [0, 1].
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cats = sorted(set(categories or []) | {int(c) for g in ground_truth for c in g["labels"]})
    images, anns = [], []
    for g in ground_truth:
        images.append({"id": int(g["image_id"]), "width": g.get("width", 0), "height": g.get("height", 0)})
        crowd = g.get("iscrowd", [0] * len(g["labels"]))
        for box, lab, c in zip(g["boxes"], g["labels"], crowd):
            x1, y1, x2, y2 = map(float, box)
            anns.append({"id": len(anns) + 1, "image_id": int(g["image_id"]), "category_id": int(lab),
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": int(c)})
    dets = []
    for d in detections:
        for box, lab, s in zip(d["boxes"], d["labels"], d["scores"]):
            x1, y1, x2, y2 = map(float, box)
            dets.append({"image_id": int(d["image_id"]), "category_id": int(lab),
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(s)})
    if not anns:
        raise ValueError("coco_map needs at least one ground-truth box")
    if not dets:
        return {"mAP": 0.0, "AP50": 0.0, "AP75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in cats]}
        gt.createIndex()
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = np.maximum(ev.stats, 0.0)  # pycocotools writes -1 where a category has no ground truth
    return {"mAP": float(s[0]), "AP50": float(s[1]), "AP75": float(s[2])}


ERROR_TYPES = ("correct", "localization", "similar", "other", "background")


def detection_error_breakdown(ground_truth: list[dict], detections: list[dict], similar=None,
                              correct_iou: float = 0.5, background_iou: float = 0.1) -> dict:
    """The error analysis of Hoiem et al. (ECCV 2012) as used by YOLO's Fig. 4.

    For each category with N ground-truth objects, the top N detections of that category (by score,
    over all images) are sorted into: **correct** (right class, IoU > ``correct_iou``), **localization**
    (right class, ``background_iou`` < IoU < ``correct_iou``, or a duplicate of an object already found),
    **similar** (a similar class, IoU > ``background_iou``), **other** (a wrong class, IoU >
    ``background_iou``) and **background** (IoU < ``background_iou`` with every object).

    ``ground_truth`` / ``detections`` as for :func:`coco_map`; ``similar(a, b) -> bool`` says whether two
    labels are similar (default: never). Returns ``{"mean": {type: %}, "per_class": {label: {type: %}},
    "counts": {type: n}}``; "mean" averages the per-category percentages over categories (Fig. 4
    "averaged across all classes") that have detections; "counts" pools the detections of every category.
    """
    similar = similar or (lambda a, b: False)
    gt = {int(g["image_id"]): (torch.as_tensor(g["boxes"], dtype=torch.float32).reshape(-1, 4),
                               torch.as_tensor(g["labels"], dtype=torch.long).reshape(-1)) for g in ground_truth}
    from .boxes import box_iou

    n_gt: dict[int, int] = {}
    for _, labels in gt.values():
        for c in labels.tolist():
            n_gt[c] = n_gt.get(c, 0) + 1
    dets = [(float(s), int(d["image_id"]), torch.as_tensor(b, dtype=torch.float32), int(c))
            for d in detections for b, c, s in zip(d["boxes"], d["labels"], d["scores"])]
    per_class, counts = {}, {t: 0 for t in ERROR_TYPES}
    for c, n in sorted(n_gt.items()):
        top = sorted((d for d in dets if d[3] == c), key=lambda d: -d[0])[:n]
        found: set[tuple[int, int]] = set()
        tally = {t: 0 for t in ERROR_TYPES}
        for _, img, box, _ in top:
            boxes, labels = gt.get(img, (torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)))
            iou = box_iou(box[None], boxes)[0] if len(boxes) else torch.zeros(0)
            same = labels == c
            if same.any():
                j = int(torch.where(same, iou, torch.full_like(iou, -1.0)).argmax())
                best = float(iou[j])
            else:
                j, best = -1, 0.0
            if best > correct_iou and (img, j) not in found:
                found.add((img, j))
                kind = "correct"
            elif best > background_iou:
                kind = "localization"          # includes duplicates of a found object
            else:
                sim = [float(iou[k]) for k in range(len(labels)) if labels[k] != c and similar(c, int(labels[k]))]
                oth = [float(iou[k]) for k in range(len(labels)) if labels[k] != c and not similar(c, int(labels[k]))]
                kind = ("similar" if max(sim, default=0.0) > background_iou else
                        "other" if max(oth, default=0.0) > background_iou else "background")
            tally[kind] += 1
        for t in ERROR_TYPES:
            counts[t] += tally[t]
        if top:  # the pie of a category is over the detections it has (at most N)
            per_class[c] = {t: 100.0 * tally[t] / len(top) for t in ERROR_TYPES}
    mean = {t: sum(p[t] for p in per_class.values()) / max(len(per_class), 1) for t in ERROR_TYPES}
    return {"mean": mean, "per_class": per_class, "counts": counts}


def voc_ap(recall, precision, use_07_metric: bool = True) -> float:
    """Average precision of one precision/recall curve, as the PASCAL VOC devkit computes it.

    ``use_07_metric`` (VOC2007, the metric of YOLO's and Faster R-CNN's VOC 2007 tables): the 11-point
    interpolated AP, the mean over r in {0, 0.1, ..., 1} of the maximum precision at recall >= r (0 when
    no point reaches r). Otherwise (VOC2010 and later): the area under the monotone (interpolated)
    precision envelope, summed where recall changes.
    """
    rec = np.asarray(recall, dtype=np.float64)
    prec = np.asarray(precision, dtype=np.float64)
    if use_07_metric:
        ap = 0.0
        for t in (k / 10 for k in range(11)):   # 0, 0.1, ..., 1.0; the tolerance keeps recall 3/10 >= 0.3
            ok = rec >= t - 1e-12
            ap += (prec[ok].max() if ok.any() else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(((mrec[i + 1] - mrec[i]) * mpre[i + 1]).sum())


def voc_map(ground_truth: list[dict], detections: list[dict], categories: list[int] | None = None,
            iou_threshold: float = 0.5, use_07_metric: bool = True) -> dict:
    """PASCAL VOC mean average precision (the devkit's ``VOCevaldet`` / py-faster-rcnn's ``voc_eval``).

    Per category: detections of every image sorted by score (descending); each is a true positive when
    its IoU with the best-overlapping unmatched ground-truth box of that class in its image exceeds
    ``iou_threshold`` (strictly, as the devkit's ``ov > 0.5``), a false positive otherwise (a second
    detection of a matched object included); ground truth marked ``"difficult"`` is neither counted nor
    penalised. Boxes are continuous xyxy (no +1 pixel convention). ``ground_truth``/``detections`` as for
    :func:`coco_map`. Returns ``{"mAP": mean over categories with ground truth, "AP": {category: AP}}``
    in [0, 1]; 11-point interpolation when ``use_07_metric`` (VOC2007), else the area under the curve.
    """
    from .boxes import box_iou

    gt: dict[int, dict[int, tuple[torch.Tensor, np.ndarray]]] = {}
    for g in ground_truth:
        boxes = torch.as_tensor(g["boxes"], dtype=torch.float64).reshape(-1, 4)
        labels = np.asarray(g["labels"], dtype=np.int64).reshape(-1)
        difficult = np.asarray(g.get("difficult", [0] * len(labels)), dtype=bool).reshape(-1)
        for c in np.unique(labels):
            m = labels == c
            gt.setdefault(int(c), {})[int(g["image_id"])] = (boxes[torch.from_numpy(m)], difficult[m])
    cats = sorted(set(categories or []) | set(gt))
    aps = {}
    for c in cats:
        per_image = gt.get(c, {})
        npos = sum(int((~d).sum()) for _, d in per_image.values())
        if npos == 0:
            continue                                       # the devkit skips a class without ground truth
        dets = [(float(s), int(d["image_id"]), b) for d in detections
                for b, lab, s in zip(d["boxes"], d["labels"], d["scores"]) if int(lab) == c]
        dets.sort(key=lambda t: -t[0])                     # stable: ties keep their input order
        used = {img: np.zeros(len(b), dtype=bool) for img, (b, _) in per_image.items()}
        tp, fp = np.zeros(len(dets)), np.zeros(len(dets))
        for k, (_, img, box) in enumerate(dets):
            if img not in per_image or len(per_image[img][0]) == 0:
                fp[k] = 1
                continue
            boxes, difficult = per_image[img]
            iou = box_iou(torch.as_tensor([box], dtype=torch.float64), boxes)[0]
            j = int(iou.argmax())
            if float(iou[j]) > iou_threshold:
                if difficult[j]:
                    continue                               # neither a true nor a false positive
                if not used[img][j]:
                    tp[k], used[img][j] = 1, True
                else:
                    fp[k] = 1                              # a duplicate detection
            else:
                fp[k] = 1
        tp, fp = np.cumsum(tp), np.cumsum(fp)
        rec = tp / npos
        prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
        aps[c] = voc_ap(rec, prec, use_07_metric)
    return {"mAP": float(np.mean(list(aps.values()))) if aps else 0.0, "AP": aps}
