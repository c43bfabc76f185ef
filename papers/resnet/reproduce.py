"""Reproduce ResNet (He et al. 2016).

- ``quick`` (2 CPU cores, <= 10 min): Figure 6's degradation experiment at reduced scale. Plain and
  residual CIFAR-10 nets at depths 20 and 56, half width (8/16/32 filters), the same short budget,
  two seeds. Claims: the deeper plain net trains worse than the shallower one (degradation, §4.1/§4.2);
  the deeper residual net trains at least as well as the shallower one; test errors beside Table 6.
- ``paper``: the §4.2 recipe for every network of Fig. 6 / Table 6 (batch 128, lr 0.1 divided by
  10 at 32k and 48k iterations, stop at 64k, weight decay 1e-4, momentum 0.9, 45k/5k split,
  ResNet-110 warm-up at lr 0.01 until training error < 80%). One GPU or several:
  ``torchrun --nproc_per_node=2 -m papers.resnet.reproduce --preset paper --data-dir ../shared/data``.
- ``paper-imagenet``: the §3.4 ImageNet recipe (batch 256, lr 0.1 divided by 10 at fixed steps as a
  stand-in for "when the error plateaus", 60x10^4 iterations, scale augmentation [256, 480], 224 crops,
  colour augmentation); expects ``<imagenet_root>/{train,val}/<wnid>/*.JPEG``.
- ``smoke``: seconds, on the embedded generated images; every code path (plain, residual, warm-up).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from shared import distributed
from shared.cli import Run
from shared.data import registry
from shared.profiling import count_params
from shared.report import claim, verdict
from shared.seed import seed_everything
from shared.trainer import Trainer

from .data import ImageFolder, augment, cifar_dataset, load_cifar10, normalize, per_pixel_mean
from .loss import cross_entropy, error_counts, topk_error
from .model import VARIANTS, build

TABLE6_ERROR = {"resnet20": 8.75, "resnet32": 7.51, "resnet44": 7.17, "resnet56": 6.97, "resnet110": 6.43,
                "resnet1202": 7.93}  # Table 6, test error %
TABLE6_PARAMS_M = {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85, "resnet110": 1.7,
                   "resnet1202": 19.4}


@dataclass
class Config:
    task: str = "cifar10"                    # cifar10 (§4.2) | imagenet (§3.4)
    variants: tuple[str, ...] = ("plain20", "plain32", "plain44", "plain56",
                                 "resnet20", "resnet32", "resnet44", "resnet56", "resnet110")  # Fig. 6, Table 6
    seeds: tuple[int, ...] = (0,)            # one run per seed (offset from --seed)
    width: int = 16                          # §4.2: {16, 32, 64} filters; the quick preset halves it
    shortcut: str = "A"                      # §4.2: option A on CIFAR; ImageNet nets default to B (§3.3)
    stride_on_3x3: bool = False              # torchvision "v1.5" bottleneck (ImageNet only)
    init_mode: str = "fan_out"               # §3.4 "as in [13]": fan_out (Eq. 14) or fan_in (Eq. 10)
    # data (§4.2)
    dataset: str = "auto"                    # auto | cifar10 | cifar10_jpg | synthetic
    data_path: str = ""                      # a CIFAR-10 folder / .tar.gz / zip read directly
    val_size: int = 5000                     # §4.2: 45k/5k train/val split
    train_size: int = 0                      # 0: all of the 45k; else a random subset
    test_size: int = 0                       # 0: the full 10k test set
    train_eval_size: int = 2000              # fixed training images scored (no augmentation) at each eval
    eval_val: bool = True                    # score the 5k validation images at each eval
    augment: bool = True                     # §4.2: 4-pixel pad, random 32x32 crop, horizontal flip
    pixel_scale: float = 1 / 255             # inputs are pixel * scale - per-pixel mean
    # optimisation (§4.2)
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] = (32000, 48000)   # lr divided by 10 at 32k and 48k iterations
    gamma: float = 0.1
    max_steps: int = 64000                   # terminate at 64k iterations
    warmup_min_depth: int = 110              # §4.2: ResNet-110 (and deeper) warm up ...
    warmup_lr: float = 0.01                  # ... at lr 0.01 ...
    warmup_until_error: float = 0.8          # ... until the training error is below 80% (~400 iterations)
    linear_warmup: int = 0                   # not in the paper: lr ramps up linearly over this many steps
    # bookkeeping
    eval_every: int = 2000                   # 0: only at the end
    log_every: int = 10
    ckpt_every: int = 2000
    smooth: int = 20                         # moving-average window of the training-error curves (figure)
    amp: bool = False                        # opt-in bf16 autocast on CUDA
    compile: bool = False                    # opt-in torch.compile
    num_workers: int = 0
    # ImageNet (§3.4)
    imagenet_root: str = ""                  # default <data-dir>/imagenet
    imagenet_lr_every: int = 150000          # stand-in for "divide by 10 when the error plateaus"
    imagenet_scale: tuple[int, ...] = (256, 480)   # scale augmentation: shorter side in [256, 480]
    imagenet_crop: int = 224
    imagenet_test_size: int = 256            # shorter side at test time
    ten_crop: bool = True                    # §3.4: "standard 10-crop testing"
    imagenet_val_limit: int = 0              # 0: the whole val folder


PRESETS = {
    "smoke": Config(variants=("plain20", "resnet20"), seeds=(0,), width=4, dataset="auto", val_size=64,
                    train_size=256, test_size=128, train_eval_size=64, batch_size=32, milestones=(3,),
                    max_steps=4, warmup_min_depth=20, eval_every=2, log_every=1, ckpt_every=2, smooth=2),
    "quick": Config(variants=("plain20", "plain56", "resnet20", "resnet56"), seeds=(0, 1), width=8,
                    val_size=5000, train_size=0, test_size=2000, train_eval_size=1000, batch_size=64,
                    eval_val=False, lr=0.1, linear_warmup=50, milestones=(210,), max_steps=300, eval_every=0, log_every=1, ckpt_every=100,
                    smooth=25),
    "paper": Config(),
    "paper-imagenet": Config(task="imagenet", variants=("plain18", "plain34", "resnet18", "resnet34"),
                             shortcut="B", batch_size=256, milestones=(), max_steps=600000, eval_every=10000,
                             ckpt_every=5000, log_every=100, num_workers=8),
}


# -- the §4.2 learning-rate schedule with the ResNet-110 warm-up ------------------------------

class PaperSchedule:
    """lr = ``lr`` x ``gamma`` ^ (milestones passed); optionally ``warmup_lr`` first, until the running
    training error falls below ``until_error`` (§4.2, ResNet-110). Stateful, checkpointed with the run."""

    def __init__(self, optimizer, lr: float, milestones=(), gamma: float = 0.1, warmup_lr: float | None = None,
                 until_error: float = 0.8, linear_warmup: int = 0):
        self.optimizer, self.lr, self.milestones, self.gamma = optimizer, lr, tuple(milestones), gamma
        self.linear_warmup = linear_warmup
        self.warmup_lr, self.until_error = warmup_lr, until_error
        self.steps, self.warming, self.running_error = 0, warmup_lr is not None, 1.0
        self.warmup_end_step: int | None = None  # the step at which the warm-up ended, if it did
        self._apply()

    def current_lr(self) -> float:
        if self.warming:
            return self.warmup_lr
        ramp = min(1.0, (self.steps + 1) / self.linear_warmup) if self.linear_warmup else 1.0
        return ramp * self.lr * self.gamma ** sum(self.steps >= m for m in self.milestones)

    def observe(self, error: float, device=None) -> None:
        """Feed a mini-batch training error (averaged over ranks, so every rank decides alike)."""
        if not self.warming:
            return
        error = distributed.all_reduce_mean({"e": float(error)}, device)["e"]
        self.running_error = 0.9 * self.running_error + 0.1 * error  # smoothed over ~10 batches
        if self.running_error < self.until_error:
            self.warming, self.warmup_end_step = False, self.steps

    def step(self) -> None:
        self.steps += 1
        self._apply()

    def _apply(self) -> None:
        for g in self.optimizer.param_groups:
            g["lr"] = self.current_lr()

    def state_dict(self) -> dict:
        return {"steps": self.steps, "warming": self.warming, "running_error": self.running_error,
                "warmup_end_step": -1 if self.warmup_end_step is None else self.warmup_end_step}

    def load_state_dict(self, state: dict) -> None:
        self.steps, self.warming = int(state["steps"]), bool(state["warming"])
        self.running_error = float(state["running_error"])
        end = int(state.get("warmup_end_step", -1))
        self.warmup_end_step = None if end < 0 else end
        self._apply()


def sgd(model: torch.nn.Module, cfg: Config) -> torch.optim.SGD:
    """§3.4 / §4.2: SGD, momentum 0.9, weight decay 1e-4 (on every weight, as in the paper's Caffe solver)."""
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def depth_of(name: str) -> int:
    return int("".join(ch for ch in name if ch.isdigit()))


# -- CIFAR-10 (§4.2) ------------------------------------------------------------------------

@torch.no_grad()
def error_rate(model, x_uint8: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, scale: float,
               device, batch: int = 500) -> float:
    """Single-view error (§4.2: "we only evaluate the single view of the original 32x32 image")."""
    wrong = total = 0
    for i in range(0, len(x_uint8), batch):
        xb = normalize(x_uint8[i:i + batch].to(device), mean, scale)
        w, n = error_counts(model(xb), y[i:i + batch].to(device))
        wrong, total = wrong + w, total + n
    return wrong / max(total, 1)


def train_cifar(run: Run, cfg: Config, variant: str, seed: int, splits, mean: torch.Tensor) -> dict:
    """One network of Fig. 6 / Table 6 trained with the §4.2 recipe; returns its numbers and curve."""
    device = run.device
    seed_everything(seed)
    model = build(variant, width=cfg.width, shortcut=cfg.shortcut, init_mode=cfg.init_mode)
    opt = sgd(model, cfg)
    warm = depth_of(variant) >= cfg.warmup_min_depth
    schedule = PaperSchedule(opt, cfg.lr, cfg.milestones, cfg.gamma,
                             warmup_lr=cfg.warmup_lr if warm else None, until_error=cfg.warmup_until_error,
                             linear_warmup=cfg.linear_warmup)
    mean_d = mean.to(device)
    g = torch.Generator().manual_seed(10_000 + seed)
    n_tr = min(cfg.train_eval_size, len(splits.x_train))
    tr_idx = torch.randperm(len(splits.x_train), generator=g)[:n_tr]
    x_tr_eval, y_tr_eval = splits.x_train[tr_idx], splits.y_train[tr_idx]

    def loss_fn(model, batch):
        x, y = batch                                       # uint8 [B, 3, 32, 32], int64 [B]
        x = normalize(x, mean_d, cfg.pixel_scale)          # per-pixel mean subtracted
        if cfg.augment:
            x = augment(x)                                 # pad 4, random crop, flip (main-process RNG)
        logits = model(x)
        loss = cross_entropy(logits, y)
        err = topk_error(logits.detach(), y)
        schedule.observe(err, device)
        return loss, {"train_error": err}

    def eval_fn(model):
        out = {"train_eval_error": error_rate(model, x_tr_eval, y_tr_eval, mean_d, cfg.pixel_scale, device),
               "test_error": error_rate(model, splits.x_test, splits.y_test, mean_d, cfg.pixel_scale, device)}
        if cfg.eval_val and len(splits.x_val):
            out["val_error"] = error_rate(model, splits.x_val, splits.y_val, mean_d, cfg.pixel_scale, device)
        return out

    out_dir = run.out / "runs" / f"{variant}-seed{seed}"
    trainer = Trainer(model, opt, cifar_dataset(splits.x_train, splits.y_train), loss_fn=loss_fn,
                      batch_size=cfg.batch_size, max_steps=cfg.max_steps, out_dir=out_dir, device=device,
                      scheduler=schedule, eval_fn=eval_fn, eval_every=cfg.eval_every, log_every=cfg.log_every,
                      ckpt_every=cfg.ckpt_every, amp=cfg.amp, compile=cfg.compile, seed=seed,
                      num_workers=cfg.num_workers, desc=f"{variant} s{seed}")
    t0 = time.perf_counter()
    history = trainer.fit(resume=run.args.resume)
    wall = time.perf_counter() - t0
    steps, errors = [], []
    if trainer.log_path.exists():
        for line in trainer.log_path.read_text().splitlines():
            rec = json.loads(line)
            if "train_error" in rec:
                steps.append(rec["step"])
                errors.append(rec["train_error"])
    tail = max(1, len(errors) // 10)
    final = history[-1] if history else {}
    return {"variant": variant, "seed": seed, "steps": steps, "train_error_curve": errors,
            "train_error_last10pct": sum(errors[-tail:]) / tail if errors else float("nan"),
            "train_eval_error": final.get("train_eval_error"), "test_error": final.get("test_error"),
            "val_error": final.get("val_error"), "history": history, "wall_seconds": round(wall, 1),
            "params": count_params(model), "warmup_ended_at": schedule.warmup_end_step}


def moving_average(v: list[float], k: int) -> list[float]:
    out, acc = [], 0.0
    for i, x in enumerate(v):
        acc += x
        if i >= k:
            acc -= v[i - k]
        out.append(acc / min(i + 1, k))
    return out


def figure6(results: list[dict], cfg: Config, path: Path) -> None:
    """Fig. 6 analogue: training error (thin: each seed; thick: seed mean) of plain (left) and residual
    (right) nets; the end-of-run test error as a marker."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = [f for f in ("plain", "resnet") if any(r["variant"].startswith(f) for r in results)]
    fig, axes = plt.subplots(1, len(fams), figsize=(5.5 * len(fams), 4), sharey=True, squeeze=False)
    depths = sorted({depth_of(r["variant"]) for r in results})
    colors = dict(zip(depths, ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:brown"]))
    for ax, fam in zip(axes[0], fams):
        for d in depths:
            runs = [r for r in results if r["variant"] == f"{fam}{d}" and r["train_error_curve"]]
            if not runs:
                continue
            n = min(len(r["train_error_curve"]) for r in runs)
            curves = [moving_average(r["train_error_curve"][:n], cfg.smooth) for r in runs]
            steps = runs[0]["steps"][:n]
            for c in curves:
                ax.plot(steps, [100 * e for e in c], color=colors[d], lw=0.6, alpha=0.35, ls="--")
            mean = [100 * sum(c[i] for c in curves) / len(curves) for i in range(n)]
            label = f"{'plain' if fam == 'plain' else 'ResNet'}-{d}"
            ax.plot(steps, mean, color=colors[d], lw=1.8, ls="--", label=f"{label} train")
            tests = [r["test_error"] for r in runs if r["test_error"] is not None]
            if tests:
                ax.plot([steps[-1]], [100 * sum(tests) / len(tests)], marker="o", color=colors[d], ms=7,
                        label=f"{label} test (end)")
        ax.set_title(("plain networks" if fam == "plain" else "residual networks (option A)")
                     + f", width {cfg.width}")
        ax.set_xlabel("iterations")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("error (%)")
    fig.suptitle("Fig. 6 analogue on CIFAR-10: dashed = training error (moving average), dot = test error")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def mean_of(results: list[dict], variant: str, key: str) -> float | None:
    vals = [r[key] for r in results if r["variant"] == variant and r[key] is not None]
    return sum(vals) / len(vals) if vals else None


def per_seed(results: list[dict], variant: str, key: str) -> dict[int, float]:
    return {r["seed"]: r[key] for r in results if r["variant"] == variant}


def cifar_claims(results: list[dict], cfg: Config, source: str) -> list[dict]:
    claims = []
    scale = (f"width {cfg.width} (paper 16), {cfg.max_steps} iterations of batch {cfg.batch_size} "
             f"(paper 64k of 128), {len(cfg.seeds)} seed(s)")
    pct = lambda v: None if v is None else round(100 * v, 2)  # noqa: E731
    key = "train_error_last10pct"
    shallow = min(depth_of(v) for v in cfg.variants)
    deep = max(depth_of(v) for v in cfg.variants)
    for fam, want_worse in (("plain", True), ("resnet", False)):
        a, b = f"{fam}{shallow}", f"{fam}{deep}"
        if a not in cfg.variants or b not in cfg.variants or shallow == deep:
            continue
        ma, mb = mean_of(results, a, key), mean_of(results, b, key)
        sa, sb = per_seed(results, a, key), per_seed(results, b, key)
        seeds_ok = [(sb[s] > sa[s]) if want_worse else (sb[s] <= sa[s]) for s in sa if s in sb]
        if want_worse:
            ok = mb > ma and all(seeds_ok)
            claims.append(claim(
                id=f"degradation-plain{deep}-vs-plain{shallow}", source="§4.1-4.2, Fig. 6 (left), Fig. 1",
                statement=f"The deeper plain net (plain-{deep}) has higher training error than the shallower "
                          f"plain-{shallow}: the degradation problem.",
                metric=f"training error % (last 10% of iterations, seed mean): plain-{deep} minus plain-{shallow}",
                paper="> 0 (qualitative; Fig. 6)", ours=round(100 * (mb - ma), 2),
                criterion="reproduced if the seed-mean difference is > 0 and every seed agrees; partially if only "
                          "the mean does",
                verdict=verdict(ok, partial=mb > ma),
                note=f"plain-{shallow} {pct(ma)}%, plain-{deep} {pct(mb)}%; per seed "
                     f"{[round(100 * (sb[s] - sa[s]), 1) for s in sorted(sa) if s in sb]} pp; {scale}."))
        else:
            tol = 0.01
            ok = mb <= ma and all(seeds_ok)
            claims.append(claim(
                id=f"no-degradation-resnet{deep}-vs-resnet{shallow}", source="§4.2, Fig. 6 (middle), Table 6",
                statement=f"The deeper residual net (ResNet-{deep}) trains at least as well as ResNet-{shallow}: "
                          f"shortcuts remove the degradation.",
                metric=f"training error % (last 10% of iterations, seed mean): ResNet-{deep} minus ResNet-{shallow}",
                paper="< 0 (qualitative; Fig. 6)", ours=round(100 * (mb - ma), 2),
                criterion=f"reproduced if the seed-mean difference is <= 0 and every seed agrees; partially if the "
                          f"mean is <= 0 or within +{100 * tol:.0f} pp",
                verdict=verdict(ok, partial=mb <= ma + tol),
                note=f"ResNet-{shallow} {pct(ma)}%, ResNet-{deep} {pct(mb)}%; per seed "
                     f"{[round(100 * (sb[s] - sa[s]), 1) for s in sorted(sa) if s in sb]} pp; {scale}."))
    pd, rd = f"plain{deep}", f"resnet{deep}"
    if pd in cfg.variants and rd in cfg.variants:
        mp, mr = mean_of(results, pd, key), mean_of(results, rd, key)
        claims.append(claim(
            id=f"shortcuts-help-at-depth-{deep}", source="§4.2, Fig. 6, Table 2 (ImageNet analogue)",
            statement=f"At equal depth and parameters, the residual net trains better than the plain net "
                      f"(ResNet-{deep} vs plain-{deep}).",
            metric=f"training error % (last 10% of iterations, seed mean): plain-{deep} minus ResNet-{deep}",
            paper="> 0 (qualitative; Fig. 6)", ours=round(100 * (mp - mr), 2),
            criterion="reproduced if > 0", verdict=verdict(mp > mr),
            note=f"plain-{deep} {pct(mp)}%, ResNet-{deep} {pct(mr)}%; identical parameter counts (option A)."))
    for v in cfg.variants:
        if v in TABLE6_ERROR:
            te = mean_of(results, v, "test_error")
            full = cfg.max_steps >= 64000 and cfg.width == 16 and source != "synthetic"
            claims.append(claim(
                id=f"table6-test-error-{v}", source="§4.2, Table 6",
                statement=f"{v} test error on CIFAR-10 (single view), "
                          + ("paper recipe" if full else "reduced-schedule run beside the paper's number"),
                metric="test error %", paper=TABLE6_ERROR[v], ours=pct(te),
                criterion="reproduced if within 1 pp of the paper (paper recipe only); otherwise not comparable",
                verdict=(verdict(abs(100 * te - TABLE6_ERROR[v]) <= 1.0) if full else "not comparable"),
                note=("same recipe as the paper" if full else f"reduced schedule: {scale}; data {source}; the "
                      f"test set here is {'a fixed subset of ' + str(cfg.test_size) if cfg.test_size else 'all 10k'}"
                      f" images") + "."))
    # parameter counts of the full-width nets (Table 6) and plain == residual under option A
    counts = {v: count_params(VARIANTS[v]) for v in ("resnet20", "resnet56", "plain20", "plain56")}
    ok = (round(counts["resnet20"] / 1e6, 2) == 0.27 and round(counts["resnet56"] / 1e6, 2) == 0.85
          and counts["plain20"] == counts["resnet20"] and counts["plain56"] == counts["resnet56"])
    claims.append(claim(
        id="table6-params", source="§4.2, Table 6",
        statement="ResNet-20 / ResNet-56 have 0.27M / 0.85M parameters; option-A shortcuts add none, so plain "
                  "nets have the same count.",
        metric="parameters (full width 16/32/64)", paper="0.27M / 0.85M",
        ours=f"{counts['resnet20']:,} / {counts['resnet56']:,} (plain {counts['plain20']:,} / {counts['plain56']:,})",
        criterion="reproduced if the counts round to the paper's and plain == residual",
        verdict=verdict(ok), note="counted on the meta device; the quick preset's half-width nets have ~1/4 of these."))
    return claims


def run_cifar(run: Run, cfg: Config) -> None:
    bad = [v for v in cfg.variants if v not in VARIANTS or not v.removeprefix("plain").removeprefix("resnet")
           .isdigit() or depth_of(v) in (18, 34, 50, 101, 152)]
    if bad:
        raise SystemExit(f"--set variants: {bad} are not CIFAR-10 networks; use resnet20/32/44/56/110/1202 and "
                         f"plain20/32/44/56/110")
    n_syn_train = (cfg.train_size or 5000) + cfg.val_size
    splits = load_cifar10(run.data_dir, cfg.data_path, cfg.dataset, val_size=cfg.val_size,
                          train_size=cfg.train_size, test_size=cfg.test_size,
                          synthetic_sizes=(n_syn_train, cfg.test_size or 1000))
    if splits.source == "synthetic":
        run.use_synthetic("cifar10")
    mean = per_pixel_mean(splits.x_train, cfg.pixel_scale)     # [3, 32, 32], from the training split only
    results = []
    for s in cfg.seeds:
        for v in cfg.variants:
            results.append(train_cifar(run, cfg, v, run.seed + s, splits, mean))
    claims = cifar_claims(results, cfg, splits.source)
    figures = []
    if run.is_main:
        figure6(results, cfg, run.out / "fig6.png")
        figures.append({"file": "fig6.png", "caption": f"Figure 6 analogue: training error of plain (left) and "
                        f"residual (right) CIFAR-10 nets, width {cfg.width}, {cfg.max_steps} iterations, "
                        f"seeds {list(cfg.seeds)}"})
    stride = max(1, len(results[0]["steps"]) // 100) if results and results[0]["steps"] else 1
    table = {f"{r['variant']}-seed{r['seed']}": {
        "params": r["params"], "train_error_last10pct": r["train_error_last10pct"],
        "train_eval_error": r["train_eval_error"], "val_error": r["val_error"], "test_error": r["test_error"],
        "wall_seconds": r["wall_seconds"], "warmup_ended_at": r["warmup_ended_at"],
        "curve_steps": r["steps"][::stride],
        "curve_train_error": [round(e, 4) for e in moving_average(r["train_error_curve"], cfg.smooth)][::stride],
    } for r in results}
    summary_rows = ["| network | params | train error, last 10% (%) | train error, eval mode (%) | test error (%) "
                    "| Table 6 test error (%) |", "|---|---|---|---|---|---|"]
    for v in cfg.variants:
        f = lambda k: "—" if mean_of(results, v, k) is None else f"{100 * mean_of(results, v, k):.2f}"  # noqa: E731
        p = next(r["params"] for r in results if r["variant"] == v)
        summary_rows.append(f"| {v} | {p:,} | {f('train_error_last10pct')} | {f('train_eval_error')} | "
                            f"{f('test_error')} | {TABLE6_ERROR.get(v, '—')} |")
    data_name = {"cifar10": "CIFAR-10 (canonical python batches)",
                 "cifar10_jpg": "CIFAR-10 (JPEG re-encoded copy, lossy)",
                 "synthetic": "the embedded generated image task"}.get(splits.source, splits.source)
    notes = [f"Data: {data_name}; {len(splits.x_train)} training images, {len(splits.x_val)} held out for "
             f"validation (§4.2's 45k/5k split), {len(splits.x_test)} test images.",
             f"Recipe: SGD lr {cfg.lr} (x{cfg.gamma} at {list(cfg.milestones)}), momentum {cfg.momentum}, weight "
             f"decay {cfg.weight_decay}, batch {cfg.batch_size}, {cfg.max_steps} iterations"
             + (f", linear lr warm-up over the first {cfg.linear_warmup} iterations (not in the paper; every "
                f"network alike)" if cfg.linear_warmup else "") + ", augmentation "
             f"{'on' if cfg.augment else 'off'}, width {cfg.width}, shortcuts option {cfg.shortcut}.",
             "Training error is the error on each augmented mini-batch in train mode (what Fig. 6 plots), "
             "averaged over the last 10% of iterations and over seeds; 'eval mode' is a fixed subset of "
             f"{cfg.train_eval_size} un-augmented training images scored with the BN running statistics.",
             ]
    run.finish(claims, figures=figures, title="ResNet (He et al. 2016): degradation on CIFAR-10 (Fig. 6)",
               notes=notes, results={"runs": table, "data_source": splits.source},
               summary=f"Figure 6 at reduced scale: {', '.join(cfg.variants)} on {data_name}. Per-network means "
                       f"over seeds {list(cfg.seeds)}:\n\n" + "\n".join(summary_rows))


# -- ImageNet (§3.4) ------------------------------------------------------------------------

def run_imagenet(run: Run, cfg: Config) -> None:
    root = Path(cfg.imagenet_root) if cfg.imagenet_root else (Path(run.data_dir or "data") / "imagenet")
    train = ImageFolder(root, "train", train=True, scale=tuple(cfg.imagenet_scale), crop=cfg.imagenet_crop)
    val = ImageFolder(root, "val", train=False, crop=cfg.imagenet_crop, ten_crop=cfg.ten_crop,
                      test_size=cfg.imagenet_test_size)
    registry.USED[f"imagenet/{root}"] = f"{len(train)} train / {len(val)} val images (not checksummed)"
    milestones = cfg.milestones or tuple(range(cfg.imagenet_lr_every, cfg.max_steps, cfg.imagenet_lr_every))
    claims, table = [], {}
    for s in cfg.seeds:
        for v in cfg.variants:
            seed = run.seed + s
            seed_everything(seed)
            kw = dict(shortcut=cfg.shortcut, num_classes=len(train.classes), init_mode=cfg.init_mode)
            if v.startswith("resnet") and depth_of(v) >= 50:
                kw["stride_on_3x3"] = cfg.stride_on_3x3
            model = build(v, **kw)
            opt = sgd(model, cfg)
            sched = PaperSchedule(opt, cfg.lr, milestones, cfg.gamma, linear_warmup=cfg.linear_warmup)

            def loss_fn(model, batch):
                x, y = batch
                logits = model(x)
                return cross_entropy(logits, y), {"train_error": topk_error(logits.detach(), y)}

            def eval_fn(model, val=val):
                n = len(val) if not cfg.imagenet_val_limit else min(cfg.imagenet_val_limit, len(val))
                idx = list(range(distributed.info().rank, n, distributed.info().world_size))
                loader = torch.utils.data.DataLoader(torch.utils.data.Subset(val, idx), batch_size=32,
                                                     num_workers=cfg.num_workers)
                w1 = w5 = tot = 0
                for x, y in loader:
                    x, y = x.to(run.device), y.to(run.device)
                    if x.dim() == 5:  # 10-crop: average the softmax scores of the crops
                        b = x.shape[0]
                        p = model(x.flatten(0, 1)).softmax(-1).view(b, -1, model.cfg.num_classes).mean(1)
                    else:
                        p = model(x)
                    w1 += error_counts(p, y, 1)[0]
                    w5 += error_counts(p, y, 5)[0]
                    tot += len(y)
                c = distributed.all_reduce_sum({"w1": w1, "w5": w5, "n": tot}, run.device)  # exact, all ranks
                return {"top1_error": c["w1"] / c["n"], "top5_error": c["w5"] / c["n"]}

            trainer = Trainer(model, opt, train, loss_fn=loss_fn, batch_size=cfg.batch_size, max_steps=cfg.max_steps,
                              out_dir=run.out / "runs" / f"{v}-seed{seed}", device=run.device, scheduler=sched,
                              eval_fn=eval_fn, eval_every=cfg.eval_every, log_every=cfg.log_every,
                              ckpt_every=cfg.ckpt_every, amp=cfg.amp, compile=cfg.compile, seed=seed,
                              num_workers=cfg.num_workers, desc=f"{v} s{seed}")
            hist = trainer.fit(resume=run.args.resume)
            table[f"{v}-seed{seed}"] = hist[-1] if hist else {}
    paper_top1 = {"plain18": 27.94, "plain34": 28.54, "resnet18": 27.88, "resnet34": 25.03}  # Table 2 (10-crop)
    for key, rec in table.items():
        v = key.split("-seed")[0]
        if v in paper_top1 and "top1_error" in rec:
            full = cfg.max_steps >= 600000 and cfg.ten_crop
            claims.append(claim(id=f"table2-{key}", source="§4.1, Table 2", statement=f"{v} top-1 error (10-crop)",
                                metric="top-1 error %", paper=paper_top1[v], ours=round(100 * rec["top1_error"], 2),
                                criterion="reproduced if within 1 pp (paper recipe only); otherwise not comparable",
                                verdict=verdict(abs(100 * rec["top1_error"] - paper_top1[v]) <= 1) if full
                                else "not comparable",
                                note="§3.4 recipe" + ("" if full else " at reduced length") + "."))
    run.finish(claims, title="ResNet (He et al. 2016): ImageNet (§3.4)", results={"runs": table},
               notes=[f"ImageNet root {root}: {len(train)} training images in {len(train.classes)} classes, "
                      f"{len(val)} validation images."])


def main(argv=None):
    run = Run.from_cli("resnet", PRESETS, argv)
    cfg = run.cfg
    if cfg.task == "cifar10":
        run_cifar(run, cfg)
    elif cfg.task == "imagenet":
        run_imagenet(run, cfg)
    else:
        raise SystemExit(f"--set task={cfg.task!r}: use cifar10 (§4.2) or imagenet (§3.4)")
    distributed.cleanup()


if __name__ == "__main__":
    main()
