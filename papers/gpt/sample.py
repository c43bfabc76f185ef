"""Sample text from a trained GPT with temperature and top-k, from the command line.

    python -m papers.gpt.sample --run reproductions/gpt --prompt "ROMEO:" --max-new-tokens 500 \\
        --temperature 0.8 --top-k 200 --seed 0

``--run`` is the out dir of ``papers.gpt.reproduce`` (it reads ``pretrain/gpt_config.json``,
``pretrain/tokenizer.json`` and ``pretrain/checkpoint.pt``). ``--hf DIR`` samples from a Hugging Face
``openai-gpt`` / ``gpt2`` checkpoint folder instead (its ``tokenizer.json`` must be in the folder).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

from shared.checkpoint import load_checkpoint
from shared.device import get_device

from .data import load_tokenizer
from .interop import from_pretrained
from .model import GPT, load_config


def load_run(run_dir: str | Path) -> tuple[GPT, object]:
    d = Path(run_dir) / "pretrain"
    for f in ("gpt_config.json", "tokenizer.json", "checkpoint.pt"):
        if not (d / f).is_file():
            raise FileNotFoundError(f"{d / f} not found: --run must be the --out folder of a finished "
                                    f"`python -m papers.gpt.reproduce` run (checkpoints are not committed; rerun "
                                    f"`make gpt` to create one)")
    model = GPT(load_config(d / "gpt_config.json"))
    model.load_state_dict(load_checkpoint(d / "checkpoint.pt")["model"])
    return model, load_tokenizer(d / "tokenizer.json")


def load_hf(path: str | Path) -> tuple[GPT, object]:
    from tokenizers import Tokenizer

    from .data import BPETokenizer

    tok_file = Path(path) / "tokenizer.json"
    if not tok_file.is_file():
        raise FileNotFoundError(f"{tok_file} not found: --hf needs the checkpoint's tokenizer.json beside config.json")
    return from_pretrained(path), BPETokenizer(Tokenizer.from_file(str(tok_file)))


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(prog="python -m papers.gpt.sample", description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="out dir of papers.gpt.reproduce")
    src.add_argument("--hf", help="a Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer.json)")
    ap.add_argument("--prompt", default="\n")
    ap.add_argument("--max-new-tokens", type=int, default=500)
    ap.add_argument("--temperature", type=float, default=0.8, help="> 0; lower is more conservative")
    ap.add_argument("--top-k", type=int, default=200, help="keep the k most likely tokens (0: all)")
    ap.add_argument("--greedy", action="store_true", help="argmax decoding (ignores temperature and top-k)")
    ap.add_argument("--num-samples", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--unknown", choices=("error", "drop"), default="error",
                    help="prompt characters outside the model's vocabulary: an error (default) or left out")
    a = ap.parse_args(argv)
    # every number checked before the model is loaded (issue 11, item 8)
    if not a.greedy and not (math.isfinite(a.temperature) and a.temperature > 0):
        ap.error(f"--temperature {a.temperature} must be a finite number > 0 (or --greedy for argmax decoding)")
    if a.top_k < 0:
        ap.error(f"--top-k {a.top_k} must be >= 0 (0 keeps every token)")
    if a.max_new_tokens < 0:
        ap.error(f"--max-new-tokens {a.max_new_tokens} must be >= 0")
    if a.num_samples < 1:
        ap.error(f"--num-samples {a.num_samples} must be >= 1")
    if not 0 <= a.seed < 2 ** 63:
        ap.error(f"--seed {a.seed} must be >= 0 and < 2**63")
    device = get_device(a.device)
    model, tok = load_run(a.run) if a.run else load_hf(a.hf)
    model.to(device).eval()
    try:
        ids = tok.encode(a.prompt)
    except ValueError:
        vocab = getattr(tok, "stoi", {})
        unknown = sorted({c for c in a.prompt if c not in vocab})
        if a.unknown == "error":
            ap.error(f"--prompt has characters outside the model's vocabulary: {''.join(unknown)!r}; "
                     f"--unknown drop leaves them out")
        ids = tok.encode("".join(c for c in a.prompt if c in vocab))
    if not ids:
        ap.error("--prompt encodes to no tokens; give at least one character")
    gen = torch.Generator(device=device).manual_seed(a.seed)
    outs = []
    for _ in range(a.num_samples):
        out = model.generate(torch.tensor([ids], device=device), a.max_new_tokens, temperature=a.temperature,
                             top_k=a.top_k or None, greedy=a.greedy, generator=gen)
        outs.append(tok.decode(out[0].tolist()))
    text = "\n---------------\n".join(outs)
    sys.stdout.write(text + "\n")
    return text


if __name__ == "__main__":
    main()
