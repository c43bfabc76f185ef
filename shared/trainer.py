"""A training loop a reader can follow in one sitting.

``Trainer.fit`` repeats: take ``grad_accum`` micro-batches, ``loss_fn(model, batch)``,
backward, clip, optimizer and scheduler step; every ``log_every`` steps a line in
``log.jsonl``; every ``eval_every`` steps ``eval_fn(model)``; every ``ckpt_every`` steps and
at the end an atomic checkpoint. What makes ``--resume`` exact:

- the order of examples is a function of ``(seed, epoch)`` (``DistributedSampler``, also for
  one process), so a resumed run skips to the same place in the same permutation;
- every RNG state (python, numpy, torch, CUDA) is saved and restored with the weights;
- random augmentation belongs in ``loss_fn`` (the main process, whose RNG is checkpointed),
  not in data-loader workers.

A non-finite loss stops the run before the optimizer touches the weights, so the last
checkpoint on disk is the last good one. SIGINT/SIGTERM finish the current step (or
evaluation), write a checkpoint and exit with status 130 / 143 (128 + the signal number, as a
shell reports a process killed by it). A second signal stops at once.

Every checkpoint carries the run it belongs to (``state["run"]``, see :mod:`shared.checkpoint`),
which :class:`shared.cli.Run` compares with the new config before a ``--resume`` writes anything.
A log line cut off by a crash mid-write is dropped on resume.
"""
from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from . import distributed, precision
from . import checkpoint as ckpt
from .checkpoint import load_checkpoint, save_checkpoint
from .errors import ConfigError, ResumeMismatch, UserError
from .seed import get_rng_state, set_rng_state, worker_init_fn


class TrainingDiverged(UserError, RuntimeError):
    """The loss became NaN or infinite."""


class Interrupted(SystemExit):
    """SIGINT/SIGTERM arrived; a checkpoint was written first. ``code`` is 128 + the signal number
    (130 for SIGINT, 143 for SIGTERM); ``message`` says where the checkpoint is."""

    def __init__(self, signum: int, message: str = ""):
        super().__init__(128 + int(signum))
        self.signum, self.message = int(signum), message

    def __str__(self) -> str:
        return self.message


def to_device(batch, device: torch.device, channels_last: bool = False):
    """Move tensors in (nested) tuples, lists and dicts to ``device`` (4-D ones channels_last if asked)."""
    if torch.is_tensor(batch):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch


def _json_or_none(line: str):
    try:
        rec = json.loads(line)
    except ValueError:
        return None  # a line cut off mid-write
    return rec if isinstance(rec, dict) else None


class Trainer:
    """Train ``model`` on ``train_data`` for ``max_steps`` optimizer steps.

    ``loss_fn(model, batch)`` returns a scalar loss, or ``(loss, {name: float})`` to log
    more; each ``log.jsonl`` line holds the means over the ``log_every`` steps before it. ``eval_fn(model)`` returns ``{name: float}``; it runs in eval mode under
    ``torch.no_grad`` and its values are averaged over ranks. ``batch_size`` is the global
    batch: each of W ranks takes ``batch_size / (W * grad_accum)`` examples per micro-batch.

    ``amp``: False (fp32), True (bf16 autocast on the device, CPU or CUDA, with fp32 master weights and
    optimizer state) or "auto" (bf16 where the hardware has native bf16 units; ``shared.precision``).
    ``channels_last``: conv nets keep weights and 4-D inputs in NHWC memory layout (same math).
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, train_data: Dataset, *,
                 loss_fn: Callable, batch_size: int, max_steps: int, out_dir: str | Path,
                 device: torch.device | str = "cpu", scheduler=None, collate_fn=None,
                 eval_fn: Callable | None = None, eval_every: int = 0, log_every: int = 10,
                 ckpt_every: int = 0, grad_clip: float = 0.0, grad_accum: int = 1, amp: bool | str = False,
                 channels_last: bool = False, compile: bool = False, seed: int = 0, num_workers: int = 0, shuffle: bool = True,
                 desc: str = "train"):
        self.dist = distributed.info()
        self.device = torch.device(device)
        for key, value, low in (("batch_size", batch_size, 1), ("grad_accum", grad_accum, 1), ("max_steps", max_steps, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{key} = {value!r} is out of range: it must be an integer >= {low}; "
                                  f"fix: --set {key}=<an integer >= {low}>")
        per_rank, rem = divmod(batch_size, self.dist.world_size * grad_accum)
        if rem or per_rank == 0:
            raise ValueError(f"batch_size {batch_size} is not divisible by world_size x grad_accum = "
                             f"{self.dist.world_size} x {grad_accum}; change --set batch_size or grad_accum")
        self.micro_batch = per_rank
        self.raw_model = model.to(self.device)
        self.channels_last = channels_last
        if channels_last:
            self.raw_model = self.raw_model.to(memory_format=torch.channels_last)
        self.model = self.raw_model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.raw_model, device_ids=ids)
        if compile:
            self.model = torch.compile(self.model)
        self.optimizer, self.scheduler = optimizer, scheduler
        self.train_data, self.collate_fn, self.num_workers = train_data, collate_fn, num_workers
        self.loss_fn, self.eval_fn = loss_fn, eval_fn
        self.max_steps, self.grad_accum, self.grad_clip = max_steps, grad_accum, grad_clip
        self.eval_every, self.log_every, self.ckpt_every = eval_every, log_every, ckpt_every
        self.amp = precision.resolve_amp(amp, self.device)  # bf16 autocast (CPU or CUDA), fp32 master weights
        precision.record(self.amp, channels_last, self.device)
        self.seed, self.desc = seed, desc
        self.out_dir = Path(out_dir)
        self.ckpt_path = self.out_dir / "checkpoint.pt"
        self.log_path = self.out_dir / "log.jsonl"
        self.sampler = DistributedSampler(train_data, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                          shuffle=shuffle, seed=seed, drop_last=True)
        self.steps_per_epoch = len(self.sampler) // (self.micro_batch * grad_accum)
        if self.steps_per_epoch == 0:
            raise ValueError(f"the training set has {len(train_data)} examples, fewer than one global batch "
                             f"of {batch_size}; lower --set batch_size")
        self.step = 0
        self.history: list[dict] = []  # one dict per evaluation
        self._stop_signal: int | None = None

    # -- data -------------------------------------------------------------------------------
    def _batches(self, epoch: int, skip_steps: int):
        """Micro-batches of ``epoch``, starting after ``skip_steps`` optimizer steps."""
        self.sampler.set_epoch(epoch)
        idx = list(self.sampler)[skip_steps * self.grad_accum * self.micro_batch:]
        mb = self.micro_batch
        batches = [idx[i:i + mb] for i in range(0, len(idx) - mb + 1, mb)]
        # A generator of its own: creating the iterator must not draw from the global RNG (which
        # a resume restores), and worker seeds then depend on (seed, epoch, rank) only.
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch * 101 + self.dist.rank)
        return iter(DataLoader(self.train_data, batch_sampler=batches, collate_fn=self.collate_fn,
                               num_workers=self.num_workers, worker_init_fn=worker_init_fn, generator=g,
                               pin_memory=self.device.type == "cuda"))

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"model": self.raw_model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "step": self.step, "max_steps": self.max_steps, "history": self.history, "rng": get_rng_state(),
                "seed": self.seed, "run": ckpt.run_meta()}

    def save(self) -> None:
        if self.dist.is_main:
            save_checkpoint(self.state_dict(), self.ckpt_path)
        distributed.barrier()

    def load(self, path: str | Path | None = None) -> None:
        path = Path(path or self.ckpt_path)
        state = load_checkpoint(path, map_location=self.device)
        if int(state["seed"]) != self.seed:  # the seed also fixes the order of examples
            raise ResumeMismatch(f"the checkpoint was written with --seed {state['seed']}, this run has --seed "
                                 f"{self.seed}; resume with --seed {state['seed']} or start a fresh run")
        try:
            self.raw_model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state["scheduler"] is not None:
                self.scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ResumeMismatch(f"the checkpoint {path} does not fit this model or optimizer ({first[:160]}): it was "
                                 f"written with another config; resume with that config, or start afresh with "
                                 f"--overwrite") from e
        self.step, self.history = int(state["step"]), list(state["history"])
        set_rng_state(state["rng"])
        self._truncate_log(self.step)
        ckpt.RESUMED.append({"checkpoint": str(path), "step": self.step, "max_steps": self.max_steps})

    def _truncate_log(self, step: int) -> None:
        """Drop log lines written after the checkpoint we resume from."""
        if self.dist.is_main and self.log_path.exists():
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines()
                     if (rec := _json_or_none(ln)) is not None and rec.get("step", 0) <= step]
            self.log_path.write_text("".join(ln + "\n" for ln in lines))

    # -- logging ----------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a") as f:
                f.write(json.dumps(record) + "\n")

    def evaluate(self) -> dict:
        self.model.eval()
        with torch.no_grad(), self._autocast():
            metrics = self.eval_fn(self.raw_model)
        self.model.train()
        metrics = distributed.all_reduce_mean(metrics, self.device)
        record = {"step": self.step, **metrics}
        self.history.append(record)
        self.log({"event": "eval", **record})
        return record

    def _autocast(self):
        return precision.autocast(self.amp, self.device)

    # -- the loop ---------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> list[dict]:
        if resume and self.ckpt_path.exists():
            self.load()
            print(f"resumed from {self.ckpt_path} at step {self.step}", file=sys.stderr)
        elif resume:
            print(f"--resume: no checkpoint at {self.ckpt_path}, starting from step 0", file=sys.stderr)
        elif self.dist.is_main and self.log_path.exists():
            self.log_path.unlink()  # a fresh run starts a fresh log
        self.model.train()
        quiet = not sys.stdout.isatty() or not self.dist.is_main
        bar = tqdm(total=self.max_steps, initial=self.step, desc=self.desc, disable=quiet, dynamic_ncols=True)
        t0, t_last = time.perf_counter(), time.perf_counter()
        window, n_window = {}, 0  # sums of the step values since the last log line
        with self._signals():
            while self.step < self.max_steps:
                self._stop_if_asked(bar)
                epoch, offset = divmod(self.step, self.steps_per_epoch)
                batches = self._batches(epoch, offset)
                for _ in range(offset, self.steps_per_epoch):
                    for k, v in self._train_step(batches).items():
                        window[k] = window.get(k, 0.0) + v
                    n_window += 1
                    self.step += 1
                    bar.update(1)
                    if self.log_every and (self.step % self.log_every == 0 or self.step == self.max_steps):
                        # each logged value is the mean over the steps since the previous line
                        logs = distributed.all_reduce_mean({k: v / n_window for k, v in window.items()},
                                                           self.device)
                        now = time.perf_counter()
                        logs.update(step=self.step, lr=self.optimizer.param_groups[0]["lr"],
                                    step_time=(now - t_last) / n_window, elapsed=now - t0)
                        t_last, window, n_window = now, {}, 0
                        self.log(logs)
                        bar.set_postfix(loss=f"{logs['loss']:.4g}")
                    if self.eval_fn and self.eval_every and self.step % self.eval_every == 0:
                        self.evaluate()
                    if self.ckpt_every and self.step % self.ckpt_every == 0:
                        self.save()
                    self._stop_if_asked(bar)
                    if self.step >= self.max_steps:
                        break
            bar.close()
            if self.eval_fn and (not self.history or self.history[-1]["step"] != self.step):
                self.evaluate()
            self.save()
            self._stop_if_asked(bar)  # a signal during the final evaluation: the checkpoint is written, stop
        return self.history

    def _stop_if_asked(self, bar) -> None:
        """After SIGINT/SIGTERM: write the checkpoint, then exit with 128 + the signal number."""
        if self._stop_signal is None:
            return
        self.save()
        bar.close()
        name = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}.get(self._stop_signal, str(self._stop_signal))
        msg = (f"stopped by {name} at step {self.step}; checkpoint written to {self.ckpt_path}; rerun the same "
               f"command with --resume to continue")
        if self.dist.is_main:
            print(msg, file=sys.stderr, flush=True)
        raise Interrupted(self._stop_signal, msg)

    def _train_step(self, batches) -> dict:
        total, extra = 0.0, {}
        for micro in range(self.grad_accum):
            batch = to_device(next(batches), self.device, self.channels_last)
            sync = micro == self.grad_accum - 1 or not self.dist.enabled
            with (contextlib.nullcontext() if sync else self.model.no_sync()), self._autocast():
                out = self.loss_fn(self.model, batch)
                loss, more = out if isinstance(out, tuple) else (out, {})
            if not torch.isfinite(loss):
                saved = f"the last good checkpoint is {self.ckpt_path}" if self.ckpt_path.exists() else \
                    "no checkpoint had been written yet"
                raise TrainingDiverged(
                    f"loss is {loss.item()} at step {self.step + 1}; stopped before updating the weights, "
                    f"{saved}. Try a lower learning rate, --set grad_clip=1.0, or turning AMP off.")
            (loss / self.grad_accum).backward()
            total += loss.item() / self.grad_accum
            for k, v in more.items():
                extra[k] = extra.get(k, 0.0) + float(v) / self.grad_accum
        if self.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.grad_clip)
            extra["grad_norm"] = float(norm)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"loss": total, **extra}

    @contextlib.contextmanager
    def _signals(self):
        """On SIGINT/SIGTERM: finish the step, checkpoint, exit (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self._stop_signal is not None:  # second signal: stop now
                raise KeyboardInterrupt
            self._stop_signal = signum

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)

