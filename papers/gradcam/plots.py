"""Figures: Grad-CAM / Guided Grad-CAM overlays (as Fig. 1), networks side by side, the sanity-check curves."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches as patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def _np(t):
    return t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)


def to_rgb(img) -> np.ndarray:
    """[C, H, W] or [H, W] or [H, W, 3] -> [H, W, 3] in [0, 1]."""
    a = _np(img).astype(np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = np.transpose(a, (1, 2, 0))
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, -1)
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def deprocess(g) -> np.ndarray:
    """Guided backprop / Guided Grad-CAM gradients for display: standardised around grey."""
    a = _np(g).astype(np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = np.transpose(a, (1, 2, 0))
    a = (a - a.mean()) / (a.std() + 1e-7) * 0.15 + 0.5
    a = np.clip(a, 0, 1)
    return np.repeat(a, 3, -1) if a.shape[-1] == 1 else a


def overlay(ax, img, heat, alpha: float = 0.5, title: str | None = None) -> None:
    ax.imshow(to_rgb(img))
    ax.imshow(_np(heat), cmap="jet", alpha=alpha, vmin=0, vmax=1)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=8)


def draw_box(ax, box, color="lime", lw=1.2) -> None:
    x0, y0, x1, y1 = (float(v) for v in _np(box))
    ax.add_patch(patches.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color=color, lw=lw))


def explanation_panel(rgb, r: dict, out: str | Path, title: str = "") -> Path:
    """One image: the image, Grad-CAM, counterfactual Grad-CAM, Guided Backprop, Guided Grad-CAM."""
    fig, ax = plt.subplots(1, 5, figsize=(12.5, 2.9))
    ax[0].imshow(to_rgb(rgb)), ax[0].axis("off"), ax[0].set_title("image", fontsize=8)
    overlay(ax[1], rgb, r["gradcam"], title="Grad-CAM (Eq. 2)")
    overlay(ax[2], rgb, r["counterfactual"], title="counterfactual (§5.2)")
    ax[3].imshow(deprocess(r["guided_backprop"])), ax[3].axis("off"), ax[3].set_title("Guided Backprop", fontsize=8)
    ax[4].imshow(deprocess(r["guided_gradcam"])), ax[4].axis("off"), ax[4].set_title("Guided Grad-CAM", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def overlay_grid(path, rows: list[dict]) -> None:
    """One row per test image: image with its box, Grad-CAM with the §4.1 box, Guided Backprop,
    Guided Grad-CAM, CAM (GAP network), and a two-digit canvas with Grad-CAM and the counterfactual."""
    cols = ["image + box", "Grad-CAM + §4.1 box", "Guided Backprop", "Guided Grad-CAM", "CAM (GAP net)",
            "two digits: Grad-CAM(A)", "counterfactual(A)"]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(1.6 * len(cols), 1.7 * len(rows)), squeeze=False)
    for i, r in enumerate(rows):
        ax = axes[i]
        ax[0].imshow(to_rgb(r["x"])), ax[0].axis("off")
        draw_box(ax[0], r["box"])
        ax[0].set_title(f"class {r['y']}", fontsize=7)
        overlay(ax[1], r["x"], r["gradcam"])
        draw_box(ax[1], r["box"]), draw_box(ax[1], r["pred_box"], color="white")
        ax[2].imshow(deprocess(r["gb"])), ax[2].axis("off")
        ax[3].imshow(deprocess(r["ggc"])), ax[3].axis("off")
        overlay(ax[4], r["x"], r["cam"])
        overlay(ax[5], r["px"], r["p_gradcam"])
        draw_box(ax[5], r["pbox_a"]), draw_box(ax[5], r["pbox_b"], color="magenta")
        ax[5].set_title(f"A = {r['pa']}, B = {r['pb']}", fontsize=7)
        overlay(ax[6], r["px"], r["p_cf"])
        draw_box(ax[6], r["pbox_a"]), draw_box(ax[6], r["pbox_b"], color="magenta")
    for j, c in enumerate(cols):
        axes[0][j].set_title(c if j not in (0, 5) else f"{c}\n{axes[0][j].get_title()}", fontsize=7)
    fig.suptitle("Grad-CAM on the FC network's last conv layer (green: true box, white: Grad-CAM's box; "
                 "magenta: object B)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def models_figure(path, images, boxes, maps: dict[str, torch.Tensor], titles: dict[str, str]) -> None:
    """The same test images explained by several networks (rows: images; columns: networks)."""
    n, names = len(images), list(maps)
    fig, axes = plt.subplots(n, 1 + len(names), figsize=(1.8 * (1 + len(names)), 1.8 * n), squeeze=False)
    for i in range(n):
        axes[i][0].imshow(to_rgb(images[i])), axes[i][0].axis("off")
        draw_box(axes[i][0], boxes[i])
        for j, k in enumerate(names):
            overlay(axes[i][j + 1], images[i], maps[k][i])
            draw_box(axes[i][j + 1], boxes[i])
    axes[0][0].set_title("image", fontsize=8)
    for j, k in enumerate(names):
        axes[0][j + 1].set_title(titles[k], fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sanity_figure(path, steps: list[str], curves: dict[str, np.ndarray]) -> None:
    """Adebayo et al. (2018) cascading randomisation: Spearman rank correlation of each method's map
    with the trained network's, as layers are re-initialised from the top (curves [seeds, steps])."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    x = np.arange(len(steps))
    for name, c in curves.items():
        c = np.asarray(c)
        ax.errorbar(x, c.mean(0), yerr=c.std(0) if len(c) > 1 else None, marker="o", capsize=3, label=name)
    ax.set_xticks(x, steps, rotation=30, fontsize=7)
    ax.set_ylabel("Spearman rank corr. with trained map")
    ax.set_xlabel("layers re-initialised (cumulative, from the top)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylim(-0.2, 1.05)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
