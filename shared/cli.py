"""The command line every ``reproduce.py`` shares, and :class:`Run`, which ties a run together.

``python -m papers.<paper>.reproduce --preset {smoke,quick,paper} [--out DIR] [--data-dir DIR]
[--device auto|cpu|cuda] [--seed N] [--resume] [--set key=value ...]``

A reproduce script reads like this::

    run = Run.from_cli("resnet", PRESETS, argv)     # seeds, device, out dir, config.json
    ... train with shared.trainer.Trainer(out_dir=run.out, device=run.device, seed=run.seed) ...
    run.finish(claims, figures=[...])               # metrics.json, README.md, the index

    if __name__ == "__main__":
        entry(main)                                 # the project's errors in one line, exit status 2

What every paper gets from ``Run`` and ``Trainer`` without code of its own (CONTRIBUTING.md,
"Reliability"): the config validated before any work (:func:`shared.config.validate`); ``--out``
checked, and a reused run folder cleared, before anything is written (:mod:`shared.runfolder`);
``--resume`` refused in one line when the checkpoint was written with another config; the
checkpoint carrying the run's config; the report saying what a resumed run measured; errors in one
line (:func:`entry`, also installed as ``sys.excepthook`` when the command line is parsed, so a
script that calls ``main()`` directly gets it too); SIGTERM -> exit 143 and SIGINT -> 130 after
the checkpoint.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checkpoint, distributed, precision, runfolder
from .config import ConfigError, apply_overrides, save_config, validate
from .data import registry
from .device import CHOICES, describe, get_device
from .errors import UserError
from .report import sync_package_readme, update_index, write_report
from .seed import seed_everything

REPO = Path(__file__).resolve().parents[1]


@dataclass
class RunArgs:
    preset: str
    out: Path
    data_dir: str | None = None
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    sets: list[str] = field(default_factory=list)
    command: str = ""
    overwrite: bool = False
    debug: bool = False


DEBUG_ENV = "PAPERS_DEBUG"  # PAPERS_DEBUG=1: tracebacks instead of one-line errors
MAX_SEED = 2 ** 63


def _debug(argv=None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    return "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def error_line(exc: BaseException) -> tuple[str, int]:
    """The one line and exit status for an error at the entry point (None for a real bug)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (SIGINT)", 130
    if isinstance(exc, UserError):
        text = " ".join(str(exc).split())  # one line, whatever the message
        return f"error: {text}", 2
    if isinstance(exc, torch.OutOfMemoryError):
        return ("error: the device ran out of memory; lower --set batch_size (or raise grad_accum), or use a "
                "smaller model"), 2
    return None, 1


def _one_line_hook(etype, value, tb):
    line, code = error_line(value)
    if line is None or _debug():
        sys.__excepthook__(etype, value, tb)
        return
    print(f"{line}  (--debug or {DEBUG_ENV}=1 shows the traceback)" if code == 2 else line, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # an excepthook cannot choose the exit status otherwise


def entry(main, argv=None):
    """Run a reproduce ``main(argv)``: the project's own errors as one line on stderr, exit status 2;
    SIGINT outside the training loop exits 130. ``--debug`` or ``PAPERS_DEBUG=1`` re-raises."""
    try:
        return main(argv)
    except (Exception, KeyboardInterrupt) as e:
        line, code = error_line(e)
        if line is None or _debug(argv):
            raise
        print(f"{line}  (--debug or {DEBUG_ENV}=1 shows the traceback)" if code == 2 else line, file=sys.stderr)
        raise SystemExit(code) from None


def parse_cli(slug: str, presets: dict, argv: list[str] | None = None, default_preset: str = "quick"):
    """Parse the shared flags; return ``(RunArgs, config)`` with ``--set`` applied."""
    prog = f"python -m papers.{slug}.reproduce"
    ap = argparse.ArgumentParser(prog=prog, description=f"Reproduce {slug}: presets {', '.join(presets)}.")
    ap.add_argument("--preset", choices=list(presets), default=default_preset,
                    help="smoke: seconds, every code path; quick: reduced scale, minutes on a CPU; "
                         "paper: the paper's own recipe")
    ap.add_argument("--out", default=None, help="output folder (default runs/<paper>/<preset>)")
    ap.add_argument("--data-dir", default=None, help="data root, searched before $PAPERS_DATA_DIR and ./data")
    ap.add_argument("--device", default="auto", type=str.lower, help=f"one of {', '.join(CHOICES)} (any case)")
    ap.add_argument("--seed", type=int, default=0, help=f"0 <= seed < 2**63")
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out (refused if the "
                    "config differs in anything that changes the results)")
    ap.add_argument("--overwrite", action="store_true", help="start afresh in an --out that holds an earlier run's "
                    "checkpoint or another preset's report (deletes them)")
    ap.add_argument("--debug", action="store_true", help=f"tracebacks instead of one-line errors (also {DEBUG_ENV}=1)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field, e.g. --set lr=0.05 (repeatable)")
    if argv is None and sys.excepthook is sys.__excepthook__:
        sys.excepthook = _one_line_hook  # a script that calls main() without entry() still gets one-line errors
    argv = sys.argv[1:] if argv is None else list(argv)
    a = ap.parse_args(argv)
    if not 0 <= a.seed < MAX_SEED:
        raise ConfigError(f"--seed {a.seed} is out of range: it must be an integer >= 0 and < 2**63; fix: --seed 0")
    cfg = apply_overrides(presets[a.preset], a.sets)
    validate(cfg)
    out = Path(a.out) if a.out else Path("runs") / slug / a.preset
    command = " ".join([prog, *argv])
    return RunArgs(a.preset, out, a.data_dir, a.device, a.seed, a.resume, a.sets, command, a.overwrite, a.debug), cfg


def git_commit(paths: list[str] | None = None) -> str:
    """HEAD's short hash, with ``-dirty`` when ``paths`` (the code that made the numbers) have changes."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *(paths or ["."])], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (sha + ("-dirty" if dirty else "")) if sha else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _rel(path, base: Path) -> str:
    p = Path(path)
    return str(p.relative_to(base)) if p.is_relative_to(base) else str(p)


class Run:
    """One reproduction run: seeded, on a device, writing into ``out``."""

    def __init__(self, slug: str, args: RunArgs, cfg):
        self.slug, self.args, self.cfg = slug, args, cfg
        self.seed, self.out, self.data_dir = args.seed, Path(args.out), args.data_dir
        self.t0 = time.perf_counter()
        validate(cfg)  # before any work: one line naming the key, the value, the range and the fix
        if args.data_dir is not None and not Path(args.data_dir).is_dir():
            raise registry.DataError(f"--data-dir {args.data_dir} does not exist or is not a folder; give the folder "
                                     f"that holds <dataset>/<file>, or leave --data-dir out (then $PAPERS_DATA_DIR, "
                                     f"./data, else the embedded defaults)")
        self.device = get_device(args.device)
        self.dist = distributed.init(self.device)
        # --out and --resume are checked before anything is written; a reused run folder is cleared
        self.folder = runfolder.prepare(self.out, slug, args.preset, args.seed, dataclasses.asdict(cfg),
                                        resume=args.resume, overwrite=args.overwrite,
                                        may_change=getattr(type(cfg), "RESUME_MAY_CHANGE", None))
        distributed.barrier()  # every rank has checked before the main one clears
        if self.dist.is_main:
            runfolder.clear(self.out, self.folder)
        distributed.barrier()
        checkpoint.set_run({"paper": slug, "seed": args.seed, "preset": args.preset, "config": dataclasses.asdict(cfg)})
        checkpoint.RESUMED.clear()
        seed_everything(self.seed)
        self.synthetic: dict[str, str] = {}  # data names that fell back to an embedded default
        self._logged = False
        registry.USED.clear()  # the report lists the files this run reads, not an earlier run's in this process
        precision.USED.clear()  # and the precision / layout its trainers use
        if self.dist.is_main:
            try:
                self.out.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise runfolder.RunFolderError(f"--out {self.out} cannot be created ({e.strerror}); give another "
                                               f"folder") from e
            save_config(cfg, self.out / "config.json", paper=slug, preset=args.preset, seed=args.seed,
                        device=str(self.device), data_dir=args.data_dir, resume=args.resume, command=args.command)

    @classmethod
    def from_cli(cls, slug: str, presets: dict, argv: list[str] | None = None) -> "Run":
        args, cfg = parse_cli(slug, presets, argv)
        return cls(slug, args, cfg)

    def log(self, record: dict) -> None:
        """Append one JSON line to ``<out>/log.jsonl`` (rank 0), for runs that do not train with the Trainer.

        The first line of a run starts a fresh log unless the run resumed from a checkpoint, so a
        rerun (also one with a ``--resume`` that found nothing to resume) never duplicates lines."""
        if self.is_main:
            mode = "a" if self._logged or self.folder.resuming else "w"
            with open(self.out / "log.jsonl", mode) as f:
                f.write(json.dumps(record, default=float) + "\n")
            self._logged = True

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    def use_synthetic(self, name: str) -> None:
        """Record that ``name`` came from the embedded default instead of a dataset file (and say so)."""
        if name not in self.synthetic and self.is_main:
            print(f"data: {name}: the embedded default (no dataset file read)", file=sys.stderr)
        self.synthetic[name] = "synthetic"

    def resume_notes(self) -> list[str]:
        """What the report says about a resumed run: which checkpoints, and what its timings measure."""
        notes = list(self.folder.notes)
        if checkpoint.RESUMED:
            parts = ", ".join(f"{_rel(r['checkpoint'], self.out)} at step {r['step']} of {r['max_steps']}"
                              for r in checkpoint.RESUMED)
            notes.append(f"This run resumed from checkpoints of an earlier run ({parts}): wall_seconds and every "
                         f"timing in this report measure only the work done after the resume (steps already "
                         f"done were loaded, not re-run; phases that finished earlier were re-evaluated only).")
        return notes

    def environment(self) -> dict:
        return {"commit": git_commit([f"papers/{self.slug}", "shared"]), "torch": torch.__version__, **describe(self.device),
                "seed": self.seed, "wall_seconds": round(time.perf_counter() - self.t0, 1),
                "command": self.args.command, "data": {**dict(sorted(registry.USED.items())), **self.synthetic},
                "world_size": self.dist.world_size, "cpu_cores": os.cpu_count(),
                "interop_threads": torch.get_num_interop_threads(),
                **({"resumed": [dict(r) for r in checkpoint.RESUMED]} if checkpoint.RESUMED else {}),
                **(dict(precision.USED) or {"precision": "fp32"})}

    def finish(self, claims: list[dict], figures: list[dict] | None = None, title: str | None = None,
               notes: list[str] | None = None, results: dict | None = None, summary: str | None = None,
               data_note: str | None = None) -> dict:
        """Write ``metrics.json`` and the report (rank 0 only); update the index under reproductions/.

        ``data_note`` replaces the report's generated first line about the data (e.g. for a paper
        whose own tasks are generated exactly, where "synthetic default" would mislead).
        """
        metrics = {"paper": self.slug, "title": title, "preset": self.args.preset, "summary": summary,
                   "data_note": data_note,
                   "claims": claims, "figures": figures or [], "notes": (notes or []) + self.resume_notes(), "results": results or {},
                   "config": dataclasses.asdict(self.cfg), "environment": self.environment()}
        if self.is_main:
            report = write_report(self.out, metrics)
            out = self.out.resolve()
            if out.parent.name == "reproductions":
                update_index(out.parent)
                readme = REPO / "papers" / self.slug / "README.md"
                if out == (REPO / "reproductions" / self.slug).resolve() and readme.is_file():
                    sync_package_readme(readme, metrics)  # the package README quotes the committed report
            elif out.parent.parent.name == "reproductions":   # a longer report beside the quick one, <slug>/<preset>/
                update_index(out.parent.parent)
            print(f"report: {report}")
        distributed.barrier()
        checkpoint.set_run(None)  # a Trainer used after this run does not claim to belong to it
        return metrics
