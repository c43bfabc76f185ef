"""TPEs and Theorems I-IV; the loss."""
import random

import pytest
import torch

from papers.mcculloch_pitts import calculus as C
from papers.mcculloch_pitts import model as M
from papers.mcculloch_pitts.loss import disagreement, histories_counted


def test_parse_and_print():
    e = C.parse("N1(t-1) | N2(t-3) & ~N2(t-2)")
    assert e == C.Or(C.P("N1", 1), C.And(C.P("N2", 3), C.Not(C.P("N2", 2))))
    assert str(e) == "N1(t-1) ∨ N2(t-3) · ¬N2(t-2)"
    assert C.parse(str(e)) == e
    assert C.parse("S(p1 . ~p2)") == C.S(C.And(C.P("p1"), C.Not(C.P("p2"))))
    assert C.parse("p -> q <-> r") == C.Iff(C.Implies(C.P("p"), C.P("q")), C.P("r"))
    with pytest.raises(ValueError, match="quantifiers"):
        C.parse("N1(t) & (Ex) N2(x)")
    with pytest.raises(C.NotATPE, match="future"):
        C.parse("N1(t+1)")


def test_evaluate_and_flatten():
    x = torch.tensor([[[1, 0, 0, 1], [0, 0, 1, 1]]], dtype=torch.bool)     # p1, p2 over 4 steps
    e = C.S(C.And(C.P("p1"), C.Not(C.P("p2"))))
    assert C.evaluate(e, x, ["p1", "p2"]).tolist() == [[False, True, False, False]]
    assert C.flatten(e) == C.And(C.P("p1", 1), C.Not(C.P("p2", 1)))
    assert C.atoms("S(p1) | p2(t-3)") == [("p1", 1), ("p2", 3)]


def test_tpe_syntax_is_the_papers_recursion():
    ok = ["p1", "S(p1)", "p1 | p2", "p1 & p2", "p1 & ~p2", "S(S(p1) & ~p2) | p2(t-2)"]
    bad = ["~p1", "~p1 & p2", "p1 | ~p2", "p1 -> p2", "p1 <-> p2", "~(p1 & ~p2) & p1"]
    assert all(C.is_tpe_syntax(C.parse(s)) for s in ok)
    assert not any(C.is_tpe_syntax(C.parse(s)) for s in bad)


def test_theorem3_refuses_bare_negation_with_reason():
    for s in ["~p1(t-1)", "p1(t) -> p2(t)", "p1 <-> p2", "~(p1 & p2)"]:
        with pytest.raises(C.NotATPE, match="Theorem III") as err:
            C.tpe(s)
        assert "silent" in str(err.value) and "S1 · ¬S2" in str(err.value)
    with pytest.raises(C.NotATPE):
        C.realize("~p1(t-1)")


def test_theorem3_admits_and_converts():
    s = C.parse("p2(t) & (p1(t-1) -> p2(t))")
    assert C.is_tpe(s) and not C.is_tpe_syntax(s)
    e = C.tpe(s)
    assert C.is_tpe_syntax(e) and C.equivalent(e, s)
    e = C.tpe("~p1 & p2 | (p1 <-> p2) & p1")      # false when p1, p2 are false, so admitted
    assert C.is_tpe_syntax(e) and C.equivalent(e, "~p1 & p2 | (p1 <-> p2) & p1")
    assert C.equivalent(C.tpe("p1 & ~p1"), "p1 & ~p1")                    # never true: still a TPE


def test_theorem3_three_conditions_agree_on_random_sentences():
    rng = random.Random(0)
    kinds = set()
    for _ in range(150):
        s = C.random_sentence(rng, ["p1", "p2"], 3, 2)
        conds = C.theorem3_conditions(s)
        assert len(set(conds.values())) == 1, (str(s), conds)
        kinds.add(conds["false_when_constituents_false"])
        if C.is_tpe(s):
            e = C.tpe(s)
            assert C.is_tpe_syntax(e) and C.equivalent(e, s)
        else:
            with pytest.raises(C.NotATPE):
                C.tpe(s)
    assert kinds == {True, False}


def test_theorem1_recovers_figure1_formulas():
    for key in "abcdefgh":
        net = M.VARIANTS[f"fig1{key}"]()
        sol = C.solve(net)
        for cell, formula in M.FIGURE1_FORMULAS[f"fig1{key}"].items():
            assert C.is_tpe_syntax(sol[cell])
            assert C.equivalent(sol[cell], formula), (key, cell, str(sol[cell]))
    with pytest.raises(ValueError, match="order 0"):
        C.solve(M.fig1i())


def test_theorem1_on_random_nets():
    rng = random.Random(2)
    x = C.all_histories(2, 6)
    for _ in range(40):
        net = C.random_net(rng, 2, 5, relative=0.3)
        sol, acts = C.solve(net), net(x)
        for c in net.cells:
            assert torch.equal(C.evaluate(sol[c], x, net.afferents), acts[:, net.index[c]])


def test_theorem2_realizes_figure1e_as_in_the_paper():
    r = C.realize(M.FIGURE1_FORMULAS["fig1e"])
    assert r.lags == {"N3": 0, "N4": 0}                 # narrow sense, like the paper's net
    assert len(r.net.neurons) == 4                       # c_a, c_b, N3, N4 as in §2 p. 106-107
    for cell, f in M.FIGURE1_FORMULAS["fig1e"].items():
        assert disagreement(r.net, f, 7, output=r.cells[cell]) == 0


def test_theorem2_round_trip_on_random_tpes():
    rng = random.Random(3)
    for _ in range(60):
        e = C.random_tpe(rng, ["p1", "p2"], 4)
        r = C.realize(e, names=["p1", "p2"])
        assert r.net.order() == 0
        assert all(n.inhibition == "absolute" for n in r.net.neurons)
        assert C.equivalent(C.solve(r.net)[r.output], C.delay(e, r.lag))     # TPE -> net -> TPE
        assert disagreement(r.net, e, 5, output=r.output, lag=r.lag) == 0


def test_theorem4_relative_neuron_to_absolute_is_one_delay_later():
    rng = random.Random(4)
    x = C.all_histories(3, 3)
    for _ in range(60):
        exc = {s: rng.randint(1, 3) for s in rng.sample(["N1", "N2", "N3"], rng.randint(1, 3))}
        inh = {s: rng.randint(1, 2) for s in rng.sample(["N1", "N2", "N3"], rng.randint(1, 2))}
        n = M.Neuron("R", M.theta_for(rng.randint(1, sum(exc.values()))), exc, inh, "relative")
        net = M.Net(["N1", "N2", "N3"], [n, *M.relative_to_absolute_neuron(n)])
        a = net(x)
        assert all(m.inhibition == "absolute" for m in net.neurons[1:])
        assert torch.equal(a[:, net.index["R'"], 1:], a[:, net.index["R"], :-1])
        assert not a[:, net.index["R'"], 0].any()


def test_theorem4_whole_nets_both_ways():
    rng = random.Random(5)
    x = C.all_histories(2, 6)
    for i in range(30):
        net = C.random_net(rng, 2, 4, relative=0.8)
        r = C.relative_to_absolute(net)
        out, lag = net.outputs[0], r.lags[net.outputs[0]]
        assert all(n.inhibition == "absolute" for n in r.net.neurons)
        got = r.net(x)[:, r.net.index[r.cells[out]]]
        want = torch.nn.functional.pad(net(x)[:, net.index[out]], (lag, 0))[:, :6]
        assert torch.equal(got, want)
        cyclic = C.random_net(rng, 2, 4, circles=True)
        rel = C.absolute_to_relative(cyclic)
        assert all(n.inhibition == "relative" for n in rel.neurons if n.inhibitory)
        assert torch.equal(rel(x), cyclic(x))


def test_loss_hand_computed():
    net = M.fig1a()                                      # N2(t) = N1(t-1)
    assert disagreement(net, "N1(t-1)", 4) == 0
    # spec N1(t): length 1 -> [1] differs; length 2 -> 01, 10, 11 differ: 1 + 3 = 4
    assert disagreement(net, "N1(t)", 2) == 4
    assert disagreement(net, "N1(t)", 1, lag=1) == 0      # realised in the extended sense, lag 1
    assert histories_counted(1, 2) == 2 + 4
    never = M.Net(["N1"], [M.Neuron("N2", 5, {"N1": 1})])
    # spec N1(t-1): a history of length l disagrees iff N1 fired before l-1: 2^l - 2^1 ... summed
    assert disagreement(never, "N1(t-1)", 3) == 0 + 2 + 6


def test_all_histories_and_limits():
    x = C.all_histories(2, 3)
    assert x.shape == (64, 2, 3) and len({tuple(h.flatten().tolist()) for h in x}) == 64
    with pytest.raises(ValueError, match="P\\*T"):
        C.all_histories(3, 10)
