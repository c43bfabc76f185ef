"""The report's figures: pre-training loss curves and fine-tuning accuracy curves."""
from __future__ import annotations

from pathlib import Path


def pretrain_figure(out: Path, history: list[dict], val_full: float, anchor: float | None) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["step"] for r in history], [r["train_loss"] for r in history], "o-", label="train (estimate)")
    ax.plot([r["step"] for r in history], [r["val_loss"] for r in history], "o-", label="validation (estimate)")
    if anchor is not None:
        ax.axhline(anchor, color="gray", ls="--", label=f"nanoGPT CPU run: {anchor}")
    ax.set(xlabel="iteration", ylabel="cross-entropy (nats / token)", title="Pre-training")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "pretrain_loss.png", dpi=100)
    plt.close(fig)
    return {"file": "pretrain_loss.png",
            "caption": f"Pre-training loss; final validation loss over the whole split {val_full:.3f}"}


def finetune_figure(out: Path, task: str, runs: dict[str, list[dict]]) -> dict:
    """``runs``: arm -> one record per seed, each with ``history`` (``step``, ``val_acc``) and ``test_acc``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (arm, seeds) in enumerate(runs.items()):
        for j, r in enumerate(seeds):
            mean_test = sum(s["test_acc"] for s in seeds) / len(seeds)
            ax.plot([e["step"] for e in r["history"]], [e["val_acc"] for e in r["history"]], "o-", color=f"C{i}",
                    alpha=0.7, label=f"{arm} (mean test {mean_test:.3f})" if j == 0 else None)
    ax.set(xlabel="fine-tuning step", ylabel="held-out accuracy", title=f"Fine-tuning on {task} (one line per seed)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "finetune_acc.png", dpi=100)
    plt.close(fig)
    return {"file": "finetune_acc.png", "caption": "Fine-tuning accuracy on the held-out 10% of the task's train "
            "file, one line per fine-tuning seed; the legend gives the mean test accuracy after the last step"}
