"""The run folder (``--out``): what it may be, what a fresh run clears, what ``--resume`` checks first.

:func:`prepare` runs before a run writes anything, and refuses in one line (:class:`RunFolderError`,
:class:`ResumeMismatch`):

- ``--out`` that is a file, not writable, the repository (or a folder holding one), or a folder
  that holds files but is not a run folder (a run folder has the ``config.json`` or
  ``metrics.json`` that :class:`shared.cli.Run` writes, naming its paper);
- a run folder of another paper;
- a run folder holding a checkpoint, without ``--resume`` (continue it) or ``--overwrite``
  (start afresh): a rerun never silently overwrites trained weights;
- a smoke run into ``reproductions/<paper>/`` that holds another preset's report, without
  ``--overwrite``;
- ``--resume`` when a checkpoint was written with another paper, seed or config: the differing
  keys are named (old -> new). A paper lists in ``Config.RESUME_MAY_CHANGE`` (key -> why) the keys
  whose change is legitimate on resume (e.g. more steps of its only phase); the report says so.
  Keys in :data:`HARMLESS` never change results and are not compared.

A fresh run into an existing run folder clears it first, so no stale artifact (an earlier run's
``finetune/`` folder, a figure it drew) survives into the new report.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import load_checkpoint, read_run_meta
from .errors import CheckpointError, ResumeMismatch, RunFolderError

REPO = Path(__file__).resolve().parents[1]
MARKERS = ("config.json", "metrics.json")
CHECKPOINT = "checkpoint.pt"
HARMLESS = frozenset({"log_every", "ckpt_every", "num_workers", "threads"})


@dataclass
class Prepared:
    """What :func:`prepare` found: whether this run resumes, and the config changes it accepted."""
    resuming: bool = False
    checkpoints: list[Path] = field(default_factory=list)
    changes: dict[str, tuple] = field(default_factory=dict)   # key -> (old, new), allowed by the paper
    stale: list[str] = field(default_factory=list)            # what a fresh run clears (:func:`clear`)
    notes: list[str] = field(default_factory=list)


def marker(out: Path) -> dict | None:
    """``{"paper", "preset"}`` of the run that wrote ``out``, or None when ``out`` is not a run folder."""
    for name in MARKERS:
        p = out / name
        if p.is_file():
            try:
                data = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("paper"), str):
                return {"paper": data["paper"], "preset": data.get("preset"), "file": name,
                        "config": data.get("config"), "seed": data.get("seed",
                                                                  (data.get("environment") or {}).get("seed"))}
    return None


def checkpoints(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob(CHECKPOINT) if p.is_file()) if out.is_dir() else []


def flatten(d, prefix: str = "") -> dict:
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = list(v) if isinstance(v, tuple) else v
    return out


def config_diff(old: dict, new: dict) -> dict[str, tuple]:
    """``{key: (old, new)}`` for every (nested, dotted) key whose value differs."""
    a, b = flatten(json.loads(json.dumps(old, default=str))), flatten(json.loads(json.dumps(new, default=str)))
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k) and k.split(".")[-1] not in HARMLESS}


def _is_repo(out: Path) -> bool:
    r = out.resolve()
    return (r == REPO or r in REPO.parents or (out / ".git").exists() or (out / "pyproject.toml").exists())


def _listing(out: Path, n: int = 4) -> str:
    names = sorted(p.name for p in out.iterdir())
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def prepare(out: str | os.PathLike, slug: str, preset: str, seed: int, config: dict, *, resume: bool = False,
            overwrite: bool = False, may_change: dict | None = None) -> Prepared:
    """Check ``out`` for a run of ``slug`` (see the module docstring) without changing anything;
    ``Prepared.stale`` lists what :func:`clear` removes for a fresh run."""
    out = Path(out)
    may_change = may_change or {}
    if resume and overwrite:
        raise RunFolderError("--resume continues the run in --out and --overwrite starts it afresh: give one of them")
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"--out {out} is a file, not a folder; give a folder for the run's outputs")
    if _is_repo(out):
        raise RunFolderError(f"--out {out} is the repository (or holds one); a run writes its report, config and "
                             f"figures into --out, so give a run folder such as runs/{slug}/{preset}")
    if not out.exists():
        parent = next((p for p in out.absolute().parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise RunFolderError(f"--out {out} cannot be created: {parent} is a file; give another folder")
        if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
            raise RunFolderError(f"--out {out} cannot be created: {parent} is not writable; give another folder")
        if resume:
            print(f"--resume: {out} does not exist, so there is nothing to resume; the run starts from the beginning",
                  file=sys.stderr)
        return Prepared()
    if not os.access(out, os.W_OK | os.X_OK):
        raise RunFolderError(f"--out {out} is not writable; give another folder (or fix its permissions)")
    if not any(out.iterdir()):
        if resume:
            print(f"--resume: {out} is empty, so there is nothing to resume; the run starts from the beginning",
                  file=sys.stderr)
        return Prepared()
    m = marker(out)
    if m is None:
        raise RunFolderError(f"--out {out} holds files that no run of this project wrote ({_listing(out)}); "
                             f"refusing to write a run into it: give a new or empty folder")
    if m["paper"] != slug:
        raise RunFolderError(f"--out {out} holds a run of {m['paper']!r}, not {slug!r}; give another folder")
    ckpts = checkpoints(out)
    if resume and ckpts:
        return _check_resume(out, slug, seed, config, ckpts, m, may_change)
    if ckpts and not overwrite:
        try:
            step = load_checkpoint(ckpts[0], mmap=True).get("step")
            steps = f", step {step}" if step is not None else ""
        except CheckpointError:
            steps = ", unreadable"
        raise RunFolderError(f"--out {out} holds the checkpoint of an earlier run ({ckpts[0].relative_to(out)}"
                             f"{steps}): continue it with --resume, or start afresh (deleting it) with --overwrite")
    if (not overwrite and preset == "smoke" and out.resolve().parent.name == "reproductions"
            and m.get("preset") not in (None, "smoke")):
        raise RunFolderError(f"--out {out} holds the {m['preset']} report; a smoke run would replace it: "
                             f"add --overwrite to do so, or give another --out (default runs/{slug}/smoke)")
    prep = Prepared()
    if resume:
        print(f"--resume: {out} holds no checkpoint ({slug} writes none, or the earlier run stopped before its "
              f"first), so there is nothing to resume; the run starts from the beginning", file=sys.stderr)
        prep.notes.append("--resume did not apply: the run folder held no checkpoint, so everything was run "
                          "from the beginning.")
    # dotfiles (.gitignore) are not artifacts, nor is a longer report kept beside this one (reproductions/resnet/fig6)
    prep.stale = sorted(p.name for p in out.iterdir() if not p.name.startswith(".") and not _other_report(p, slug, preset))
    return prep


def _other_report(p: Path, slug: str, preset: str) -> bool:
    """A sub-folder holding a report of the same paper with another preset (kept by --overwrite)."""
    try:
        m = json.loads((p / "metrics.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(m, dict) and m.get("paper") == slug and m.get("preset") not in (None, preset)


def clear(out: str | os.PathLike, prep: Prepared) -> None:
    """Remove an earlier run's artifacts (``prep.stale``) from a run folder, for a fresh run."""
    for name in prep.stale:
        p = Path(out) / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


def _check_resume(out: Path, slug: str, seed: int, config: dict, ckpts: list[Path], m: dict,
                  may_change: dict) -> Prepared:
    diffs: dict[str, tuple] = {}
    for ck in ckpts:
        meta = read_run_meta(ck)
        if meta is None:  # a checkpoint from before checkpoints carried their run: compare config.json
            meta = {"paper": m["paper"], "seed": m.get("seed"), "config": m.get("config")}
            if meta["config"] is None:
                continue
        if meta.get("paper") not in (None, slug):
            raise ResumeMismatch(f"--resume: {ck} belongs to a run of {meta['paper']!r}, not {slug!r}; "
                                 f"give another --out")
        if meta.get("seed") is not None and int(meta["seed"]) != seed:
            raise ResumeMismatch(f"--resume: {ck} was written with --seed {meta['seed']}, this run has --seed "
                                 f"{seed}; resume with --seed {meta['seed']}, or start afresh with --overwrite")
        diffs.update(config_diff(meta["config"], config))
    refused = {k: v for k, v in diffs.items() if k not in may_change}
    if refused:
        what = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in refused.items())
        raise ResumeMismatch(f"--resume: the checkpoint in {out} was written with another config ({what}); these "
                             f"change the results, so resume with the checkpoint's values (in {out / 'config.json'})"
                             f" or start afresh with --overwrite")
    prep = Prepared(resuming=True, checkpoints=ckpts, changes=diffs)
    for k, (a, b) in diffs.items():
        prep.notes.append(f"Resumed with {k} changed from {a!r} to {b!r}: {may_change[k]}.")
    return prep
