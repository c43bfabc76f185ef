"""Layered nets of logistic units and the generalised delta rule, written out by hand (numpy).

Read beside the paper (Nature 323, 533-536). No autograd anywhere: ``Net.forward`` is Eqs. (1)-(2),
``Net.backward`` is Eqs. (4)-(7), ``Net.step`` is Eqs. (8)-(9) plus the weight decay of the
family-trees experiment. ``IterativeNet`` is the recurrent net of Fig. 5 and ``IterativeNet.unroll``
builds its equivalent layered net with tied weights.

A net is a list of *groups* of units in an order where every connection runs from an earlier group
to a later one (the paper: "a layered network ... units in higher layers never send to lower
layers"; connections may skip layers, as in the PDP XOR net). Input groups are clamped; every other
group has a bias, "treated as a weight on an extra input line that always has an activity of 1".

Conventions: a state array is ``[C, n]`` (C cases, n units). The weight matrix of the connection
from group i to group j is ``W[i->j]`` of shape ``[n_i, n_j]``: entry (i, j) is the paper's w_ji.
"""
from __future__ import annotations

import numpy as np

from .loss import squared_error


def logistic(x: np.ndarray) -> np.ndarray:
    """Eq. (2): y_j = 1 / (1 + e^{−x_j})."""
    return 1.0 / (1.0 + np.exp(-x))


class Net:
    """A layered net of logistic units with full-batch gradient descent and momentum.

    groups: ``{name: number of units}`` in layer order (inputs first).
    inputs: names of the clamped input groups.
    connections: ``(from_group, to_group)`` pairs; each is a full weight matrix.
    ties: sets of parameter names whose values are kept equal; their ∂E/∂w are averaged
        ("we simply average ∂E/∂w for all the weights in each set of corresponding weights", Fig. 5).
    init_range: initial weights and biases uniform in [−init_range, init_range]
        (symmetry experiment: "[−0.3, 0.3]", p. 534).
    """

    def __init__(self, groups: dict[str, int], inputs: list[str], connections: list[tuple[str, str]],
                 ties: list[list[str]] | None = None, init_range: float = 0.3,
                 rng: np.random.Generator | int | None = 0):
        order = list(groups)
        for g in inputs:
            if g not in groups:
                raise ValueError(f"input group {g!r} is not among the groups {order}")
        for i, j in connections:
            if i not in groups or j not in groups:
                raise ValueError(f"connection {i!r}->{j!r} names an unknown group; groups are {order}")
            if order.index(i) >= order.index(j):
                raise ValueError(f"connection {i!r}->{j!r} runs backwards; list groups so that every "
                                 f"connection goes from an earlier to a later group")
            if j in inputs:
                raise ValueError(f"connection {i!r}->{j!r} ends in the clamped input group {j!r}")
        self.groups, self.inputs, self.connections = dict(groups), list(inputs), list(connections)
        self.units = [g for g in order if g not in self.inputs]          # groups that compute
        self.incoming = {j: [i for i, jj in self.connections if jj == j] for j in self.units}
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.params: dict[str, np.ndarray] = {}
        for i, j in self.connections:
            self.params[f"W[{i}->{j}]"] = rng.uniform(-init_range, init_range, (groups[i], groups[j]))
        for j in self.units:
            self.params[f"b[{j}]"] = rng.uniform(-init_range, init_range, (groups[j],))
        self.ties = [list(t) for t in (ties or [])]
        for t in self.ties:
            shapes = {self.params[k].shape for k in t}
            if len(shapes) != 1:
                raise ValueError(f"tied parameters {t} have different shapes {shapes}")
            for k in t[1:]:
                self.params[k] = self.params[t[0]].copy()                # tied weights start equal
        self.delta = {k: np.zeros_like(v) for k, v in self.params.items()}  # Δw(t−1), Eq. (9)

    # ----------------------------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Number of weights and biases (each tied set counted once)."""
        tied_extra = sum(self.params[k].size for t in self.ties for k in t[1:])
        return sum(v.size for v in self.params.values()) - tied_extra

    def forward(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Eqs. (1)-(2), layer by layer: x_j = Σ_i y_i w_ji (+ bias), y_j = logistic(x_j)."""
        y = {}
        for g in self.inputs:
            if g not in inputs:
                raise ValueError(f"no states given for input group {g!r}; pass inputs={{{g!r}: array}}")
            a = np.asarray(inputs[g], dtype=np.float64)
            if a.ndim != 2 or a.shape[1] != self.groups[g]:
                raise ValueError(f"input group {g!r} has {self.groups[g]} units; got states of shape "
                                 f"{a.shape}, expected [cases, {self.groups[g]}]")
            y[g] = a                                                     # [C, n_g]
        for j in self.units:
            x_j = self.params[f"b[{j}]"]                                 # bias: weight from a unit fixed at 1
            for i in self.incoming[j]:
                x_j = x_j + y[i] @ self.params[f"W[{i}->{j}]"]           # Eq. (1)   [C, n_j]
            y[j] = logistic(x_j)                                         # Eq. (2)
        return y

    def backward(self, y: dict[str, np.ndarray], dE_dy_out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Eqs. (5)-(7), from the top layer down; returns ∂E/∂w summed over all cases.

        ``dE_dy_out``: ∂E/∂y of every group that has desired states (Eq. 4). A group may both have
        desired states and send to later groups (the unrolled net of Fig. 5); its ∂E/∂y is then the
        sum of both terms.
        """
        dE_dy = {g: np.zeros_like(y[g]) for g in self.groups}
        for g, v in dE_dy_out.items():
            dE_dy[g] = dE_dy[g] + v
        grads = {}
        for j in reversed(self.units):
            dE_dx = dE_dy[j] * y[j] * (1.0 - y[j])                       # Eq. (5)   [C, n_j]
            grads[f"b[{j}]"] = dE_dx.sum(axis=0)                         # Eq. (6) with y_i = 1
            for i in self.incoming[j]:
                W = self.params[f"W[{i}->{j}]"]
                grads[f"W[{i}->{j}]"] = y[i].T @ dE_dx                   # Eq. (6), summed over cases
                if i not in self.inputs:
                    dE_dy[i] = dE_dy[i] + dE_dx @ W.T                    # Eq. (7)
        for t in self.ties:                                              # Fig. 5: average each tied set
            mean = sum(grads[k] for k in t) / len(t)
            for k in t:
                grads[k] = mean
        return grads

    def gradients(self, inputs, targets, tolerance=None, masks=None):
        """E (Eq. 3), the forward states and ∂E/∂w for one full sweep through the cases."""
        y = self.forward(inputs)
        E, dE_dy_out = 0.0, {}
        for g, d in targets.items():
            e, dE_dy_out[g] = squared_error(y[g], np.asarray(d, dtype=np.float64), tolerance,
                                            None if masks is None else masks.get(g))
            E += e
        return E, y, self.backward(y, dE_dy_out)

    def step(self, grads: dict[str, np.ndarray], epsilon: float, alpha: float, decay: float = 0.0) -> None:
        """Eq. (9): Δw(t) = −ε ∂E/∂w(t) + α Δw(t−1); w ← w + Δw(t).

        ``decay``: family trees (p. 535), "decrementing every weight by 0.2% after each weight
        change" -- w ← (1 − decay) w with decay = 0.002 (biases too: they are weights).
        """
        for k, w in self.params.items():
            self.delta[k] = -epsilon * grads[k] + alpha * self.delta[k]  # Eq. (9); α = 0 gives Eq. (8)
            w += self.delta[k]
            if decay:
                w *= 1.0 - decay

    def sweep(self, inputs, targets, epsilon, alpha, decay=0.0, tolerance=None, masks=None):
        """One sweep: all cases forward and backward, then one weight change (p. 534: "the
        weights are changed ... after each sweep through the whole set of input-output cases").
        Returns (E, states) of the forward pass made *before* the change."""
        E, y, grads = self.gradients(inputs, targets, tolerance, masks)
        self.step(grads, epsilon, alpha, decay)
        return E, y

    def state_dict(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, params: dict[str, np.ndarray]) -> None:
        for k in self.params:
            self.params[k][...] = params[k]


# ---------------------------------------------------------------------------------------------
# The nets of the paper and of PDP ch. 8
# ---------------------------------------------------------------------------------------------
def layered(sizes: list[int], skip: bool = False, init_range: float = 0.3, rng=0) -> Net:
    """A strictly layered net ``sizes = [inputs, hidden..., outputs]`` (groups "in", "h1", ..., "out").

    ``skip=True`` also connects the input layer to the output layer (the PDP ch. 8 XOR net with one
    hidden unit and direct input-output connections, its Fig. 2).
    """
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise ValueError(f"sizes must list at least an input and an output layer of ≥1 unit, got {sizes}")
    names = ["in"] + [f"h{k}" for k in range(1, len(sizes) - 1)] + ["out"]
    conns = list(zip(names[:-1], names[1:]))
    if skip and len(sizes) > 2:
        conns.append(("in", "out"))
    return Net(dict(zip(names, sizes)), ["in"], conns, init_range=init_range, rng=rng)


def symmetry_net(init_range: float = 0.3, rng=0) -> Net:
    """Fig. 1: 6 input units, 2 hidden units, 1 output unit."""
    return layered([6, 2, 1], init_range=init_range, rng=rng)


def family_net(init_range: float = 0.3, rng=0) -> Net:
    """Fig. 2 / Fig. 4: the five-layer family-trees net, 630 weights and biases.

    person 1 (24, one unit per person) -> its own 6 units; relationship (12) -> its own 6 units;
    both groups of 6 -> central layer of 12 -> penultimate layer of 6 -> person 2 (24).
    """
    groups = {"person1": 24, "relationship": 12, "person1_code": 6, "relationship_code": 6,
              "central": 12, "penultimate": 6, "person2": 24}
    conns = [("person1", "person1_code"), ("relationship", "relationship_code"),
             ("person1_code", "central"), ("relationship_code", "central"),
             ("central", "penultimate"), ("penultimate", "person2")]
    return Net(groups, ["person1", "relationship"], conns, init_range=init_range, rng=rng)


class IterativeNet:
    """Fig. 5: a synchronous iterative (recurrent) net run for T time steps.

    At every step t = 1..T the input units are clamped to x_t; the hidden units read the input and
    their own states at t−1 (h_0 = 0); the output units read the hidden units:

        h_t = logistic(x_t W_xh + h_{t−1} W_hh + b_h)      o_t = logistic(h_t W_ho + b_o)

    The same weights act at every step. ``backward`` is back-propagation through the stored history
    of states ("store the history of output states of each unit", p. 535), the gradient of each
    weight averaged over its T uses, which is what the equivalent layered net of :meth:`unroll`
    computes with tied weights.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, init_range: float = 0.3, rng=0):
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        u = lambda *s: rng.uniform(-init_range, init_range, s)  # noqa: E731
        self.n_in, self.n_hidden, self.n_out = n_in, n_hidden, n_out
        self.params = {"W_xh": u(n_in, n_hidden), "W_hh": u(n_hidden, n_hidden), "b_h": u(n_hidden),
                       "W_ho": u(n_hidden, n_out), "b_o": u(n_out)}
        self.delta = {k: np.zeros_like(v) for k, v in self.params.items()}

    @property
    def n_params(self) -> int:
        return sum(v.size for v in self.params.values())

    def forward(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """xs [T, C, n_in] -> hidden states [T+1, C, n_hidden] (h_0 first) and outputs [T, C, n_out]."""
        T, C, _ = xs.shape
        P = self.params
        h = np.zeros((T + 1, C, self.n_hidden))
        o = np.zeros((T, C, self.n_out))
        for t in range(T):
            h[t + 1] = logistic(xs[t] @ P["W_xh"] + h[t] @ P["W_hh"] + P["b_h"])   # Eqs. (1)-(2)
            o[t] = logistic(h[t + 1] @ P["W_ho"] + P["b_o"])
        return h, o

    def gradients(self, xs, ds, masks=None):
        """E and ∂E/∂w (averaged over the T time steps) by back-propagation through time."""
        T = xs.shape[0]
        P = self.params
        h, o = self.forward(xs)
        grads = {k: np.zeros_like(v) for k, v in P.items()}
        E = 0.0
        dE_dh_next = np.zeros_like(h[0])                                 # ∂E/∂h_{t} from step t+1
        for t in reversed(range(T)):
            e, dE_do = squared_error(o[t], ds[t], mask=None if masks is None else masks[t])  # Eqs. (3)-(4)
            E += e
            dE_dxo = dE_do * o[t] * (1 - o[t])                           # Eq. (5)
            grads["W_ho"] += h[t + 1].T @ dE_dxo                         # Eq. (6)
            grads["b_o"] += dE_dxo.sum(0)
            dE_dh = dE_dxo @ P["W_ho"].T + dE_dh_next                    # Eq. (7): from o_t and h_{t+1}
            dE_dxh = dE_dh * h[t + 1] * (1 - h[t + 1])                   # Eq. (5)
            grads["W_xh"] += xs[t].T @ dE_dxh                            # Eq. (6)
            grads["W_hh"] += h[t].T @ dE_dxh
            grads["b_h"] += dE_dxh.sum(0)
            dE_dh_next = dE_dxh @ P["W_hh"].T                            # Eq. (7), one step back
        grads = {k: g / T for k, g in grads.items()}                     # Fig. 5: average the T copies
        return E, o, grads

    step = Net.step

    def sweep(self, xs, ds, epsilon, alpha, masks=None):
        E, o, grads = self.gradients(xs, ds, masks)
        self.step(grads, epsilon, alpha)
        return E, o

    # --- the equivalent layered net --------------------------------------------------------
    def unroll(self, T: int) -> Net:
        """The layered net of Fig. 5: one layer of hidden and one of output units per time step,
        with a copy of every weight per step, all copies tied (same values, averaged ∂E/∂w)."""
        groups = {"h0": self.n_hidden}
        groups.update({f"x{t}": self.n_in for t in range(1, T + 1)})
        for t in range(1, T + 1):
            groups[f"h{t}"] = self.n_hidden
            groups[f"o{t}"] = self.n_out
        inputs = ["h0"] + [f"x{t}" for t in range(1, T + 1)]
        conns = []
        for t in range(1, T + 1):
            conns += [(f"x{t}", f"h{t}"), (f"h{t-1}", f"h{t}"), (f"h{t}", f"o{t}")]
        r = range(1, T + 1)
        ties = [[f"W[x{t}->h{t}]" for t in r], [f"W[h{t-1}->h{t}]" for t in r], [f"b[h{t}]" for t in r],
                [f"W[h{t}->o{t}]" for t in r], [f"b[o{t}]" for t in r]]
        net = Net(groups, inputs, conns, ties=ties, init_range=0.0, rng=0)
        P = self.params
        for t in r:                                                     # copy the recurrent weights
            net.params[f"W[x{t}->h{t}]"][...] = P["W_xh"]
            net.params[f"W[h{t-1}->h{t}]"][...] = P["W_hh"]
            net.params[f"b[h{t}]"][...] = P["b_h"]
            net.params[f"W[h{t}->o{t}]"][...] = P["W_ho"]
            net.params[f"b[o{t}]"][...] = P["b_o"]
        return net

    def unrolled_io(self, xs: np.ndarray, ds: np.ndarray, masks=None):
        """The recurrent task's [T, C, n] arrays as the unrolled net's inputs, targets and masks."""
        T, C, _ = xs.shape
        inputs = {"h0": np.zeros((C, self.n_hidden))}                  # h_0 = 0, clamped
        inputs.update({f"x{t+1}": xs[t] for t in range(T)})
        targets = {f"o{t+1}": ds[t] for t in range(T)}
        m = None if masks is None else {f"o{t+1}": masks[t] for t in range(T)}
        return inputs, targets, m


# Contract: the paper's own names for its nets, each built with no arguments.
VARIANTS = {
    "symmetry-6-2-1": symmetry_net,                                     # Fig. 1
    "family-trees": family_net,                                         # Figs. 2-4
    "iterative-fig5": lambda: IterativeNet(1, 3, 1),                    # Fig. 5 (our sequence task)
    "xor-2-1-1-skip": lambda: layered([2, 1, 1], skip=True),            # PDP ch. 8, Fig. 2
    "xor-2-2-1": lambda: layered([2, 2, 1]),                            # PDP ch. 8
    "parity-4-4-1": lambda: layered([4, 4, 1]),                         # PDP ch. 8
    "encoder-8-3-8": lambda: layered([8, 3, 8]),                        # PDP ch. 8
}
