"""McCulloch & Pitts (1943): the neuron of §2's five assumptions, nets of them in discrete time, Figure 1.

Read beside §2 of the paper (pp. 101-108 of the 1990 reprint):

  (1) all-or-none            -> a cell's action N_i(t) is a bool                        (:class:`Net.forward`)
  (2) a fixed number of synapses must be excited within the period of latent addition
                             -> :class:`Neuron` ``theta`` and the ``rule`` of :class:`Net`: the cell fires when
                                the number of excited excitatory synapses *exceeds* theta (Theorem I, p. 103:
                                "the sum of their members exceeds theta_i"). ``rule="reaches"`` is the >=
                                convention of most later texts; it is a flag, not the default.
  (3) only synaptic delay    -> every synapse delays by exactly one step: N_i(t) depends on actions at t-1
  (4) absolute inhibition    -> any excited inhibitory synapse prevents firing (``inhibition="absolute"``).
                                §2, Theorem IV's *relative* inhibition (each excited inhibitory synapse raises
                                theta by one) is ``inhibition="relative"``.
  (5) fixed structure        -> a :class:`Net` is immutable after construction; learning is Theorem VII's
                                circle (Figure 1i), not weight change.

Peripheral afferents (cells with no synapses upon them) carry the input history; every other cell starts
silent, so a net whose afferents are silent never fires (Theorem III's necessity).

The drawing convention of Figure 1, as we read it (the scan is too coarse to count end-bulbs with certainty):
every cell needs *two* excited synapses ("no case is known in which excitation through a single synapse has
elicited a nervous impulse", §1), i.e. theta = 1 under "exceeds" (the paper's theta_i > 0), theta = 2 under
"reaches". Precession (1a) and disjunction (1b) give each afferent two end-bulbs; conjunction (1c) one each.
:func:`theta_for` converts "k synapses needed" into theta for either rule, so both conventions build the same
nets; ``Net.with_rule`` keeps theta and swaps the rule, which shows that the convention matters.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

import torch

RULES = ("exceeds", "reaches")
INHIBITION = ("absolute", "relative")


def theta_for(k: int, rule: str = "exceeds") -> int:
    """theta such that a cell fires when at least ``k`` excitatory synapses are excited, under ``rule``.
    Assumption (2) of §2, in Eq. (1)'s terms."""
    if rule not in RULES:
        raise ValueError(f"rule {rule!r} is not one of {RULES}: 'exceeds' is the paper's (fires when the "
                         f"excitation exceeds theta), 'reaches' the >= convention")
    if k < 1:
        raise ValueError(f"a cell needs at least one excited synapse to fire (got k={k}); "
                         f"k <= 0 would fire with no input, which no net of the paper does")
    return k - 1 if rule == "exceeds" else k


def passes(excitation, threshold, rule: str):
    """§2 assumption (2) and Eq. (1): excitation 'exceeds' theta (paper) or 'reaches' it (>= flag)."""
    return excitation > threshold if rule == "exceeds" else excitation >= threshold


@dataclass
class Neuron:
    """One cell c_i: its threshold theta_i and the synapses upon it, by source cell and number of end-bulbs.

    ``excitatory={"N1": 2}`` means c_1 has two excitatory synapses upon this cell (n_{i1} = 2 in Eq. (1));
    ``inhibitory={"N2": 1}`` one inhibitory synapse. Under relative inhibition each excited inhibitory synapse
    raises theta by one (§2, before Theorem IV: "the increase in threshold is unity for ... each such synapse").
    """
    name: str
    theta: int
    excitatory: dict[str, int] = field(default_factory=dict)
    inhibitory: dict[str, int] = field(default_factory=dict)
    inhibition: str = "absolute"

    def __post_init__(self):
        if not isinstance(self.theta, int) or isinstance(self.theta, bool):
            raise TypeError(f"neuron {self.name!r}: theta must be an int, got {self.theta!r}")
        if self.inhibition not in INHIBITION:
            raise ValueError(f"neuron {self.name!r}: inhibition {self.inhibition!r} is not one of {INHIBITION}")
        for kind, syn in (("excitatory", self.excitatory), ("inhibitory", self.inhibitory)):
            for src, n in syn.items():
                if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                    raise ValueError(f"neuron {self.name!r}: {kind} synapses from {src!r} must be a positive "
                                     f"int count of end-bulbs, got {n!r}")

    @property
    def sources(self) -> set[str]:
        return set(self.excitatory) | set(self.inhibitory)


class Net(torch.nn.Module):
    """A net N of cells: peripheral afferents (the input) and neurons, simulated synchronously in discrete time.

    ``forward(x)`` takes the afferents' history ``x`` [B, P, T] (bool) and returns every cell's action
    [B, C, T], afferents first, in the order of :attr:`cells`. Time t counts synaptic delays from the origin;
    before t = 0 every cell is silent. The net has no parameters (assumption 5): the synapses are buffers.
    §2 (nets without circles) and §3 (nets with circles).
    """

    def __init__(self, afferents: list[str], neurons: list[Neuron], rule: str = "exceeds", name: str = "",
                 outputs: list[str] | None = None):
        super().__init__()
        if rule not in RULES:
            raise ValueError(f"rule {rule!r} is not one of {RULES}")
        self.afferents, self.neurons, self.rule, self.name = list(afferents), list(neurons), rule, name
        self.cells = self.afferents + [n.name for n in self.neurons]
        if len(set(self.cells)) != len(self.cells):
            dup = sorted({c for c in self.cells if self.cells.count(c) > 1})
            raise ValueError(f"net {name!r}: cell names must be unique; repeated: {dup}")
        if not self.afferents:
            raise ValueError(f"net {name!r} has no peripheral afferents, so it can never fire; name at least one")
        self.index = {c: i for i, c in enumerate(self.cells)}
        self.by_name = {n.name: n for n in self.neurons}
        self.outputs = list(outputs) if outputs is not None else [n.name for n in self.neurons[-1:]]
        C = len(self.cells)
        W_exc, W_inh = torch.zeros(C, C), torch.zeros(C, C)  # [target, source]
        theta, relative = torch.zeros(C), torch.zeros(C, dtype=torch.bool)
        for n in self.neurons:
            i = self.index[n.name]
            unknown = sorted(n.sources - set(self.cells))
            if unknown:
                raise ValueError(f"net {name!r}: neuron {n.name!r} has synapses from unknown cells {unknown}; "
                                 f"known cells: {self.cells}")
            # Theorem III's premise: with no excitation a cell must not fire (theta_i > 0 in Theorem I).
            if passes(0, n.theta, rule):
                raise ValueError(f"net {name!r}: neuron {n.name!r} with theta={n.theta} would fire with no "
                                 f"excitation under rule {rule!r}; use theta >= {theta_for(1, rule)}")
            for s, k in n.excitatory.items():
                W_exc[i, self.index[s]] = k
            for s, k in n.inhibitory.items():
                W_inh[i, self.index[s]] = k
            theta[i], relative[i] = n.theta, n.inhibition == "relative"
        for o in self.outputs:
            if o not in self.index:
                raise ValueError(f"net {name!r}: output {o!r} is not a cell; cells: {self.cells}")
        self.register_buffer("W_exc", W_exc)
        self.register_buffer("W_inh", W_inh)
        self.register_buffer("theta", theta)
        self.register_buffer("relative", relative)

    # ----------------------------------------------------------------------------------------- dynamics
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. (1) applied at every step: x [B, P, T] afferent history -> [B, C, T] actions of all cells."""
        if x.dim() != 3 or x.shape[1] != len(self.afferents):
            raise ValueError(f"net {self.name!r} expects x of shape [B, P={len(self.afferents)}, T] (afferents "
                             f"{self.afferents}), got {tuple(x.shape)}")
        x = x.to(device=self.W_exc.device, dtype=torch.bool)
        B, P, T = x.shape
        W = torch.cat([self.W_exc, self.W_inh]).T                                         # [C, 2C] source -> target
        state = torch.zeros(B, len(self.cells), dtype=torch.bool, device=x.device)  # all silent before t = 0
        actions = []
        for t in range(T):
            excitation, inhibition = (state.to(W.dtype) @ W).chunk(2, dim=1)          # [B, C] each
            need = self.theta + torch.where(self.relative, inhibition, torch.zeros_like(inhibition))
            fire = passes(excitation, need, self.rule)                                # (2), exceeds theta
            fire &= self.relative | (inhibition == 0)                                  # (4), absolute
            fire[:, :P] = x[:, :, t]                                                   # afferents: input
            state = fire
            actions.append(state)
        return torch.stack(actions, dim=-1)                                                # [B, C, T]

    def run(self, history, cells: list[str] | None = None) -> torch.Tensor:
        """Convenience: ``history`` [P, T] or [B, P, T] (lists ok) -> actions of ``cells`` (default outputs)."""
        x = torch.as_tensor(history, dtype=torch.bool)
        single = x.dim() == 2
        x = x[None] if single else x
        out = self(x)[:, [self.index[c] for c in (cells or self.outputs)]]
        return out[0] if single else out

    def with_rule(self, rule: str) -> "Net":
        """The same synapses and thetas read under another rule (shows that the convention matters)."""
        return Net(self.afferents, self.neurons, rule=rule, name=f"{self.name} [{rule}]", outputs=self.outputs)

    # ----------------------------------------------------------------------------------------- structure
    def edges(self) -> list[tuple[str, str, str, int]]:
        """(source, target, 'excitatory'|'inhibitory', number of synapses) for every connection."""
        out = []
        for n in self.neurons:
            out += [(s, n.name, "excitatory", k) for s, k in n.excitatory.items()]
            out += [(s, n.name, "inhibitory", k) for s, k in n.inhibitory.items()]
        return out

    def _successors(self, removed: frozenset = frozenset()) -> dict[str, list[str]]:
        succ = {c: [] for c in self.cells if c not in removed}
        for s, t, _, _ in self.edges():
            if s not in removed and t not in removed:
                succ[s].append(t)
        return succ

    def _acyclic(self, removed: frozenset = frozenset()) -> bool:
        return self._topological(removed) is not None

    def _topological(self, removed: frozenset = frozenset()) -> list[str] | None:
        succ = self._successors(removed)
        indeg = {c: 0 for c in succ}
        for s in succ:
            for t in succ[s]:
                indeg[t] += 1
        ready, order = [c for c in succ if indeg[c] == 0], []
        while ready:
            c = ready.pop(0)
            order.append(c)
            for t in succ[c]:
                indeg[t] -= 1
                if indeg[t] == 0:
                    ready.append(t)
        return order if len(order) == len(succ) else None

    def topological_order(self) -> list[str]:
        order = self._topological()
        if order is None:
            raise ValueError(f"net {self.name!r} has circles (order {self.order()}); Theorem I applies to nets of "
                             f"order 0 only; for nets with circles see Theorem VIII")
        return order

    def order(self) -> int:
        """§2: the size of the smallest set of cells whose removal leaves the net without circles."""
        candidates = [n.name for n in self.neurons]  # afferents have no synapses upon them: never on a circle
        for size in range(len(candidates) + 1):
            for removed in itertools.combinations(candidates, size):
                if self._acyclic(frozenset(removed)):
                    return size
        raise AssertionError("unreachable: removing every neuron leaves no circle")

    def depth(self) -> dict[str, int]:
        """Longest path (in synaptic delays) from any afferent to each cell; order-0 nets only."""
        d = {a: 0 for a in self.afferents}
        for c in self.topological_order():
            if c in self.by_name:
                n = self.by_name[c]
                d[c] = 1 + max((d[s] for s in n.sources), default=-1) if n.sources else 0
        return d

    def extra_repr(self) -> str:
        lines = [f"name={self.name!r}, rule={self.rule!r}, afferents={self.afferents}, order={self.order()}"]
        for n in self.neurons:
            inh = f", {n.inhibition} inhibition from {n.inhibitory}" if n.inhibitory else ""
            lines.append(f"  {n.name}: theta={n.theta}, excitatory {n.excitatory}{inh}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------
# Figure 1's elementary nets (a)-(d): the blocks from which Theorem II builds every TPE.
def precession(name: str, src: str, rule: str = "exceeds") -> Neuron:
    """Fig. 1a: N_name(t) = N_src(t-1). Two end-bulbs from src."""
    return Neuron(name, theta_for(2, rule), {src: 2})


def disjunction(name: str, a: str, b: str, rule: str = "exceeds") -> Neuron:
    """Fig. 1b: N(t) = N_a(t-1) v N_b(t-1). Two end-bulbs from each."""
    return Neuron(name, theta_for(2, rule), {a: 2, b: 2} if a != b else {a: 2})


def conjunction(name: str, a: str, b: str, rule: str = "exceeds") -> Neuron:
    """Fig. 1c: N(t) = N_a(t-1) . N_b(t-1). One end-bulb from each."""
    return Neuron(name, theta_for(2, rule), {a: 1, b: 1} if a != b else {a: 2})


def conjoined_negation(name: str, a: str, b: str, rule: str = "exceeds") -> Neuron:
    """Fig. 1d: N(t) = N_a(t-1) . ~N_b(t-1). Two excitatory end-bulbs from a, an inhibitory synapse from b."""
    return Neuron(name, theta_for(2, rule), {a: 2}, {b: 1})


def relative_to_absolute_neuron(n: Neuron, rule: str = "exceeds", prefix: str | None = None) -> list[Neuron]:
    """Theorem IV (relative -> absolute), Fig. 1f: one relative-inhibition cell -> absolute cells, one step slower.

    For each set I of inhibitory sources, cell a_I has threshold theta + (synapses from I) and is absolutely
    inhibited by the sources outside I; a_I fires iff the excitation would pass under relative inhibition when
    at most the sources in I fire (sound: fewer active inhibitors only lower the threshold; complete: take I =
    the active set). The output cell (named ``n.name + "'"``) is the disjunction (Fig. 1b) of the a_I, so
    N'(t) = N(t-1) exactly. The last cell of the list is the output.
    """
    if n.inhibition != "relative":
        raise ValueError(f"neuron {n.name!r} already has absolute inhibition")
    prefix = prefix or f"{n.name}'"
    inh = sorted(n.inhibitory)
    layer, out_syn = [], {}
    max_exc = sum(n.excitatory.values())
    for r in range(len(inh) + 1):
        for I in itertools.combinations(inh, r):
            th = n.theta + sum(n.inhibitory[j] for j in I)
            if not passes(max_exc, th, rule):
                continue  # this a_I could never fire: leave it out
            name = f"{prefix}+{'+'.join(I)}" if I else f"{prefix}0"   # a_I: I = inhibitors allowed to fire
            layer.append(Neuron(name, th, dict(n.excitatory), {j: 1 for j in inh if j not in I}))
            out_syn[name] = 2
    out = Neuron(prefix, theta_for(2, rule), out_syn)
    return layer + [out]


# ------------------------------------------------------------------------------------------------------------
# Figure 1 (a)-(i), with the formulas printed under the figure (1990 reprint p. 105, OCR checked).
def fig1a(rule: str = "exceeds") -> Net:
    """Precession: N2(t) = N1(t-1). Fig. 1a."""
    return Net(["N1"], [precession("N2", "N1", rule)], rule, "Figure 1a (precession)", ["N2"])


def fig1b(rule: str = "exceeds") -> Net:
    """Disjunction: N3(t) = N1(t-1) v N2(t-1). Fig. 1b."""
    return Net(["N1", "N2"], [disjunction("N3", "N1", "N2", rule)], rule, "Figure 1b (disjunction)", ["N3"])


def fig1c(rule: str = "exceeds") -> Net:
    """Conjunction: N3(t) = N1(t-1) . N2(t-1). Fig. 1c."""
    return Net(["N1", "N2"], [conjunction("N3", "N1", "N2", rule)], rule, "Figure 1c (conjunction)", ["N3"])


def fig1d(rule: str = "exceeds") -> Net:
    """Conjoined negation: N3(t) = N1(t-1) . ~N2(t-1). Fig. 1d."""
    return Net(["N1", "N2"], [conjoined_negation("N3", "N1", "N2", rule)], rule,
               "Figure 1d (conjoined negation)", ["N3"])


def fig1e(rule: str = "exceeds") -> Net:
    """Heat produced by transient cooling, built as in §2 (pp. 106-107): N1 heat and N2 cold receptors,
    N3 'heat felt', N4 'cold felt'; c_a = S N2 (1a), N4 = S(c_a . N2) (1c), c_b = S(c_a . ~N2) (1d),
    N3 = S(N1 v c_b) (1b)."""
    neurons = [precession("Na", "N2", rule),
               conjunction("N4", "Na", "N2", rule),
               conjoined_negation("Nb", "Na", "N2", rule),
               disjunction("N3", "N1", "Nb", rule)]
    return Net(["N1", "N2"], neurons, rule, "Figure 1e (heat/cold illusion)", ["N3", "N4"])


def fig1f(rule: str = "exceeds") -> Net:
    """Relative -> absolute inhibition (Theorem IV). N4 has relative inhibition from N1 (one synapse raises
    theta by one) and two end-bulbs each from N2, N3: N4(t) = ~N1(t-1).(N2(t-1) v N3(t-1)) v N1.N2.N3(t-1).
    N4' is its absolute-inhibition replacement (:func:`relative_to_absolute_neuron`), one delay later. Fig. 1f."""
    n4 = Neuron("N4", theta_for(2, rule), {"N2": 2, "N3": 2}, {"N1": 1}, inhibition="relative")
    return Net(["N1", "N2", "N3"], [n4, *relative_to_absolute_neuron(n4, rule)], rule,
               "Figure 1f (relative and absolute inhibition)", ["N4", "N4'"])


def fig1g(rule: str = "exceeds") -> Net:
    """Theorem V's example net: N3(t) = N2(t-2) . ~N1(t-3), with absolute inhibition:
    c_a = S N1 (1a), c_b = S(N2 . ~c_a) (1d), N3 = S c_b (1a). Fig. 1g."""
    neurons = [precession("Na", "N1", rule), conjoined_negation("Nb", "N2", "Na", rule),
               precession("N3", "Nb", rule)]
    return Net(["N1", "N2"], neurons, rule, "Figure 1g (extinction replaced by inhibition)", ["N3"])


def fig1h(rule: str = "exceeds") -> Net:
    """Theorem VI: temporal summation replaced by spatial summation, N2(t) = N1(t-1) . N1(t-2):
    a delaying chain c3 = S N1 (1a) and N2 = S(N1 . c3) (1c). Fig. 1h."""
    neurons = [precession("N3", "N1", rule), conjunction("N2", "N1", "N3", rule)]
    return Net(["N1"], neurons, rule, "Figure 1h (temporal -> spatial summation)", ["N2"])


def fig1i(rule: str = "exceeds") -> Net:
    """Theorem VII: an alterable synapse replaced by a circle,
    N3(t) = N2(t-1) v N1(t-1) . (Ex)_{t-1} N1(x) . N2(x).
    c4 reverberates once N1 and N2 have fired together (c4 = S(N1 . N2 v c4), a circle of one cell);
    N3 = S(N2 v N1 . c4): N1 alone fires N3 only after the 'synapse' has been formed. Fig. 1i."""
    n4 = Neuron("N4", theta_for(2, rule), {"N1": 1, "N2": 1, "N4": 2})
    n3 = Neuron("N3", theta_for(2, rule), {"N2": 2, "N1": 1, "N4": 1})
    return Net(["N1", "N2"], [n4, n3], rule, "Figure 1i (alterable synapse as a circle)", ["N3"])


VARIANTS: dict[str, Callable[..., Net]] = {
    "fig1a": fig1a, "fig1b": fig1b, "fig1c": fig1c, "fig1d": fig1d, "fig1e": fig1e,
    "fig1f": fig1f, "fig1g": fig1g, "fig1h": fig1h, "fig1i": fig1i,
}

# The formulas printed under Figure 1 (t-k written as a lag); parsed by calculus.parse. (i) quantifies over
# the past, so it is not a TPE; its reference is :func:`fig1i_reference`.
FIGURE1_FORMULAS: dict[str, dict[str, str]] = {
    "fig1a": {"N2": "N1(t-1)"},
    "fig1b": {"N3": "N1(t-1) | N2(t-1)"},
    "fig1c": {"N3": "N1(t-1) & N2(t-1)"},
    "fig1d": {"N3": "N1(t-1) & ~N2(t-1)"},
    "fig1e": {"N3": "N1(t-1) | N2(t-3) & ~N2(t-2)", "N4": "N2(t-2) & N2(t-1)"},
    "fig1f": {"N4": "~N1(t-1) & (N2(t-1) | N3(t-1)) | N1(t-1) & N2(t-1) & N3(t-1)",
              "N4'": "~N1(t-2) & (N2(t-2) | N3(t-2)) | N1(t-2) & N2(t-2) & N3(t-2)"},
    "fig1g": {"N3": "N2(t-2) & ~N1(t-3)"},
    "fig1h": {"N2": "N1(t-1) & N1(t-2)"},
    "fig1i": {"N3": "N2(t-1) | N1(t-1) & (Ex)_{t-1} N1(x) & N2(x)"},
}


# ------------------------------------------------------------------------------------------------------------
# Nets with circles (§3): memory that no net of order 0 has.
def latch(rule: str = "exceeds") -> Net:
    """A reverberating memory (§3, and the remark after Theorem VII: activity 'set into activity by a
    peripheral afferent ... and inhibited by one when it ceases'). N1 sets, N2 resets; N3 has a circle on itself:
    N3(t) = (N1(t-1) v N3(t-1)) . ~N2(t-1)."""
    n3 = Neuron("N3", theta_for(2, rule), {"N1": 2, "N3": 2}, {"N2": 1})
    return Net(["N1", "N2"], [n3], rule, "Reverberating memory (set/reset)", ["N3"])


PARITY_LAG = 4


def parity(rule: str = "exceeds") -> Net:
    """A counter mod 2: R(t) fires iff N1 has fired an odd number of times at times <= t-4.

    Feed-forward part: q(t) = N1(t-2) xor N1(t-3) (c_d = S N1; A = S(N1.~c_d); B = S(c_d.~N1); q = S(A v B)).
    Circle: R(t) = R(t-2) xor q(t-2) (U = S(R.~q); V = S(q.~R); R = S(U v V)). Unrolled, R(t) is the parity of
    N1 over every time <= t-4: the circle of two delays holds one bit of state forever.
    A net with a circle in the sense of §3 (our example, not one of Fig. 1).
    """
    neurons = [precession("Nd", "N1", rule), conjoined_negation("A", "N1", "Nd", rule),
               conjoined_negation("B", "Nd", "N1", rule), disjunction("q", "A", "B", rule),
               conjoined_negation("U", "R", "q", rule), conjoined_negation("V", "q", "R", rule),
               disjunction("R", "U", "V", rule)]
    return Net(["N1"], neurons, rule, "Parity of pulses (counter mod 2)", ["R"])


CYCLIC: dict[str, Callable[..., Net]] = {"latch": latch, "parity": parity}


# ------------------------------------------------------------------------------------------------------------
# Reference behaviour of the nets with circles, written directly from their specifications (no net involved).
def fig1i_reference(x: torch.Tensor) -> torch.Tensor:
    """N3(t) = N2(t-1) v N1(t-1) . (Ex)_{t-1} N1(x).N2(x); x [B, 2, T] (N1, N2) -> [B, T].
    Fig. 1i's formula as a test oracle."""
    N1, N2 = x[:, 0].bool(), x[:, 1].bool()
    seen = torch.cumsum((N1 & N2).long(), dim=-1) > 0           # (Ex) x <= t: N1(x).N2(x)   [B, T]
    now = N2 | (N1 & seen)                                       # the bracket at time t-1
    return torch.nn.functional.pad(now, (1, 0))[..., :-1]       # S: shift by one delay


def latch_reference(x: torch.Tensor) -> torch.Tensor:
    """N3(t) iff (Ex) x <= t-1 with N1(x) and no N2 in [x, t-1]; x [B, 2, T] (set, reset) -> [B, T].
    The specification of the §3 latch, as a test oracle."""
    s, r = x[:, 0].bool(), x[:, 1].bool()
    B, T = s.shape
    out = torch.zeros(B, T, dtype=torch.bool)
    last_set = torch.full((B,), -1)
    last_reset = torch.full((B,), -1)
    for t in range(1, T):
        last_set = torch.where(s[:, t - 1], torch.tensor(t - 1), last_set)
        last_reset = torch.where(r[:, t - 1], torch.tensor(t - 1), last_reset)
        out[:, t] = (last_set >= 0) & (last_reset < last_set)
    return out


def parity_reference(x: torch.Tensor, lag: int = PARITY_LAG) -> torch.Tensor:
    """Odd number of pulses of N1 at times <= t - lag; x [B, 1, T] -> [B, T].
    The specification of the §3 parity net, as a test oracle."""
    odd = (torch.cumsum(x[:, 0].long(), dim=-1) % 2).bool()     # parity up to and including t
    return torch.nn.functional.pad(odd, (lag, 0))[..., :x.shape[-1]]
