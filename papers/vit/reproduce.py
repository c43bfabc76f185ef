"""Reproduce ViT (Dosovitskiy et al. 2021).

- ``quick`` (2 CPU cores, <= 10 min): the small-data side of §4.3 / Fig. 3-4. A small ViT (the CPU
  configuration of ``model.VARIANTS``) against a ResNet of similar cost (papers/resnet's CIFAR network,
  imported) on CIFAR-10 training subsets of increasing size, >= 3 seeds per point, both trained with the
  paper's pre-training recipe (Adam 0.9/0.999, decoupled weight decay, linear warm-up and decay; §4.1 and
  App. D.1 use Adam for the ResNets too) at the same number of steps. Claims: the CNN wins on the smallest
  subset; the gap narrows as data grows; the large-data crossover is not comparable at this budget.
  Figures: accuracy against training-set size; the position-embedding similarity (Fig. 7, centre) and
  the mean attention distance per head against depth (Fig. 7, right) of the ViT trained on the most data.
- ``paper``: the fine-tuning recipe (§4.1, App. B.1.1): SGD momentum 0.9, batch 512, cosine decay, no
  weight decay, gradient clipping at norm 1, resolution 384 with 2-D interpolated position embeddings
  (§3.2), zero-initialised head; a ViT-B/16 initialised from a local torchvision or Hugging Face checkpoint
  (``--set init=PATH``), fine-tuned on CIFAR-10. One GPU or several:
  ``torchrun --nproc_per_node=8 -m papers.vit.reproduce --preset paper --data-dir ../shared/data --set init=vit_b_16.pth``.
- ``paper-pretrain``: the pre-training recipe (§4.1, App. B.1): Adam 0.9/0.999, batch 4096, weight
  decay 0.1, 10k warm-up steps then linear decay, 224 px, the pre-training head (one tanh hidden layer),
  on a class-per-folder image tree the user supplies (``--set image_root=PATH`` with ``train/`` and ``val/``).
- ``smoke``: seconds, on the embedded generated images; every code path.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from shared import distributed
from shared.cli import Run
from shared.data import registry
from shared.profiling import count_params
from shared.report import claim, compare, exact, not_comparable, target
from shared.seed import seed_everything
from shared.trainer import Trainer

from papers.resnet.data import augment, load_cifar10, normalize, per_pixel_mean
from papers.resnet.model import cifar_resnet

from .interop import from_huggingface, load_huggingface, load_torchvision
from .loss import FINETUNE, PRETRAIN, WarmupDecay, accuracy, cross_entropy, finetune_optimizer, pretrain_optimizer
from .model import CPU, VARIANTS, ViTConfig, VisionTransformer

# Paper numbers (Table 1, Table 2)
TABLE2_CIFAR10 = {"vit-h14 (JFT)": 99.50, "vit-l16 (JFT)": 99.42, "vit-l16 (I21k)": 99.15}  # top-1 %, Table 2
TABLE5_IMAGENET_ONLY = {"vit-b16": (77.91, 98.13), "vit-b32": (73.38, 97.77), "vit-l16": (76.53, 97.86),
                        "vit-l32": (71.16, 97.94)}  # App. Table 5: pre-trained on ImageNet only: (ImageNet, CIFAR-10)
CROSSOVER_BUDGET = ("pre-training on ImageNet-21k (14M images) or JFT-300M and fine-tuning, as in §4.3 / Fig. 3 "
                    "(0.23k-2.5k TPUv3-core-days, Table 2); Fig. 4's JFT subsets show ViT-B/32 ahead of ResNet152x2 "
                    "only from 90M images")


def cpu_vit() -> ViTConfig:
    return ViTConfig(**CPU)


@dataclass
class Config:
    task: str = "data_hunger"                 # data_hunger (§4.3, quick) | finetune (paper) | pretrain (paper-pretrain)
    vit: ViTConfig = field(default_factory=cpu_vit)   # the ViT arm (nested: --set vit.D=128 ...)
    resnet_depth: int = 20                    # the CNN arm: papers/resnet's CIFAR ResNet-(6n+2) ...
    resnet_width: int = 8                     # ... with {w, 2w, 4w} filters (He et al. §4.2 use 16); similar
                                              # step time to the CPU ViT (0.14 s vs 0.18 s at batch 128, 2 cores)
    sizes: tuple[int, ...] = (500, 2000, 8000)     # training-set sizes (nested subsets per seed)
    seeds: tuple[int, ...] = (0, 1, 2)        # >= 3 per point for the comparative claims
    # data (papers/resnet's CIFAR-10 pipeline)
    dataset: str = "auto"                     # auto | cifar10 | cifar10_jpg | synthetic
    data_path: str = ""
    val_size: int = 5000
    test_size: int = 2000                     # fixed test subset scored at the end (0: all 10k)
    augment: bool = True                      # 4-px pad, random crop, flip (He et al. §4.2)
    # optimisation: the pre-training recipe of §4.1 at small scale, for both arms
    optimizer: str = "adam"                   # adam (§4.1 pre-training) | sgd (§4.1 fine-tuning)
    lr: float = 1e-3
    weight_decay: float = PRETRAIN["weight_decay"]
    betas: tuple[float, ...] = PRETRAIN["betas"]
    momentum: float = FINETUNE["momentum"]
    batch_size: int = 64
    max_steps: int = 240
    warmup_steps: int = 24
    decay: str = "linear"                     # §4.1: linear warm-up and decay (fine-tuning: cosine)
    grad_clip: float = 1.0                    # App. B.1: global norm 1
    label_smoothing: float = 0.0
    # fine-tuning / pre-training (paper presets)
    variant: str = "vit-b16"
    init: str = ""                            # a local torchvision .pth or Hugging Face folder / .safetensors
    resolution: int = FINETUNE["resolution"]  # §3.2 / App. B.1.1: fine-tune at 384
    image_root: str = ""                      # paper-pretrain: <root>/{train,val}/<class>/*.jpg
    num_classes: int = 0                      # 0: from the data
    representation_size: int = 0              # pre-training head's hidden width (0: linear head)
    # bookkeeping
    attention_images: int = 64                # test images for the mean attention distance (Fig. 7 right)
    eval_every: int = 0
    log_every: int = 10
    ckpt_every: int = 0
    amp: bool = False                         # opt-in bf16 autocast (shared Trainer; CUDA only)
    compile: bool = False
    num_workers: int = 0


PRESETS = {
    "smoke": Config(vit=replace(cpu_vit(), D=16, L=2, heads=2, mlp_dim=32, patch_size=8), resnet_width=4,
                    sizes=(64, 128), seeds=(0, 1, 2), dataset="auto", val_size=64, test_size=64, batch_size=16,
                    max_steps=3, warmup_steps=1, log_every=1, attention_images=8),
    "quick": Config(),
    "paper": Config(task="finetune", variant="vit-b16", optimizer="sgd", lr=0.01, weight_decay=0.0,
                    batch_size=FINETUNE["batch_size"], max_steps=10_000, warmup_steps=500, decay="cosine",
                    grad_clip=FINETUNE["grad_clip"], resolution=FINETUNE["resolution"], val_size=5000, test_size=0,
                    seeds=(0,), eval_every=1000, ckpt_every=1000, log_every=50),
    "paper-pretrain": Config(task="pretrain", variant="vit-b16", optimizer="adam", lr=3e-3,
                             weight_decay=PRETRAIN["weight_decay"], batch_size=PRETRAIN["batch_size"],
                             max_steps=93_000, warmup_steps=PRETRAIN["warmup_steps"], decay="linear", resolution=224,
                             representation_size=768, seeds=(0,), eval_every=5000, ckpt_every=2000, log_every=100,
                             num_workers=8),
}


# -- building blocks ---------------------------------------------------------------------------

def make_optimizer(model, cfg: Config):
    if cfg.optimizer == "adam":
        return pretrain_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    if cfg.optimizer == "sgd":
        return finetune_optimizer(model, cfg.lr, cfg.momentum, cfg.weight_decay)
    raise SystemExit(f"--set optimizer={cfg.optimizer!r}: use adam (§4.1 pre-training) or sgd (fine-tuning)")


@torch.no_grad()
def test_accuracy(model, x_uint8, y, mean, device, size: int | None = None, batch: int = 250) -> float:
    model.eval()
    right = 0
    for i in range(0, len(x_uint8), batch):
        xb = normalize(x_uint8[i:i + batch].to(device), mean)
        if size and xb.shape[-1] != size:
            xb = F.interpolate(xb, size=(size, size), mode="bilinear", align_corners=False)
        right += int((model(xb).argmax(-1) == y[i:i + batch].to(device)).sum())
    return right / max(1, len(x_uint8))


def train_classifier(run: Run, cfg: Config, model, x, y, mean, name: str, seed: int, size: int | None = None,
                     eval_fn=None) -> dict:
    """One training run with the shared Trainer; random augmentation in the loss (main process)."""
    device = run.device
    mean_d = mean.to(device)

    def loss_fn(model, batch):
        xb, yb = batch                                          # uint8 [B, 3, 32, 32], int64 [B]
        xb = normalize(xb, mean_d)
        if cfg.augment:
            xb = augment(xb)
        if size and xb.shape[-1] != size:                       # fine-tuning resolution (§3.2)
            xb = F.interpolate(xb, size=(size, size), mode="bilinear", align_corners=False)
        logits = model(xb)
        return cross_entropy(logits, yb, cfg.label_smoothing), {"train_acc": accuracy(logits.detach(), yb)}

    opt = make_optimizer(model, cfg)
    sched = WarmupDecay(opt, cfg.lr, cfg.max_steps, cfg.warmup_steps, cfg.decay)
    t0 = time.perf_counter()
    trainer = Trainer(model, opt, torch.utils.data.TensorDataset(x, y), loss_fn=loss_fn, batch_size=cfg.batch_size,
                      max_steps=cfg.max_steps, out_dir=run.out / "runs" / name, device=device, scheduler=sched,
                      eval_fn=eval_fn, eval_every=cfg.eval_every if eval_fn else 0, log_every=cfg.log_every,
                      ckpt_every=cfg.ckpt_every, grad_clip=cfg.grad_clip, amp=cfg.amp, compile=cfg.compile,
                      seed=seed, desc=name)
    hist = trainer.fit(resume=run.args.resume)
    return {"history": hist, "wall_seconds": round(time.perf_counter() - t0, 1)}


# -- §4.3: the small-data side of Fig. 3-4 --------------------------------------------------------

def build_vit(cfg: Config) -> VisionTransformer:
    return VisionTransformer(replace(cfg.vit))


def build_resnet(cfg: Config):
    return cifar_resnet(cfg.resnet_depth, width=cfg.resnet_width, num_classes=10)


def mean_attention_distance(model: VisionTransformer, x: torch.Tensor) -> np.ndarray:
    """Fig. 7 (right) / App. D.7: per layer and head, the attention-weighted distance in pixels between a
    query patch and the patches it attends to, averaged over query patches and images. [L, k]"""
    gh, gw = model.cfg.grid
    P = model.cfg.patch_size
    r, c = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    pos = torch.stack([r.flatten(), c.flatten()], -1).float() * P                      # [N, 2] pixels
    dist = torch.cdist(pos, pos)                                                        # [N, N]
    out = []
    model.eval()
    for A in model.attention_maps(x):                                                   # [B, k, N+1, N+1]
        a = A[:, :, 1:, 1:]                                                             # patch -> patch
        a = a / a.sum(-1, keepdim=True)
        out.append((a * dist).sum(-1).mean((0, 2)).cpu().numpy())                       # [k]
    return np.stack(out)


def position_similarity(model: VisionTransformer) -> np.ndarray:
    """Fig. 7 (centre): cosine similarity between the position embedding of each patch and all others,
    [gh, gw, gh, gw]."""
    gh, gw = model.cfg.grid
    pe = F.normalize(model.position_embedding.detach()[0, 1:].float(), dim=-1)          # [N, D]
    return (pe @ pe.T).reshape(gh, gw, gh, gw).cpu().numpy()


def run_data_hunger(run: Run, cfg: Config) -> None:
    if cfg.vit.image_size != 32 or cfg.vit.num_classes != 10:
        raise SystemExit("--set vit.image_size / vit.num_classes: the data-hunger experiment runs on 32x32 CIFAR-10")
    splits = load_cifar10(run.data_dir, cfg.data_path, cfg.dataset, val_size=cfg.val_size, test_size=cfg.test_size,
                          synthetic_sizes=(max(cfg.sizes) + cfg.val_size, cfg.test_size or 1000))
    if splits.source == "synthetic":
        run.use_synthetic("cifar10")
    n_avail = len(splits.x_train)
    sizes = tuple(s for s in cfg.sizes if s <= n_avail)
    if len(sizes) < 2:
        raise SystemExit(f"--set sizes: need >= 2 sizes <= the {n_avail} training images, got {cfg.sizes}")
    results = []
    arms = {"vit": build_vit, "resnet": build_resnet}
    for size in sizes:
        for s in cfg.seeds:
            seed = run.seed + s
            perm = torch.randperm(n_avail, generator=torch.Generator().manual_seed(1000 + seed))
            idx = perm[:size]                                   # nested subsets: the n=1k set is inside n=4k
            x, y = splits.x_train[idx], splits.y_train[idx]
            mean = per_pixel_mean(x)
            for arm, builder in arms.items():
                seed_everything(seed)
                model = builder(cfg)
                out = train_classifier(run, cfg, model, x, y, mean, f"{arm}-n{size}-seed{seed}", seed)
                acc = test_accuracy(model, splits.x_test, splits.y_test, mean.to(run.device), run.device)
                rec = {"arm": arm, "size": size, "seed": seed, "test_acc": acc, "params": count_params(model),
                       "wall_seconds": out["wall_seconds"]}
                run.log({"event": "result", **rec})
                results.append(rec)
                if arm == "vit" and size == sizes[-1] and s == cfg.seeds[0]:
                    last_vit = model
    # analyses of the ViT trained on the most data (first seed)
    n_att = min(cfg.attention_images, len(splits.x_test))
    xa = normalize(splits.x_test[:n_att].to(run.device), per_pixel_mean(splits.x_train).to(run.device))
    mad = mean_attention_distance(last_vit, xa)
    sim = position_similarity(last_vit)
    claims = data_hunger_claims(results, cfg, sizes, splits.source)
    figures = []
    if run.is_main:
        from .plots import accuracy_vs_size, attention_distance_figure, position_similarity_figure

        accuracy_vs_size(results, sizes, run.out / "accuracy_vs_size.png")
        position_similarity_figure(sim, run.out / "fig7_position_similarity.png")
        attention_distance_figure(mad, cfg.vit.patch_size * max(cfg.vit.grid), run.out / "fig7_attention_distance.png")
        figures = [
            {"file": "accuracy_vs_size.png", "caption": f"§4.3 / Fig. 3-4 analogue: CIFAR-10 test accuracy of the "
             f"ViT ({count_params(build_vit(cfg)):,} params) and ResNet-{cfg.resnet_depth} "
             f"({count_params(build_resnet(cfg)):,} params) against training-set size, {cfg.max_steps} steps of "
             f"batch {cfg.batch_size} each; dots are seeds, lines their means"},
            {"file": "fig7_position_similarity.png", "caption": f"Fig. 7 (centre) analogue: cosine similarity of "
             f"each patch's position embedding with all others, ViT trained on {sizes[-1]} images"},
            {"file": "fig7_attention_distance.png", "caption": f"Fig. 7 (right) analogue: mean attention distance "
             f"(pixels) of every head against depth, {n_att} test images"},
        ]
    table = {f"{r['arm']}-n{r['size']}-seed{r['seed']}": r for r in results}
    rows = ["| training images | ViT accuracy (%) | ResNet accuracy (%) | ResNet - ViT (pp) |", "|---|---|---|---|"]
    for size in sizes:
        v, r = _arm(results, "vit", size), _arm(results, "resnet", size)
        rows.append(f"| {size:,} | {100 * np.mean(v):.1f} ± {100 * np.std(v):.1f} | {100 * np.mean(r):.1f} ± "
                    f"{100 * np.std(r):.1f} | {100 * (np.mean(r) - np.mean(v)):+.1f} |")
    data_name = {"cifar10": "CIFAR-10 (canonical python batches)", "cifar10_jpg": "CIFAR-10 (JPEG re-encoded copy)",
                 "synthetic": "the embedded generated image task"}.get(splits.source, splits.source)
    notes = [f"Data: {data_name}, nested random subsets of the {n_avail} training images (5k held out as in He et al. "
             f"§4.2), {len(splits.x_test)} test images; papers/resnet's pipeline (per-pixel mean, pad-crop-flip).",
             f"Both arms: AdamW (betas {list(cfg.betas)}, decoupled weight decay {cfg.weight_decay} on weight "
             f"matrices), lr {cfg.lr}, {cfg.warmup_steps} warm-up steps then {cfg.decay} decay, batch {cfg.batch_size}, "
             f"{cfg.max_steps} steps, gradient clipping {cfg.grad_clip}; the same steps at every size (equal compute).",
             f"ViT: D={cfg.vit.D}, L={cfg.vit.L}, heads={cfg.vit.heads}, MLP {cfg.vit.mlp_dim}, patch "
             f"{cfg.vit.patch_size} ({cfg.vit.N + 1} tokens). ResNet-{cfg.resnet_depth}, width {cfg.resnet_width}.",
             "Mean attention distance per layer (mean over heads, px): "
             + ", ".join(f"L{i + 1} {m:.1f}" for i, m in enumerate(mad.mean(1)))
             + f"; spread of heads in layer 1: {mad[0].min():.1f}-{mad[0].max():.1f} px."]
    run.finish(claims, figures=figures, notes=notes,
               title="ViT (Dosovitskiy et al. 2021): the small-data side of §4.3 on CIFAR-10",
               results={"runs": table, "data_source": splits.source, "sizes": list(sizes),
                        "mean_attention_distance": np.round(mad, 3).tolist()},
               summary="Small ViT vs ResNet on CIFAR-10 subsets (mean ± std over seeds "
                       f"{[run.seed + s for s in cfg.seeds]}):\n\n" + "\n".join(rows))


def _arm(results, arm, size):
    return [r["test_acc"] for r in sorted(results, key=lambda r: r["seed"]) if r["arm"] == arm and r["size"] == size]


def data_hunger_claims(results, cfg: Config, sizes, source: str) -> list[dict]:
    small, large = sizes[0], sizes[-1]
    scale = f"{cfg.max_steps} steps of batch {cfg.batch_size}; data {source}"
    v_s, r_s = _arm(results, "vit", small), _arm(results, "resnet", small)
    v_l, r_l = _arm(results, "vit", large), _arm(results, "resnet", large)
    pct = lambda a: round(100 * float(np.mean(a)), 2)  # noqa: E731
    claims = [
        claim(id="cnn-beats-vit-on-small-data", source="§4.3, Fig. 3-4; §1",
              statement=f"Trained on little data ({small:,} CIFAR-10 images), the ResNet beats the ViT: "
                        "'Transformers lack some of the inductive biases inherent to CNNs ... and therefore do not "
                        "generalize well when trained on insufficient amounts of data' (§1).",
              metric=f"test accuracy % at n={small}, ResNet - ViT (seed mean)", paper="> 0 (qualitative)",
              ours=round(pct(r_s) - pct(v_s), 2),
              criterion=compare(r_s, v_s, expect=">", paired=True, labels=("resnet", "vit")),
              note=f"ResNet {pct(r_s)}%, ViT {pct(v_s)}% over {len(v_s)} seeds; {scale}."),
        claim(id="gap-narrows-with-data", source="§4.3, Fig. 3-4",
              statement=f"The CNN's advantage shrinks as the training set grows ({small:,} -> {large:,} images): "
                        "'the convolutional inductive bias is useful for smaller datasets, but for larger ones, "
                        "learning the relevant patterns directly from data is sufficient, even beneficial'.",
              metric=f"(ResNet - ViT) accuracy gap in pp at n={small} minus at n={large} (seed mean)",
              paper="> 0 (qualitative)",
              ours=round((pct(r_s) - pct(v_s)) - (pct(r_l) - pct(v_l)), 2),
              criterion=compare([a - b for a, b in zip(r_s, v_s)], [a - b for a, b in zip(r_l, v_l)], expect=">",
                                paired=True, labels=(f"gap@{small}", f"gap@{large}")),
              note=f"gap {pct(r_s) - pct(v_s):.2f} pp at n={small}, {pct(r_l) - pct(v_l):.2f} pp at n={large}; "
                   f"equal steps at every size; {scale}."),
        claim(id="vit-wins-at-scale", source="§4.3, Fig. 3-4; Table 2",
              statement="With enough pre-training data (JFT-300M) ViT overtakes the ResNets (BiT).",
              metric="accuracy after large-scale pre-training", paper="ViT-L/16 JFT 87.76 vs BiT-L 87.54 ImageNet top-1",
              ours=None, criterion=not_comparable(CROSSOVER_BUDGET),
              note=f"the largest subset here is {large:,} images, 20,000x fewer than JFT-300M."),
        claim(id="table2-cifar10-vit-h14", source="Table 2",
              statement="ViT-H/14 pre-trained on JFT-300M and fine-tuned reaches 99.50% on CIFAR-10.",
              metric="CIFAR-10 top-1 %", paper=TABLE2_CIFAR10["vit-h14 (JFT)"], ours=None,
              criterion=not_comparable("JFT-300M pre-training of ViT-H/14 (2.5k TPUv3-core-days) then fine-tuning "
                                       "at 384 px (the paper preset, with a pre-trained checkpoint)"),
              note="the quick preset trains from scratch on CIFAR-10 subsets."),
    ] + structure_claims()
    return claims


def structure_claims() -> list[dict]:
    """Table 1 and §3.1 facts, computed on the meta device."""
    n = count_params(VARIANTS["vit-b16"])
    with torch.device("meta"):
        tokens = VARIANTS["vit-b16"]().embed(torch.empty(1, 3, 224, 224)).shape[1]
    return [
        claim(id="table1-params-vit-b16", source="Table 1", statement="ViT-Base/16 with a 1000-class head has 86M "
              "parameters (86,567,656 exactly, as torchvision's vit_b_16).", metric="parameters", paper=86_567_656,
              ours=n, criterion=exact(86_567_656), note="counted on the meta device."),
        claim(id="tokens-224-16", source="§3.1, Eq. 1", statement="A 224x224 image in 16x16 patches is 196 patch "
              "tokens plus the class token.", metric="sequence length", paper=197, ours=int(tokens),
              criterion=exact(197), note="z_0 of Eq. (1)."),
    ]


# -- §4.1 / App. B.1.1: fine-tuning; App. B.1: pre-training ----------------------------------------

def load_init(model: VisionTransformer, path: str) -> VisionTransformer:
    p = Path(path)
    if p.is_dir():
        pre = from_huggingface(p, num_classes=model.cfg.num_classes)
        return pre
    try:
        return load_torchvision(model, p)
    except (KeyError, ValueError):
        return load_huggingface(model, p, strict_head=False)


def run_finetune(run: Run, cfg: Config) -> None:
    """§4.1: fine-tune a (pre-trained) ViT on CIFAR-10 at ``resolution`` with SGD momentum and cosine decay;
    E_pos are 2-D interpolated (§3.2) and the head is replaced by a zero-initialised linear layer."""
    splits = load_cifar10(run.data_dir, cfg.data_path, cfg.dataset, val_size=cfg.val_size, test_size=cfg.test_size,
                          synthetic_sizes=(max(cfg.batch_size * 4, 256) + cfg.val_size, cfg.test_size or 256))
    if splits.source == "synthetic":
        run.use_synthetic("cifar10")
    seed = run.seed + cfg.seeds[0]
    seed_everything(seed)
    if cfg.variant in VARIANTS:
        model = VARIANTS[cfg.variant]()
    elif cfg.variant == "config":
        model = VisionTransformer(replace(cfg.vit))
    else:
        raise SystemExit(f"--set variant={cfg.variant!r}: one of {', '.join(VARIANTS)} or 'config' (use --set vit.*)")
    if cfg.init:
        model = load_init(model, cfg.init)
        registry.USED[f"init:{cfg.init}"] = "checkpoint (not checksummed)"
    model.reset_head(len(splits.classes))                                  # §3.2: zero-initialised D x K
    if cfg.resolution != model.cfg.size[0]:
        model.resize(cfg.resolution)                                       # §3.2: 2-D interpolation of E_pos
    mean = per_pixel_mean(splits.x_train)

    def eval_fn(m):
        n = min(len(splits.x_val), 1000)
        return {"val_acc": test_accuracy(m, splits.x_val[:n], splits.y_val[:n], mean.to(run.device), run.device,
                                         cfg.resolution)}

    out = train_classifier(run, cfg, model, splits.x_train, splits.y_train, mean, f"{cfg.variant}-finetune-seed{seed}",
                           seed, size=cfg.resolution, eval_fn=eval_fn)
    acc = test_accuracy(model, splits.x_test, splits.y_test, mean.to(run.device), run.device, cfg.resolution)
    full = (cfg.max_steps >= 10_000 and cfg.batch_size == FINETUNE["batch_size"] and bool(cfg.init)
            and splits.source != "synthetic" and not cfg.test_size)
    pretrained = "ImageNet-only (App. Table 5)" if cfg.variant in TABLE5_IMAGENET_ONLY else "—"
    paper_acc = TABLE5_IMAGENET_ONLY.get(cfg.variant, (None, None))[1]
    claims = [claim(id=f"cifar10-finetune-{cfg.variant}", source="App. Table 5 (ImageNet pre-training); §4.1",
                    statement=f"{cfg.variant} pre-trained on ImageNet and fine-tuned on CIFAR-10 at {cfg.resolution} px "
                              f"with SGD momentum, batch {cfg.batch_size}, cosine decay.",
                    metric="CIFAR-10 top-1 %", paper=paper_acc, ours=round(100 * acc, 2),
                    criterion=(target(paper_acc, tol=0.5) if full and paper_acc is not None else not_comparable(
                        "the full recipe: an ImageNet-pre-trained checkpoint (--set init=...), 10k steps of batch 512 "
                        "on all 50k CIFAR-10 training images, scored on the full test set")),
                    note=f"initialised from {cfg.init or 'scratch (no checkpoint given)'}; pre-training {pretrained}; "
                         f"{cfg.max_steps} steps of batch {cfg.batch_size}; data {splits.source}."),
              claim(id="table2-cifar10-vit-h14", source="Table 2",
                    statement="ViT-H/14 pre-trained on JFT-300M and fine-tuned reaches 99.50% on CIFAR-10.",
                    metric="CIFAR-10 top-1 %", paper=TABLE2_CIFAR10["vit-h14 (JFT)"], ours=None,
                    criterion=not_comparable("a JFT-300M-pre-trained ViT-H/14 checkpoint, which is not public"),
                    note="JFT-300M is internal to Google.")] + structure_claims()
    run.finish(claims, title=f"ViT (Dosovitskiy et al. 2021): fine-tuning {cfg.variant} on CIFAR-10 (§4.1)",
               results={"test_acc": acc, "history": out["history"], "wall_seconds": out["wall_seconds"],
                        "data_source": splits.source},
               notes=[f"SGD lr {cfg.lr}, momentum {cfg.momentum}, weight decay {cfg.weight_decay}, batch {cfg.batch_size}, "
                      f"{cfg.max_steps} steps ({cfg.warmup_steps} warm-up, {cfg.decay} decay), grad clip {cfg.grad_clip}, "
                      f"resolution {cfg.resolution} (E_pos interpolated in 2-D)."])


def run_pretrain(run: Run, cfg: Config) -> None:
    """App. B.1: the pre-training recipe on a user-supplied class-per-folder tree (e.g. ImageNet)."""
    from papers.resnet.data import ImageFolder

    root = Path(cfg.image_root) if cfg.image_root else Path(run.data_dir or "data") / "imagenet"
    train = ImageFolder(root, "train", train=True, scale=(cfg.resolution, int(cfg.resolution * 1.15)),
                        crop=cfg.resolution)
    val = ImageFolder(root, "val", train=False, crop=cfg.resolution, test_size=int(cfg.resolution * 1.15))
    registry.USED[f"images/{root}"] = f"{len(train)} train / {len(val)} val images (not checksummed)"
    seed = run.seed + cfg.seeds[0]
    seed_everything(seed)
    overrides = dict(num_classes=cfg.num_classes or len(train.classes), image_size=cfg.resolution,
                     representation_size=cfg.representation_size or None, dropout=0.1)  # Table 3: dropout 0.1
    if cfg.variant in VARIANTS:
        model = VARIANTS[cfg.variant](**overrides)
    else:
        model = VisionTransformer(replace(cfg.vit, **overrides))
    opt = make_optimizer(model, cfg)
    sched = WarmupDecay(opt, cfg.lr, cfg.max_steps, cfg.warmup_steps, cfg.decay)

    def loss_fn(m, batch):
        x, y = batch
        logits = m(x)
        return cross_entropy(logits, y), {"train_acc": accuracy(logits.detach(), y)}

    def eval_fn(m):
        loader = torch.utils.data.DataLoader(val, batch_size=64, num_workers=cfg.num_workers)
        right = tot = 0
        for x, y in loader:
            right += int((m(x.to(run.device)).argmax(-1) == y.to(run.device)).sum())
            tot += len(y)
        return {"val_acc": right / max(tot, 1)}

    trainer = Trainer(model, opt, train, loss_fn=loss_fn, batch_size=cfg.batch_size, max_steps=cfg.max_steps,
                      out_dir=run.out / "runs" / f"{cfg.variant}-pretrain-seed{seed}", device=run.device,
                      scheduler=sched, eval_fn=eval_fn, eval_every=cfg.eval_every, log_every=cfg.log_every,
                      ckpt_every=cfg.ckpt_every, grad_clip=cfg.grad_clip, amp=cfg.amp, compile=cfg.compile,
                      seed=seed, num_workers=cfg.num_workers, desc=f"{cfg.variant} pretrain")
    hist = trainer.fit(resume=run.args.resume)
    acc = hist[-1]["val_acc"] if hist else None
    paper_acc = TABLE5_IMAGENET_ONLY.get(cfg.variant, (None, None))[0]
    full = cfg.max_steps >= 93_000 and cfg.batch_size == PRETRAIN["batch_size"] and len(train) >= 1_000_000
    claims = [claim(id=f"imagenet-pretrain-{cfg.variant}", source="App. Table 5; §4.1",
                    statement=f"{cfg.variant} trained on ImageNet only (Adam 0.9/0.999, batch 4096, weight decay, "
                              f"linear warm-up and decay).", metric="ImageNet top-1 % (val)", paper=paper_acc,
                    ours=None if acc is None else round(100 * acc, 2),
                    criterion=(target(paper_acc, tol=1.0) if full and paper_acc is not None and acc is not None
                               else not_comparable("ImageNet (1.28M images), 300 epochs (~93k steps of batch 4096)")),
                    note=f"{len(train)} training images in {len(train.classes)} classes; {cfg.max_steps} steps of batch "
                         f"{cfg.batch_size}; App. Table 5's number also includes fine-tuning at 384 px.")]
    claims += structure_claims()
    run.finish(claims, title=f"ViT (Dosovitskiy et al. 2021): pre-training {cfg.variant} (App. B.1)",
               results={"history": hist}, notes=[f"image root {root}"])


def main(argv=None):
    run = Run.from_cli("vit", PRESETS, argv)
    cfg = run.cfg
    tasks = {"data_hunger": run_data_hunger, "finetune": run_finetune, "pretrain": run_pretrain}
    if cfg.task not in tasks:
        raise SystemExit(f"--set task={cfg.task!r}: one of {', '.join(tasks)}")
    tasks[cfg.task](run, cfg)
    distributed.cleanup()


if __name__ == "__main__":
    main()
