"""Side by side with nanoGPT on its own CPU recipe (not a test): validation loss and wall time.

    python -m papers.gpt.parity --nanogpt /path/to/nanoGPT [--seeds 3] [--data-dir ../shared/data]

For each seed ``i``, alternating: nanoGPT's ``train.py`` with its README's CPU command (4 layers, 4 heads, 128-d,
context 64, batch 12, 2,000 iterations, no dropout; ``--always_save_checkpoint=True`` so that the checkpoint is
the model after 2,000 updates) at seed ``1337 + i``, then ``python -m papers.gpt.reproduce --preset quick
--set task=none --set sample_tokens=0`` at seed ``i``. Both are scored on the same metric: the mean next-character
loss over every non-overlapping 64-character window of the validation split (the last 10% of tiny
Shakespeare). Wall time is each process's, start to exit. nanoGPT's code is not part of this repository: point
``--nanogpt`` at a checkout; the script copies ``train.py`` into a scratch folder and patches its one hard-coded
seed (``torch.manual_seed(1337 + seed_offset)``), and writes ``data/shakespeare_char/{train,val}.bin`` with
nanoGPT's character encoding (``prepare.py`` would download the text).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from shared.data import read_text, registry

from .data import eval_windows

NANOGPT_CPU_COMMAND = ["config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
                       "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4",
                       "--n_embd=128", "--max_iters=2000", "--lr_decay_iters=2000", "--dropout=0.0"]


def prepare_nanogpt(src: Path, work: Path, text: str) -> Path:
    """A scratch copy of nanoGPT with its data files and a ``seed`` setting; returns its folder."""
    work.mkdir(parents=True, exist_ok=True)
    for f in ("train.py", "model.py", "configurator.py", "config/train_shakespeare_char.py"):
        (work / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / f, work / f)
    train = (work / "train.py").read_text()
    if "torch.manual_seed(1337 + seed_offset)" not in train:
        raise RuntimeError(f"{src / 'train.py'}: cannot find nanoGPT's seed line to patch")
    train = train.replace("torch.manual_seed(1337 + seed_offset)", "torch.manual_seed(seed + seed_offset)")
    train = train.replace("exec(open('configurator.py').read())", "seed = 1337\nexec(open('configurator.py').read())", 1)
    (work / "train.py").write_text(train)
    chars = sorted(set(text))  # nanoGPT's data/shakespeare_char/prepare.py
    stoi = {c: i for i, c in enumerate(chars)}
    n = len(text)
    d = work / "data" / "shakespeare_char"
    d.mkdir(parents=True, exist_ok=True)
    np.array([stoi[c] for c in text[:int(n * 0.9)]], dtype=np.uint16).tofile(d / "train.bin")
    np.array([stoi[c] for c in text[int(n * 0.9):]], dtype=np.uint16).tofile(d / "val.bin")
    import pickle
    with open(d / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)
    return work


@torch.no_grad()
def nanogpt_full_val(work: Path, ckpt: Path) -> float:
    """nanoGPT's checkpoint, scored on every non-overlapping 64-character validation window."""
    sys.path.insert(0, str(work))
    try:
        from model import GPT as NanoGPT, GPTConfig as NanoConfig  # nanoGPT's model.py
    finally:
        sys.path.remove(str(work))
    ck = torch.load(ckpt, map_location="cpu", weights_only=False)
    m = NanoGPT(NanoConfig(**ck["model_args"]))
    m.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in ck["model"].items()})
    m.eval()
    val = torch.from_numpy(np.fromfile(work / "data" / "shakespeare_char" / "val.bin", dtype=np.uint16).astype(np.int64))
    x, y = eval_windows(val, ck["model_args"]["block_size"])
    total = 0.0
    for xb, yb in zip(x.split(64), y.split(64)):
        logits, _ = m(xb, yb)
        total += torch.nn.functional.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum").item()
    return total / y.numel()


def run_nanogpt(work: Path, seed: int) -> dict:
    out = work / f"out-{seed}"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "train.py", *NANOGPT_CPU_COMMAND, "--always_save_checkpoint=True",
                    f"--seed={seed}", f"--out_dir={out}"], cwd=work, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    return {"seed": seed, "wall_s": round(wall, 1), "val_loss": round(nanogpt_full_val(work, out / "ckpt.pt"), 4)}


def run_ours(work: Path, seed: int, data_dir: str | None) -> dict:
    out = work / f"ours-{seed}"
    cmd = [sys.executable, "-m", "papers.gpt.reproduce", "--preset", "quick", "--out", str(out), "--seed", str(seed),
           "--set", "task=none", "--set", "sample_tokens=0"] + (["--data-dir", data_dir] if data_dir else [])
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])
    wall = time.perf_counter() - t0
    pre = json.loads((out / "metrics.json").read_text())["results"]["pretrain"]
    return {"seed": seed, "wall_s": round(wall, 1), "fit_s": pre["seconds"], "val_loss": round(pre["val_loss_full_split"], 4)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m papers.gpt.parity", description=__doc__.split("\n")[0])
    ap.add_argument("--nanogpt", required=True, help="a checkout of karpathy/nanoGPT")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--work", default="runs/gpt/parity")
    a = ap.parse_args(argv)
    text = read_text(registry.require("tinyshakespeare", "input.txt", a.data_dir))
    work = prepare_nanogpt(Path(a.nanogpt), Path(a.work).resolve() / "nanogpt", text)
    rows = []
    for i in range(a.first_seed, a.first_seed + a.seeds):
        rows.append({"nanogpt": run_nanogpt(work, 1337 + i), "ours": run_ours(Path(a.work).resolve(), i, a.data_dir)})
        print(json.dumps(rows[-1]), flush=True)
    summary = {k: {"val_loss_mean": round(statistics.mean(r[k]["val_loss"] for r in rows), 4),
                   "wall_s_mean": round(statistics.mean(r[k]["wall_s"] for r in rows), 1)} for k in ("nanogpt", "ours")}
    summary["wall_ratio_ours_over_nanogpt"] = round(summary["ours"]["wall_s_mean"] / summary["nanogpt"]["wall_s_mean"], 3)
    print(json.dumps({"runs": rows, "summary": summary}, indent=2))
    return {"runs": rows, "summary": summary}


if __name__ == "__main__":
    main()
