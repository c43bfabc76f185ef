"""§3.2, "Sharing Features for RPN and Fast R-CNN": the two training schemes.

- Approximate joint training: one network, the RPN and Fast R-CNN losses summed in each step; the
  proposals are treated as fixed (no gradient through their coordinates), "which ignores the derivative
  w.r.t. the proposal boxes' coordinates".
- 4-step alternating training, the scheme behind the paper's results:
  1. train the RPN (its own convolutions, from the pre-trained initialisation);
  2. train Fast R-CNN on step-1 proposals, with separate convolutions (nothing shared yet);
  3. initialise the RPN from the detector, fix the shared convolutions, fine-tune the RPN-unique layers;
  4. keep the shared convolutions fixed, fine-tune the Fast R-CNN-unique layers on the new proposals.

Each step is a plain loop over ``batches`` (lists of (images [N, 3, H, W], boxes, labels)), so the schemes
read like the text; the reproduction sets steps, learning rates and data.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.distributed as dist

from shared import checkpoint as ckpt_io
from shared.seed import get_rng_state, set_rng_state

from .loss import DetLossConfig, Recipe, RPNLossConfig, detector_loss, lr_at, optimizer, rpn_loss, sample_rois
from .model import FasterRCNN


@dataclass
class Checkpointing:
    """Where and how often a training scheme saves its state, and whether it starts from a saved one
    (no counterpart in the paper: an 80k-iteration run must survive an interruption).

    ``path`` is written atomically every ``every`` steps and at the end of each phase; with ``resume`` a
    scheme restores the phase, step, weights, optimizer, random states and position in the data from it
    and continues, so an interrupted run ends with the weights of an uninterrupted one. ``batches`` must
    then be :class:`papers.faster_rcnn.data.Batches` (it can restart an epoch part-way)."""
    path: Path
    every: int = 0
    resume: bool = False
    state: dict | None = field(default=None, repr=False)   # loaded by the scheme when resuming

    def load(self) -> dict | None:
        if self.resume and self.state is None and Path(self.path).is_file():
            self.state = ckpt_io.load_checkpoint(self.path)
            ckpt_io.RESUMED.append({"checkpoint": str(self.path), "step": int(self.state["step"]),
                                    "max_steps": int(self.state["steps"]), "phase": self.state["name"]})
        return self.state

    def save(self, state: dict) -> None:
        if not dist.is_initialized() or dist.get_rank() == 0:
            ckpt_io.save_checkpoint({**state, "run": ckpt_io.run_meta()}, self.path)


@dataclass
class StepLog:
    """What one training phase did (no counterpart in the paper)."""
    name: str
    steps: int
    seconds: float
    last_loss: float


def losses(model: FasterRCNN, images, boxes, labels, rpn_cfg=RPNLossConfig(), det_cfg=DetLossConfig(),
           rpn: bool = True, det: bool = True, generator=None) -> dict[str, torch.Tensor]:
    """The summed objectives of one mini-batch: Eq. (1) for the RPN and Fast R-CNN's multi-task loss.

    Proposals are detached (approximate joint training, §3.2): the detector's loss sends no gradient into
    the proposal coordinates."""
    feats, anchors, cls, reg, props = model.run_rpn(images, proposals=det, shared=det)
    out = {}
    if rpn:
        n_locations = len(anchors) // model.k                      # N_reg of Eq. (1): anchor locations
        out.update(rpn_loss(cls.float(), reg.float(), anchors, boxes, tuple(images.shape[-2:]), n_locations,
                            rpn_cfg, generator))
    if det:
        sampled = [sample_rois(p.detach(), b, l, det_cfg, generator) for p, b, l in zip(props, boxes, labels)]
        logits, offsets, _ = model.detect(feats, [s[0] for s in sampled])
        out.update(detector_loss(logits.float(), offsets.float(), torch.cat([s[1] for s in sampled]),
                                 torch.cat([s[2] for s in sampled]), model.cfg.box_weights, det_cfg))
    return out


def _average_gradients(model: torch.nn.Module) -> None:
    """torchrun: average the gradients over ranks, each of which saw its own images (no counterpart in the paper)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    world = dist.get_world_size()
    for p in model.parameters():
        if p.requires_grad:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad)
            p.grad /= world


def _sync_buffers(model: torch.nn.Module) -> None:
    """torchrun: average BatchNorm running statistics over ranks at the end of a phase, so every rank holds
    the same network (no counterpart in the paper; VGG-16 has no BatchNorm)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    for b in model.buffers():
        if b.is_floating_point():
            dist.all_reduce(b)
            b /= dist.get_world_size()


def _loop(name: str, model: FasterRCNN, batches: Iterable, steps: int, recipe: Recipe, rpn: bool, det: bool,
          rpn_cfg: RPNLossConfig = RPNLossConfig(), det_cfg: DetLossConfig = DetLossConfig(), generator=None,
          on_step: Callable[[str, int, dict], None] | None = None, autocast=None,
          ckpt: Checkpointing | None = None, phase: int = 0, extra: dict | None = None, logs=()) -> StepLog:
    """One phase: ``steps`` SGD steps on the RPN and/or detector losses. With ``ckpt``, its state is saved
    every ``ckpt.every`` steps and at the end; a loaded state of this phase makes the loop continue from it."""
    opt = optimizer(model, recipe)
    model.train()
    for part in (model.backbone, model.rpn_backbone, model.rpn, model.head):   # frozen parts keep fixed statistics
        if part is not None and not any(p.requires_grad for p in part.parameters()):
            part.eval()
    t0, last, start = time.perf_counter(), float("nan"), 0
    track = ckpt is not None
    if track and not hasattr(batches, "iter_from"):
        raise TypeError("checkpointing needs papers.faster_rcnn.data.Batches (it restarts an epoch part-way)")
    state = ckpt.state if track else None
    resuming = state is not None and int(state["phase"]) == phase
    if resuming:                                                   # resume part-way through this phase
        start, last = int(state["step"]), float(state["last_loss"])
        if state.get("optimizer") is not None:
            opt.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        if generator is not None and state.get("generator") is not None:
            generator.set_state(state["generator"])
        batches.g.set_state(state["epoch_rng"])
        t0 -= float(state["seconds"])
        ckpt.state = None
    if resuming:
        epoch_rng, pos = state["epoch_rng"], int(state["pos"])
        it = batches.iter_from(pos)
    else:
        epoch_rng, pos = (batches.g.get_state() if track else None), 0
        it = iter(batches)

    def snapshot(done: int) -> dict:
        return {"phase": phase, "step": done, "steps": steps, "name": name, "model": model.state_dict(),
                "optimizer": opt.state_dict(), "rng": get_rng_state(),
                "generator": generator.get_state() if generator is not None else None,
                "epoch_rng": epoch_rng, "pos": pos, "last_loss": last, "seconds": time.perf_counter() - t0,
                "logs": [vars(l) for l in logs], **(extra or {})}

    for step in range(start, steps):
        try:
            images, boxes, labels = next(it)
        except StopIteration:
            epoch_rng, pos = (batches.g.get_state() if track else None), 0
            it = iter(batches)                                     # the next epoch
            images, boxes, labels = next(it)
        pos += 1
        for g in opt.param_groups:
            g["lr"] = lr_at(step, recipe)
        with autocast() if autocast is not None else _nullcontext():
            terms = losses(model, images, boxes, labels, rpn_cfg, det_cfg, rpn=rpn, det=det, generator=generator)
        loss = sum(terms.values())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{name}: the loss became {loss.item()} at step {step}; lower the learning rate")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        _average_gradients(model)
        opt.step()
        last = loss.item()
        if on_step:
            on_step(name, step, {k: v.item() for k, v in terms.items()})
        if track and ckpt.every and (step + 1) % ckpt.every == 0 and step + 1 < steps:
            ckpt.save(snapshot(step + 1))
    _sync_buffers(model)
    if track:
        # the phase is done: the next one starts a fresh epoch from the batches' current random state
        epoch_rng, pos = batches.g.get_state(), 0
        ckpt.save(snapshot(steps))
    return StepLog(name, steps, time.perf_counter() - t0, last)


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def freeze(module: torch.nn.Module | None, frozen: bool = True) -> None:
    """Fix (or free) a module's parameters; BatchNorm statistics are fixed too (eval mode) when frozen."""
    if module is None:
        return
    for p in module.parameters():
        p.requires_grad_(not frozen)
    if frozen:
        module.eval()


def scaled(recipe: Recipe, steps: int) -> Recipe:
    """§4.1's schedule stretched to ``steps`` mini-batches: the lr drops at the same fractions of the run
    (60k of 80k for the VOC RPN). No counterpart in the paper beyond that proportion."""
    if steps == recipe.max_iters or recipe.max_iters <= 0:
        return replace(recipe, max_iters=steps)
    return replace(recipe, max_iters=steps,
                   lr_steps=tuple(round(s * steps / recipe.max_iters) for s in recipe.lr_steps))


def train_joint(model: FasterRCNN, batches, steps: int, recipe: Recipe, generator=None, on_step=None,
                rpn_cfg: RPNLossConfig = RPNLossConfig(), det_cfg: DetLossConfig = DetLossConfig(),
                autocast=None, ckpt: Checkpointing | None = None) -> list[StepLog]:
    """§3.2 (ii) approximate joint training: RPN and detector losses summed, shared convolutions trained by both."""
    state = ckpt.load() if ckpt is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
    return [_loop("joint", model, batches, steps, scaled(recipe, steps), rpn=True, det=True, rpn_cfg=rpn_cfg,
                  det_cfg=det_cfg, generator=generator, on_step=on_step, autocast=autocast, ckpt=ckpt)]


def train_alternating(model: FasterRCNN, batches, steps: tuple[int, int, int, int], recipe: Recipe,
                      generator=None, on_step=None, rpn_cfg: RPNLossConfig = RPNLossConfig(),
                      det_cfg: DetLossConfig = DetLossConfig(), autocast=None,
                      ckpt: Checkpointing | None = None) -> list[StepLog]:
    """§3.2 (i) 4-step alternating training; ``model`` ends as the unified network with shared convolutions.

    Each step runs ``recipe``'s schedule stretched to its own length (:func:`scaled`). With ``ckpt.resume``
    the steps already done are set up again (which parts exist and which are fixed), the saved weights are
    loaded, and training continues inside the step where it stopped."""
    kw = dict(rpn_cfg=rpn_cfg, det_cfg=det_cfg, generator=generator, on_step=on_step, autocast=autocast)
    state = ckpt.load() if ckpt is not None else None
    init = (state["init"] if state is not None
            else copy.deepcopy(model.backbone.state_dict()))         # the common (pre-trained) initialisation

    def step1():  # Step 1: the RPN on its own convolutions.
        model.rpn_backbone = copy.deepcopy(model.backbone)
        freeze(model.head)
        freeze(model.backbone)

    def step2():  # Step 2: Fast R-CNN on step-1 proposals, its own convolutions from the same initialisation.
        model.backbone.load_state_dict(init)
        freeze(model.backbone, False)
        freeze(model.head, False)
        freeze(model.rpn_backbone)
        freeze(model.rpn)

    def step3():  # Step 3: the RPN on the detector's convolutions, now fixed; only RPN-unique layers train.
        model.rpn_backbone = None
        freeze(model.backbone)
        freeze(model.head)
        freeze(model.rpn, False)

    def step4():  # Step 4: the Fast R-CNN-unique layers on the new proposals, shared convolutions still fixed.
        freeze(model.rpn)
        freeze(model.head, False)

    phases = [(step1, "1: RPN", True, False), (step2, "2: Fast R-CNN", False, True),
              (step3, "3: RPN, shared convs fixed", True, False),
              (step4, "4: Fast R-CNN, shared convs fixed", False, True)]
    first, logs = 0, []
    if state is not None:                      # redo the set-up of every step begun, then the saved weights
        first = int(state["phase"])
        for setup, *_ in phases[:first + 1]:
            setup()
        model.load_state_dict(state["model"])
        logs = [StepLog(**l) for l in state["logs"]]
    for k in range(first, 4):
        setup, name, rpn, det = phases[k]
        if k > first or state is None:
            setup()
        logs.append(_loop(name, model, batches, steps[k], scaled(recipe, steps[k]), rpn=rpn, det=det, ckpt=ckpt,
                          phase=k, extra={"init": init}, logs=logs, **kw))
    freeze(model.rpn, False)
    freeze(model.backbone, False)
    return logs
