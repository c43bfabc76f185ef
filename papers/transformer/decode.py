"""Inference of §6.1: greedy decoding, beam search (beam 4, length penalty alpha = 0.6, maximum output
length = input length + 50, terminating early when possible) and averaging of the last checkpoints.

"For the base models, we used a single model obtained by averaging the last 5 checkpoints, which
were written at 10-minute intervals. ... We used beam search with a beam size of 4 and length penalty
alpha = 0.6. ... We set the maximum output length during inference to input length + 50, but terminate
early when possible." (§6.1). The length penalty is that of Wu et al. (2016), which the paper cites:
lp(Y) = ((5 + |Y|) / 6)^alpha; hypotheses are ranked by log P(Y|X) / lp(Y).

Both decoders are batched and reuse the decoder's keys/values (``Transformer.new_cache``).
"""
from __future__ import annotations

from pathlib import Path

import torch

from .model import Transformer


def length_penalty(length: int | torch.Tensor, alpha: float):
    """Wu et al. (2016), Eq. (14): ((5 + |Y|) / 6)^alpha."""
    return ((5.0 + length) / 6.0) ** alpha


def _max_lengths(src: torch.Tensor, pad_id: int, extra: int) -> torch.Tensor:
    return (src != pad_id).sum(1) + extra                                  # [B] input length + 50, §6.1


@torch.no_grad()
def greedy_decode(model: Transformer, src: torch.Tensor, bos: int, eos: int, max_extra: int = 50
                  ) -> list[list[int]]:
    """Arg-max decoding of a batch src [B, S]; returns token ids without <s> and </s>.

    At most ``input length + max_extra`` tokens are produced (not counting </s>); beam search likewise.
    """
    model.eval()
    pad = model.cfg.pad_id
    memory, src_mask = model.encode(src)
    B = src.size(0)
    max_len = _max_lengths(src, pad, max_extra)
    cache = model.new_cache()
    y = torch.full((B, 1), bos, dtype=torch.long, device=src.device)
    out = [[] for _ in range(B)]
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    for t in range(int(max_len.max())):
        logits = model.decode(y, memory, src_mask, cache=cache, start=t)[:, -1]   # [B, V]
        nxt = logits.argmax(-1)
        for b in (~done).nonzero().flatten().tolist():
            if int(nxt[b]) != eos:
                out[b].append(int(nxt[b]))
        done |= (nxt == eos) | (t + 1 >= max_len)                                 # stop at </s> or input + 50
        if bool(done.all()):
            break
        y = nxt.unsqueeze(1)
    return out


def _reorder_cache(cache: list[dict], index: torch.Tensor) -> None:
    for layer in cache:
        for kind in ("self", "cross"):
            c = layer[kind]
            if "k" in c:
                c["k"], c["v"] = c["k"].index_select(0, index), c["v"].index_select(0, index)


@torch.no_grad()
def beam_search(model: Transformer, src: torch.Tensor, bos: int, eos: int, beam: int = 4, alpha: float = 0.6,
                max_extra: int = 50, early_stop: bool = True) -> list[list[int]]:
    """Batched beam search (§6.1) over src [B, S]; returns the best hypothesis per sentence (ids, no <s>/</s>).

    Each step expands the ``beam`` alive hypotheses of every sentence, moves those that end in </s> to
    the finished set (score = log P / lp, Wu et al. 2016) and keeps the ``beam`` best others alive. A
    sentence stops once it has ``beam`` finished hypotheses and none alive can still beat the worst of
    them at the current length ("terminate early when possible"), or at input length + 50.
    ``early_stop=False`` bounds an alive hypothesis by its score normalised at the maximum length instead
    (exact, as tensor2tensor does; slower because sentences rarely stop before input + 50).
    """
    model.eval()
    pad, k = model.cfg.pad_id, beam
    B, dev = src.size(0), src.device
    memory, src_mask = model.encode(src)
    memory, src_mask = memory.repeat_interleave(k, 0), src_mask.repeat_interleave(k, 0)   # [B*k, S, d]
    max_len = _max_lengths(src, pad, max_extra).tolist()
    cache = model.new_cache()
    scores = torch.zeros(B, k, device=dev)
    scores[:, 1:] = float("-inf")                     # all beams start identical: expand only the first
    hyps = torch.full((B * k, 1), bos, dtype=torch.long, device=dev)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]
    done = [False] * B
    for t in range(max(max_len)):
        logits = model.decode(hyps[:, -1:], memory, src_mask, cache=cache, start=t)[:, -1]  # [B*k, V]
        logp = logits.float().log_softmax(-1).view(B, k, -1)
        V = logp.size(-1)
        cand = (scores.unsqueeze(-1) + logp).view(B, k * V)                       # [B, k*V]
        top, idx = cand.topk(2 * k, dim=-1)                                       # at most k of them end in </s>
        origin, token = idx // V, idx % V                                         # [B, 2k]
        is_eos = token == eos
        lp = length_penalty(t + 1, alpha)
        top_l, origin_l, token_l, eos_l = top.tolist(), origin.tolist(), token.tolist(), is_eos.tolist()
        hyps_l = None
        for b in range(B):
            if done[b]:
                continue
            last = t + 1 >= max_len[b]
            for j in range(2 * k):
                if top_l[b][j] == float("-inf"):
                    break
                if eos_l[b][j] or (last and j < k):                               # finished (or forced at max length)
                    if hyps_l is None:
                        hyps_l = hyps.tolist()
                    seq = hyps_l[b * k + origin_l[b][j]][1:]
                    if not eos_l[b][j]:
                        seq = seq + [token_l[b][j]]
                    finished[b].append((top_l[b][j] / lp, seq))
            finished[b].sort(key=lambda x: -x[0])
            del finished[b][k:]
            alive = [top_l[b][j] for j in range(2 * k) if not eos_l[b][j]]
            bound_lp = lp if early_stop else length_penalty(max_len[b], alpha)
            best_alive = alive[0] / bound_lp if alive else float("-inf")
            if last or (len(finished[b]) >= k and finished[b][-1][0] >= best_alive):
                done[b] = True
        if all(done):
            break
        # keep the k best non-</s> candidates alive per sentence
        masked = top.masked_fill(is_eos, float("-inf"))
        keep_val, keep_pos = masked.topk(k, dim=-1)                               # [B, k]
        scores = keep_val.masked_fill(torch.tensor(done, device=dev).unsqueeze(1), float("-inf"))
        origin_k = origin.gather(1, keep_pos)                                     # [B, k]
        token_k = token.gather(1, keep_pos)
        flat = (origin_k + torch.arange(B, device=dev).unsqueeze(1) * k).flatten()  # [B*k]
        hyps = torch.cat([hyps.index_select(0, flat), token_k.flatten().unsqueeze(1)], dim=1)
        _reorder_cache(cache, flat)
    return [max(f, key=lambda x: x[0])[1] if f else [] for f in finished]


def average_checkpoints(states: list[dict]) -> dict:
    """§6.1: the element-wise mean of several model state dicts (non-float tensors from the last one)."""
    if not states:
        raise ValueError("average_checkpoints needs at least one state dict")
    keys = states[0].keys()
    for i, s in enumerate(states[1:], 1):
        if s.keys() != keys:
            raise ValueError(f"state dict {i} has different keys from state dict 0; average only checkpoints "
                             f"of one model")
    out = {}
    for name in keys:
        ts = [s[name] for s in states]
        out[name] = (torch.stack([t.float() for t in ts]).mean(0).to(ts[0].dtype) if ts[0].is_floating_point()
                     else ts[-1].clone())
    return out


def average_checkpoint_files(paths: list[str | Path], key: str = "model") -> dict:
    """Average the ``key`` entries of checkpoint files written by ``shared.checkpoint.save_checkpoint``."""
    from shared.checkpoint import load_checkpoint

    return average_checkpoints([load_checkpoint(p)[key] if key else load_checkpoint(p) for p in paths])
