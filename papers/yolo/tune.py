"""How the quick preset's training hyper-parameters were chosen: on a validation hold-out carved from the
*training* images, never on the test split. No counterpart in the paper: §2.2 gives its values (trained on
VOC 2007+2012 train and validation data), not how they were found.

    python -m papers.yolo.tune --data-dir ../shared/data [--out runs/yolo/tune] \\
        [--grid lr=0.0025,0.005,0.01] [--grid batch_size=16,32] [--set key=value ...]

Every candidate (the product of the ``--grid`` values) is the ``quick`` preset with ``holdout=32``
(raccoon: train on 128 of the 160 training images, score the other 32, drawn with ``holdout_seed``),
the preset's seeds, no ablation arms and no speed measurement; each is a ``reproduce.py`` run in
``<out>/<candidate>/`` (a finished candidate is not rerun, so an interrupted search continues). The
choice is the candidate with the highest mean hold-out mAP@0.5 (pycocotools) over the seeds; the record,
``<out>/selection.json`` and ``selection.md``, gives every candidate's per-seed numbers, the command and
the commit. ``papers/yolo/selection.json`` is the committed record the quick preset's values come from
(a test checks that they agree).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from shared.cli import git_commit

from . import reproduce

HOLDOUT = 32                                  # of raccoon's 160 training images (128 / 32)
DEFAULT_GRID = {"lr": ["0.0025", "0.005", "0.01"]}
COMMITTED = Path(__file__).with_name("selection.json")


def _name(sets: dict) -> str:
    return "_".join(f"{k}={v}" for k, v in sets.items()) or "preset"


def run_candidate(sets: dict, out: Path, data_dir, extra: list[str]) -> dict:
    """One candidate: the quick preset scored on the training-split hold-out; its per-seed results."""
    folder = out / _name(sets)
    metrics = folder / "metrics.json"
    argv = ["--preset", "quick", "--out", str(folder), "--overwrite",
            "--set", f"holdout={HOLDOUT}", "--set", "ablations=", "--set", "fps_variants=", "--set", "draw=0",
            *[a for k, v in sets.items() for a in ("--set", f"{k}={v}")], *extra]
    if data_dir:
        argv += ["--data-dir", str(data_dir)]
    if not metrics.is_file() or json.loads(metrics.read_text()).get("tune_argv") != argv:
        reproduce.main(argv)
        m = json.loads(metrics.read_text())
        m["tune_argv"] = argv                 # marks a finished candidate of this exact search
        metrics.write_text(json.dumps(m, indent=1))
    m = json.loads(metrics.read_text())
    runs = [r for r in m["results"]["runs"].values() if r["tag"] == "yolo"]
    mean = lambda k: sum(100 * r[k] for r in runs) / len(runs)  # noqa: E731
    return {"set": sets, "seeds": [r["seed"] for r in runs], "mAP50": [round(100 * r["mAP50"], 2) for r in runs],
            "mAP50_mean": round(mean("mAP50"), 2), "voc07_mAP50_mean": round(mean("voc07_mAP50"), 2),
            "mAP_mean": round(mean("mAP"), 2), "baseline_mAP50": round(100 * m["results"]["baseline"]["AP50"], 2),
            "commit": m["environment"]["commit"], "data": m["results"]["data_source"],
            "config": m["config"]}              # the candidate's resolved config (a test compares it with the preset)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m papers.yolo.tune", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/yolo/tune")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                    help=f"values to try for a config key (repeatable); default {DEFAULT_GRID}")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="a fixed override for every candidate")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    grid = dict(DEFAULT_GRID) if not a.grid else {k: v.split(",") for k, v in (g.split("=", 1) for g in a.grid)}
    extra = [x for s in a.sets for x in ("--set", s)]
    out = Path(a.out)
    cands = [run_candidate(dict(zip(grid, vals)), out, a.data_dir, extra) for vals in itertools.product(*grid.values())]
    best = max(cands, key=lambda c: c["mAP50_mean"])
    record = {"purpose": "the quick preset's training hyper-parameters, chosen on a validation hold-out of the "
                         "training split (never the test split)",
              "command": " ".join(["python -m papers.yolo.tune", *(sys.argv[1:] if argv is None else argv)]),
              "commit": git_commit(["papers/yolo", "shared"]), "holdout": HOLDOUT, "grid": grid, "fixed": a.sets,
              "criterion": "highest mean hold-out mAP@0.5 (pycocotools) over the quick preset's seeds",
              "candidates": cands, "chosen": best["set"]}
    (out / "selection.json").write_text(json.dumps(record, indent=1) + "\n")
    (out / "selection.md").write_text(markdown(record))
    print(markdown(record))
    return record


def markdown(record: dict) -> str:
    """The selection record as a table (for the reports)."""
    rows = ["| candidate | hold-out mAP@0.5 per seed (%) | mean | VOC07 mean | mAP@[.5:.95] mean |",
            "|---|---|---|---|---|"]
    for c in record["candidates"]:
        mark = " (chosen)" if c["set"] == record["chosen"] else ""
        rows.append(f"| {_name(c['set'])}{mark} | {c['mAP50']} | {c['mAP50_mean']} | {c['voc07_mAP50_mean']} | "
                    f"{c['mAP_mean']} |")
    base = record["candidates"][0]["baseline_mAP50"] if record["candidates"] else None
    return (f"Chosen on {record['holdout']} images held out of the training split ({record['criterion']}); "
            f"prior-box baseline on the hold-out {base} mAP@0.5; `{record['command']}` at commit "
            f"{record['commit']}.\n\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
