"""§6.1: greedy and beam search (beam 4, alpha 0.6, input + 50), batched; checkpoint averaging."""
import itertools

import pytest
import torch

from papers.transformer.decode import average_checkpoints, beam_search, greedy_decode, length_penalty
from papers.transformer.model import Transformer, TransformerConfig

BOS, EOS = 1, 2


def model(V=12, seed=0):
    torch.manual_seed(seed)
    m = Transformer(TransformerConfig(vocab_size=V, N=1, d_model=16, d_ff=32, h=2, P_drop=0.0, max_len=80))
    with torch.no_grad():   # make </s> neither certain nor impossible
        m.embed.weight.mul_(3)
    return m.eval()


def naive_greedy(m, src, max_extra):
    y = torch.tensor([[BOS]])
    out = []
    for _ in range(int((src != 0).sum()) + max_extra):
        nxt = int(m(src, y)[0, -1].argmax())
        if nxt == EOS:
            break
        out.append(nxt)
        y = torch.cat([y, torch.tensor([[nxt]])], 1)
    return out


def score(m, src, seq, alpha, ended=True):
    tgt_in = torch.tensor([[BOS] + seq])
    tgt = seq + [EOS] if ended else seq
    logp = m(src, tgt_in if ended else tgt_in[:, :-1]).log_softmax(-1)[0]
    s = sum(logp[i, t].item() for i, t in enumerate(tgt))
    return s / length_penalty(len(tgt), alpha)


def test_greedy_matches_naive_loop_and_respects_max_length():
    m = model()
    src = torch.tensor([[5, 6, 7, 2, 0], [8, 9, 10, 11, 2]])
    out = greedy_decode(m, src, BOS, EOS, max_extra=4)
    for b in range(2):
        s = src[b:b + 1, : int((src[b] != 0).sum())]
        assert out[b] == naive_greedy(m, s, 4)
        assert len(out[b]) <= int((src[b] != 0).sum()) + 4


def test_beam_one_equals_greedy():
    m = model(seed=1)
    src = torch.tensor([[5, 6, 7, 2], [8, 9, 2, 0]])
    assert beam_search(m, src, BOS, EOS, beam=1, alpha=0.6, max_extra=6) == greedy_decode(m, src, BOS, EOS, 6)


def test_beam_is_batched_independently():
    m = model(seed=2)
    src = torch.tensor([[5, 6, 7, 8, 2], [9, 10, 2, 0, 0], [11, 5, 6, 2, 0]])
    batched = beam_search(m, src, BOS, EOS, beam=4, alpha=0.6, max_extra=5)
    for b in range(3):
        s = src[b:b + 1, : int((src[b] != 0).sum())]
        assert beam_search(m, s, BOS, EOS, beam=4, alpha=0.6, max_extra=5)[0] == batched[b]


def test_wide_beam_finds_the_best_normalised_hypothesis():
    """With a beam wider than every prefix set, beam search is exhaustive: compare with brute force."""
    V = 6
    m = model(V=V, seed=3)
    src = torch.tensor([[4, 2]])                    # input length 2 -> outputs of at most 2 + 1 tokens
    best = beam_search(m, src, BOS, EOS, beam=64, alpha=0.6, max_extra=1)[0]
    words = [0, 1, 3, 4, 5]                         # every id but </s>
    cands = []
    for n in range(0, 3):
        for seq in itertools.product(words, repeat=n):
            cands.append((score(m, src, list(seq), 0.6), list(seq)))
    for seq in itertools.product(words, repeat=3):   # forced stop at the maximum length (no </s>)
        cands.append((score(m, src, list(seq), 0.6, ended=False), list(seq)))
    top = max(cands)
    assert best == top[1]


def test_length_penalty():
    assert length_penalty(1, 0.6) == pytest.approx(1.0)
    assert length_penalty(11, 0.6) == pytest.approx((16 / 6) ** 0.6)


def test_average_checkpoints():
    a = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(1)}
    b = {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(2)}
    avg = average_checkpoints([a, b])
    assert torch.equal(avg["w"], torch.tensor([2.0, 4.0])) and int(avg["n"]) == 2
    with pytest.raises(ValueError, match="different keys"):
        average_checkpoints([a, {"x": torch.zeros(1)}])
    with pytest.raises(ValueError, match="at least one"):
        average_checkpoints([])


def test_average_of_model_snapshots_loads():
    m1, m2 = model(seed=4), model(seed=5)
    avg = average_checkpoints([m1.state_dict(), m2.state_dict()])
    m3 = model()
    m3.load_state_dict(avg)
    assert torch.allclose(m3.embed.weight, (m1.embed.weight + m2.embed.weight) / 2)


def test_exact_stopping_never_worse_than_early_stopping():
    m = model(seed=6)
    src = torch.tensor([[5, 6, 7, 2], [8, 9, 2, 0]])
    early = beam_search(m, src, BOS, EOS, beam=3, alpha=0.6, max_extra=4)
    exact = beam_search(m, src, BOS, EOS, beam=3, alpha=0.6, max_extra=4, early_stop=False)
    for b in range(2):
        s = src[b:b + 1, : int((src[b] != 0).sum())]
        lim = int((src[b] != 0).sum()) + 4
        sc = lambda seq: score(m, s, seq, 0.6, ended=len(seq) < lim)  # noqa: E731
        assert sc(exact[b]) >= sc(early[b]) - 1e-5
