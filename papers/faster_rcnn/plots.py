"""Figures of the Faster R-CNN report (no counterpart in the paper beyond what each caption cites)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ERR_COLORS = {"correct": "tab:green", "localization": "tab:orange", "similar": "tab:purple", "other": "tab:blue",
              "background": "tab:red"}


def recall_vs_iou(curves: dict[str, list[float]], ious: list[float], path, title: str) -> None:
    """Fig. 4 of the paper (recall against IoU overlap for a fixed number of proposals per image)."""
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for (name, rec), ls in zip(curves.items(), ("-", "--", "-.", ":", "-", "--")):
        ax.plot(ious, rec, ls, marker="o", ms=3, label=name)
    ax.set_xlabel("IoU")
    ax.set_ylabel("recall")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(min(ious), max(ious))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def proposals_and_detections(images: list, proposals: list, detections: list, truths: list, titles: list[str],
                             path, n_props: int = 20, threshold: float = 0.3) -> None:
    """Held-out images with the top RPN proposals (thin, yellow), the detections (red, score) and the ground
    truth (green, dashed); all boxes in the drawn image's pixels. ``images``: uint8 ``[3, H, W]``."""
    n = len(images)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.3 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k].permute(1, 2, 0).numpy())
        for b in proposals[k][:n_props].tolist():
            ax.add_patch(plt.Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ec="yellow", lw=0.6,
                                       alpha=0.8))
        for b in truths[k].tolist():
            ax.add_patch(plt.Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ec="lime", lw=1.5, ls="--"))
        for rank, (b, s) in enumerate(zip(detections[k]["boxes"].tolist(), detections[k]["scores"].tolist())):
            if s < threshold and rank > 0:           # the top detection always, others above the threshold
                continue
            ax.add_patch(plt.Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ec="red", lw=1.6))
            ax.text(b[0], b[1], f"{s:.2f}", color="white", fontsize=7, va="bottom", bbox=dict(fc="red", ec="none",
                                                                                               pad=1))
        ax.set_title(titles[k], fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def detector_comparison(rows: list[dict], errors: dict[str, dict], path) -> None:
    """YOLO's Table 1 (mAP, FPS) and Fig. 4 (error breakdown) for both detectors side by side.

    ``rows``: ``{"name", "map50", "map50_err", "fps"}``; ``errors``: name -> {type: %} (paper and ours)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9), gridspec_kw={"width_ratios": [1, 1, 1.6]})
    names = [r["name"] for r in rows]
    x = range(len(rows))
    axes[0].bar(x, [r["map50"] for r in rows], yerr=[r.get("map50_err", 0) for r in rows], color="tab:blue",
                capsize=3)
    axes[0].set_xticks(list(x), names, rotation=20, fontsize=7, ha="right")
    axes[0].set_ylabel("held-out mAP@0.5 (%)")
    axes[0].set_title("Table 1 analogue: accuracy", fontsize=9)
    fps = [r.get("fps") or 0 for r in rows]
    axes[1].bar(x, fps, color="tab:gray")
    axes[1].set_yscale("log")
    axes[1].set_xticks(list(x), names, rotation=20, fontsize=7, ha="right")
    axes[1].set_ylabel("frames per second (this CPU)")
    axes[1].set_title("Table 1 analogue: speed", fontsize=9)
    ax = axes[2]
    labels = list(errors)
    left = [0.0] * len(labels)
    for t, c in ERR_COLORS.items():
        vals = [errors[n].get(t, 0.0) for n in labels]
        ax.barh(range(len(labels)), vals, left=left, color=c, label=t)
        for i, v in enumerate(vals):
            if v >= 6:
                ax.text(left[i] + v / 2, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="white")
        left = [a + b for a, b in zip(left, vals)]
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of top-N detections")
    ax.set_title("Fig. 4 analogue: error breakdown", fontsize=9)
    ax.legend(fontsize=7, ncol=5, loc="lower center", bbox_to_anchor=(0.5, -0.42))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ablations(groups: dict[str, dict[str, list[float]]], path, ylabel: str) -> None:
    """Per-seed values of each arm (dots) and their mean (bar), one panel per experiment (Table 9, §3.2)."""
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.4), squeeze=False)
    for ax, (title, arms) in zip(axes[0], groups.items()):
        for i, (name, vals) in enumerate(arms.items()):
            ax.bar(i, sum(vals) / len(vals), color="tab:blue", alpha=0.5)
            ax.plot([i] * len(vals), vals, "k.", ms=6)
        ax.set_xticks(range(len(arms)), list(arms), fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
