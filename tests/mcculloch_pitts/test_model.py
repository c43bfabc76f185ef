"""The neuron of §2's five assumptions, the Figure 1 nets and the nets with circles."""
import itertools

import pytest
import torch

from papers.mcculloch_pitts import calculus as C
from papers.mcculloch_pitts import model as M
from papers.mcculloch_pitts.loss import disagreement
from shared.profiling import count_params


def one_step_table(net, out):
    """Output at t = 1 for every input combination at t = 0: {inputs: fires}."""
    table = {}
    for bits in itertools.product([0, 1], repeat=len(net.afferents)):
        x = torch.zeros(1, len(net.afferents), 2, dtype=torch.bool)
        x[0, :, 0] = torch.tensor(bits, dtype=torch.bool)
        table[bits] = int(net.run(x, [out])[0, 0, 1])
    return table


@pytest.mark.parametrize("rule", M.RULES)
def test_figure1_abcd_truth_tables(rule):
    assert one_step_table(M.fig1a(rule), "N2") == {(0,): 0, (1,): 1}
    assert one_step_table(M.fig1b(rule), "N3") == {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 1}
    assert one_step_table(M.fig1c(rule), "N3") == {(0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 1}
    assert one_step_table(M.fig1d(rule), "N3") == {(0, 0): 0, (0, 1): 0, (1, 0): 1, (1, 1): 0}


def test_figure1f_relative_neuron_truth_table():
    net = M.fig1f()
    # ~N1.(N2 v N3) v N1.N2.N3
    want = {b: int((not b[0] and (b[1] or b[2])) or all(b)) for b in itertools.product([0, 1], repeat=3)}
    assert one_step_table(net, "N4") == want


@pytest.mark.parametrize("rule", M.RULES)
@pytest.mark.parametrize("key", list(M.VARIANTS))
def test_figure1_nets_meet_printed_formulas(key, rule):
    net = M.VARIANTS[key](rule)
    T = 5 if len(net.afferents) == 3 else 7
    for cell, formula in M.FIGURE1_FORMULAS[key].items():
        spec = M.fig1i_reference if key == "fig1i" else formula
        assert disagreement(net, spec, T, output=cell) == 0, (key, cell)


def test_threshold_convention_matters():
    """Same thetas, other rule: disjunction under 'exceeds' with theta=1 needs 2 synapses; read as 'reaches'
    a single end-bulb (conjunction's) suffices, so 1c becomes a disjunction."""
    c = M.fig1c("exceeds").with_rule("reaches")
    assert one_step_table(c, "N3") == {(0, 0): 0, (0, 1): 1, (1, 0): 1, (1, 1): 1}
    b = M.fig1b("reaches").with_rule("exceeds")
    assert one_step_table(b, "N3") == {(0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 1}
    assert M.theta_for(2, "exceeds") == 1 and M.theta_for(2, "reaches") == 2


def test_exceeds_is_strict():
    n = M.Neuron("N2", theta=2, excitatory={"N1": 2})
    net = M.Net(["N1"], [n], rule="exceeds")
    assert not net.run([[1, 0, 0]]).any()           # 2 excited synapses do not exceed theta = 2
    assert net.with_rule("reaches").run([[1, 0, 0]]).tolist() == [[False, True, False]]


def test_absolute_and_relative_inhibition():
    absolute = M.Neuron("N3", 0, {"N1": 3}, {"N2": 1})
    relative = M.Neuron("N3", 0, {"N1": 3}, {"N2": 1}, inhibition="relative")
    x = [[1, 0], [1, 0]]                              # N1 and N2 fire together at t = 0
    assert not M.Net(["N1", "N2"], [absolute]).run(x).any()          # (4): one synapse prevents firing
    assert M.Net(["N1", "N2"], [relative]).run(x).tolist() == [[False, True]]  # 3 > 0 + 1


def test_heat_cold_illusion_timings():
    net = M.fig1e()
    t0, T = 2, 16
    for k in range(1, 8):
        x = torch.zeros(2, T, dtype=torch.bool)
        x[1, t0:t0 + k] = True
        heat, cold = net.run(x, ["N3", "N4"])
        if k == 1:
            assert heat.nonzero().flatten().tolist() == [t0 + 3] and not cold.any()
        else:
            assert cold.nonzero().flatten().tolist() == list(range(t0 + 2, t0 + k + 1))
            assert heat.nonzero().flatten().tolist() == [t0 + k + 2]   # the after-warmth of the formula
    x = torch.zeros(2, T, dtype=torch.bool)
    x[0, t0] = True
    heat, cold = net.run(x, ["N3", "N4"])
    assert heat.nonzero().flatten().tolist() == [t0 + 1] and not cold.any()


def test_orders_and_depths():
    for key in "abcdefgh":
        assert M.VARIANTS[f"fig1{key}"]().order() == 0
    assert M.fig1i().order() == 1 and M.latch().order() == 1 and M.parity().order() == 1
    assert M.fig1e().depth()["N3"] == 3 and M.fig1g().depth()["N3"] == 3
    with pytest.raises(ValueError, match="circles"):
        M.latch().depth()


def test_silent_afferents_never_fire():
    import random
    rng = random.Random(0)
    x = torch.zeros(1, 2, 12, dtype=torch.bool)
    for i in range(40):
        net = C.random_net(rng, 2, 6, circles=i % 2 == 0, relative=0.5)
        assert not net(x).any()
    for build in [*M.VARIANTS.values(), *M.CYCLIC.values()]:
        net = build()
        assert not net(torch.zeros(1, len(net.afferents), 10, dtype=torch.bool)).any()


def test_circles():
    x = C.all_histories(2, 7)
    assert torch.equal(M.latch()(x)[:, 2], M.latch_reference(x))
    assert torch.equal(M.fig1i()(x)[:, M.fig1i().index["N3"]], M.fig1i_reference(x))
    x1 = C.all_histories(1, 12)
    net = M.parity()
    assert torch.equal(net(x1)[:, net.index["R"]], M.parity_reference(x1))
    # a single pulse is remembered however long ago it came
    y = net.run([[1] + [0] * 30])
    assert y[0, M.PARITY_LAG:].all() and not y[0, :M.PARITY_LAG].any()


def test_fig1i_quantifier_readings_agree():
    """(Ex)_{t-1}: x <= t-1 and x < t-1 give the same sentence (at x = t-1, N2(t-1) already holds)."""
    x = C.all_histories(2, 7)
    N1, N2 = x[:, 0], x[:, 1]
    seen_before = torch.nn.functional.pad(torch.cumsum((N1 & N2).long(), -1) > 0, (1, 0))[:, :-1]   # x < t
    strict = torch.nn.functional.pad(N2 | (N1 & seen_before), (1, 0))[:, :-1]
    assert torch.equal(strict, M.fig1i_reference(x))


def test_order0_nets_have_bounded_memory_circles_do_not():
    import random
    rng = random.Random(1)
    x = C.all_histories(2, 6)
    for _ in range(20):
        net = C.random_net(rng, 2, 5)
        acts, depth = net(x), net.depth()
        for c in net.outputs:
            assert all(C.is_window_function(x, acts[:, net.index[c]], t, depth[c]) for t in range(6))
    x1 = C.all_histories(1, 10)
    y = M.parity()(x1)[:, M.parity().index["R"]]
    assert not any(C.is_window_function(x1, y, 9, d) for d in range(1, 9))


def test_bad_input_errors():
    with pytest.raises(ValueError, match="fire with no"):
        M.Net(["N1"], [M.Neuron("N2", -1, {"N1": 1})])
    with pytest.raises(ValueError, match="fire with no"):
        M.Net(["N1"], [M.Neuron("N2", 0, {"N1": 1})], rule="reaches")
    with pytest.raises(ValueError, match="unknown cells"):
        M.Net(["N1"], [M.Neuron("N2", 1, {"N9": 2})])
    with pytest.raises(ValueError, match="positive"):
        M.Neuron("N2", 1, {"N1": 0})
    with pytest.raises(ValueError, match="unique"):
        M.Net(["N1"], [M.Neuron("N1", 1, {"N1": 2})])
    with pytest.raises(ValueError, match="rule"):
        M.Net(["N1"], [], rule="at-least")
    with pytest.raises(ValueError, match=r"\[B, P=2, T\]"):
        M.fig1b()(torch.zeros(4, 3, 5))


def test_variants_contract():
    assert list(M.VARIANTS) == [f"fig1{k}" for k in "abcdefghi"]
    for build in M.VARIANTS.values():
        net = build()
        assert isinstance(net, torch.nn.Module) and count_params(net) == 0   # assumption (5): nothing learns
