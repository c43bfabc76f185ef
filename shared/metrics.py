"""Metrics: accuracy, BLEU (sacrebleu), COCO mAP (pycocotools) and perplexity."""
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
