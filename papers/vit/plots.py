"""Figures of the quick reproduction: accuracy against training-set size (§4.3, Fig. 3-4 analogue) and
Fig. 7's position-embedding similarity (centre) and mean attention distance (right)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def accuracy_vs_size(results: list[dict], sizes, path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for arm, color, label in (("resnet", "tab:blue", "ResNet (CNN)"), ("vit", "tab:red", "ViT")):
        means = []
        for s in sizes:
            accs = [100 * r["test_acc"] for r in results if r["arm"] == arm and r["size"] == s]
            ax.scatter([s] * len(accs), accs, color=color, s=12, alpha=0.5)
            means.append(np.mean(accs))
        ax.plot(sizes, means, color=color, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training images (CIFAR-10 subset)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Small data favours the CNN (§4.3)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def position_similarity_figure(sim: np.ndarray, path) -> None:
    """``sim`` [gh, gw, gh, gw]: tile (i, j) shows patch (i, j)'s similarity to every patch (Fig. 7 centre)."""
    gh, gw = sim.shape[:2]
    fig, axes = plt.subplots(gh, gw, figsize=(6, 6 * gh / gw), squeeze=False)
    for i in range(gh):
        for j in range(gw):
            ax = axes[i][j]
            im = ax.imshow(sim[i, j], vmin=-1, vmax=1, cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Position embedding similarity (Fig. 7 centre)")
    fig.colorbar(im, ax=axes, shrink=0.6, label="cosine similarity")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def attention_distance_figure(mad: np.ndarray, image_px: int, path) -> None:
    """``mad`` [L, k]: every head's mean attention distance (pixels) against depth (Fig. 7 right)."""
    L, k = mad.shape
    fig, ax = plt.subplots(figsize=(5, 4))
    for h in range(k):
        ax.scatter(np.arange(1, L + 1), mad[:, h], s=18, label=f"head {h + 1}")
    ax.set_xlabel("network depth (layer)")
    ax.set_ylabel("mean attention distance (pixels)")
    ax.set_ylim(0, image_px)
    ax.set_xticks(range(1, L + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Mean attention distance (Fig. 7 right)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
