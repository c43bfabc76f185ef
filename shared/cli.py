"""The command line every ``reproduce.py`` shares, and :class:`Run`, which ties a run together.

``python -m papers.<paper>.reproduce --preset {smoke,quick,paper} [--out DIR] [--data-dir DIR]
[--device auto|cpu|cuda] [--seed N] [--resume] [--set key=value ...]``

A reproduce script reads like this::

    run = Run.from_cli("resnet", PRESETS, argv)     # seeds, device, out dir, config.json
    ... train with shared.trainer.Trainer(out_dir=run.out, device=run.device, seed=run.seed) ...
    run.finish(claims, figures=[...])               # metrics.json, README.md, the index
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import distributed, precision
from .config import ConfigError, apply_overrides, save_config
from .data import registry
from .device import CHOICES, describe, get_device
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


def parse_cli(slug: str, presets: dict, argv: list[str] | None = None, default_preset: str = "quick"):
    """Parse the shared flags; return ``(RunArgs, config)`` with ``--set`` applied."""
    prog = f"python -m papers.{slug}.reproduce"
    ap = argparse.ArgumentParser(prog=prog, description=f"Reproduce {slug}: presets {', '.join(presets)}.")
    ap.add_argument("--preset", choices=list(presets), default=default_preset,
                    help="smoke: seconds, every code path; quick: reduced scale, minutes on a CPU; "
                         "paper: the paper's own recipe")
    ap.add_argument("--out", default=None, help="output folder (default runs/<paper>/<preset>)")
    ap.add_argument("--data-dir", default=None, help="data root, searched before $PAPERS_DATA_DIR and ./data")
    ap.add_argument("--device", default="auto", help=f"one of {', '.join(CHOICES)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field, e.g. --set lr=0.05 (repeatable)")
    argv = sys.argv[1:] if argv is None else list(argv)
    a = ap.parse_args(argv)
    try:
        cfg = apply_overrides(presets[a.preset], a.sets)
    except ConfigError as e:
        ap.error(str(e))
    out = Path(a.out) if a.out else Path("runs") / slug / a.preset
    command = " ".join([prog, *argv])
    return RunArgs(a.preset, out, a.data_dir, a.device, a.seed, a.resume, a.sets, command), cfg


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


class Run:
    """One reproduction run: seeded, on a device, writing into ``out``."""

    def __init__(self, slug: str, args: RunArgs, cfg):
        self.slug, self.args, self.cfg = slug, args, cfg
        self.seed, self.out, self.data_dir = args.seed, Path(args.out), args.data_dir
        self.t0 = time.perf_counter()
        self.device = get_device(args.device)
        self.dist = distributed.init(self.device)
        seed_everything(self.seed)
        self.synthetic: dict[str, str] = {}  # data names that fell back to an embedded default
        self._logged = False
        registry.USED.clear()  # the report lists the files this run reads, not an earlier run's in this process
        precision.USED.clear()  # and the precision / layout its trainers use
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.out / "config.json", paper=slug, preset=args.preset, seed=args.seed,
                        device=str(self.device), data_dir=args.data_dir, resume=args.resume, command=args.command)

    @classmethod
    def from_cli(cls, slug: str, presets: dict, argv: list[str] | None = None) -> "Run":
        args, cfg = parse_cli(slug, presets, argv)
        return cls(slug, args, cfg)

    def log(self, record: dict) -> None:
        """Append one JSON line to ``<out>/log.jsonl`` (rank 0), for runs that do not train with the Trainer."""
        if self.is_main:
            mode = "a" if self._logged or self.args.resume else "w"  # a fresh run starts a fresh log
            with open(self.out / "log.jsonl", mode) as f:
                f.write(json.dumps(record, default=float) + "\n")
            self._logged = True

    @property
    def is_main(self) -> bool:
        return self.dist.is_main

    def use_synthetic(self, name: str) -> None:
        """Record that ``name`` came from the embedded default instead of a dataset file."""
        self.synthetic[name] = "synthetic"

    def environment(self) -> dict:
        return {"commit": git_commit([f"papers/{self.slug}", "shared"]), "torch": torch.__version__, **describe(self.device),
                "seed": self.seed, "wall_seconds": round(time.perf_counter() - self.t0, 1),
                "command": self.args.command, "data": {**dict(sorted(registry.USED.items())), **self.synthetic},
                "world_size": self.dist.world_size, "cpu_cores": os.cpu_count(),
                "interop_threads": torch.get_num_interop_threads(),
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
                   "claims": claims, "figures": figures or [], "notes": notes or [], "results": results or {},
                   "config": dataclasses.asdict(self.cfg), "environment": self.environment()}
        if self.is_main:
            report = write_report(self.out, metrics)
            if self.out.resolve().parent.name == "reproductions":
                update_index(self.out.resolve().parent)
                readme = REPO / "papers" / self.slug / "README.md"
                if self.out.resolve() == (REPO / "reproductions" / self.slug).resolve() and readme.is_file():
                    sync_package_readme(readme, metrics)  # the package README quotes the committed report
            print(f"report: {report}")
        distributed.barrier()
        return metrics
