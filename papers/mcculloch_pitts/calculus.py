"""The logical calculus of §2 made executable: TPEs, and Theorems I-IV as functions.

- :class:`Expr` and its subclasses are sentences built from ``p(z - k)`` (:class:`P`) with the paper's functor
  S (:class:`S`, "the property which holds of a number when P holds of its predecessor") and the connectives
  of Theorem III (negation, disjunction, conjunction, implication, equivalence).
- A *temporal propositional expression* (TPE, §2 p. 103) is defined by recursion: p[z] is a TPE; if S1, S2
  are TPE so are S S1, S1 v S2, S1 . S2 and S1 . ~S2; nothing else is. :func:`is_tpe_syntax` is that
  recursion; :func:`tpe` is the constructor that refuses anything else (Theorem III decides whether an
  equivalent TPE exists; if so it is built, otherwise the error says why no net can realise the sentence).
- Theorem I (:func:`solve`): a net of order 0 -> a TPE for each of its cells, by Eq. (1) and substitution.
- Theorem II (:func:`realize`): a TPE -> a net of order 0 built from Figures 1a-d that realises it
  (in the extended sense: N(t) = S^n TPE(t) for a stated lag n).
- Theorem III (:func:`theorem3_conditions`, :func:`as_tpe`): a sentence is a TPE iff it is false when all its
  constituents are false (three equivalent tests), and the constructive DNF proof.
- Theorem IV (:func:`relative_to_absolute`, :func:`absolute_to_relative`): relative and absolute inhibition
  are equivalent in the extended sense.

Time: ``evaluate(e, x)[b, t]`` is the truth of e at time t of history b; p(t - k) with t - k < 0 is false
(nothing fires before the origin).
"""
from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass

import torch

from .model import Net, Neuron, conjoined_negation, conjunction, disjunction, passes, precession, theta_for


class NotATPE(ValueError):
    """A sentence that is not a TPE, with the reason (Theorem III)."""


# ============================================================================================ expressions
class Expr:
    """A sentence of the calculus. Immutable; equal structure -> equal hash (cached, so DAGs stay cheap)."""
    __slots__ = ("_key", "_hash")
    fields: tuple[str, ...] = ()

    def _init(self, *values):
        for f, v in zip(self.fields, values):
            object.__setattr__(self, f, v)
        key = (type(self).__name__, *values)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(key))

    def __setattr__(self, k, v):
        raise AttributeError("Expr is immutable")

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return self is other or (type(self) is type(other) and self._hash == other._hash and self._key == other._key)

    def __or__(self, other):
        return Or(self, other)

    def __and__(self, other):
        return And(self, other)

    def __invert__(self):
        return Not(self)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(repr(getattr(self, f)) for f in self.fields)})"

    def __str__(self):
        return to_str(self)

    def children(self) -> tuple["Expr", ...]:
        return tuple(getattr(self, f) for f in self.fields if isinstance(getattr(self, f), Expr))


class P(Expr):
    """The predicate ``name`` at time z - lag: p(z - lag). P(name) is the paper's p[z]."""
    __slots__ = ("name", "lag")
    fields = ("name", "lag")

    def __init__(self, name: str, lag: int = 0):
        if lag < 0:
            raise NotATPE(f"{name}(t+{-lag}) refers to the future; no net can take account of future afferents "
                          f"(§3, the first necessary condition of realizability)")
        self._init(name, int(lag))


class S(Expr):
    """The functor S (§2): S(E) holds at t iff E holds at t - 1 (precession, Fig. 1a)."""
    __slots__ = ("arg",)
    fields = ("arg",)

    def __init__(self, arg: Expr):
        self._init(arg)


class Not(Expr):
    __slots__ = ("arg",)
    fields = ("arg",)

    def __init__(self, arg: Expr):
        self._init(arg)


class _Binary(Expr):
    __slots__ = ("a", "b")
    fields = ("a", "b")

    def __init__(self, a: Expr, b: Expr):
        self._init(a, b)


class And(_Binary):
    __slots__ = ()


class Or(_Binary):
    __slots__ = ()


class Implies(_Binary):
    __slots__ = ()


class Iff(_Binary):
    __slots__ = ()


def AndNot(a: Expr, b: Expr) -> Expr:
    """The TPE clause S1 . ~S2 (Fig. 1d)."""
    return And(a, Not(b))


_SYM = {And: " · ", Or: " ∨ ", Implies: " → ", Iff: " ≡ "}
_PREC = {Iff: 1, Implies: 2, Or: 3, And: 4}


def to_str(e: Expr, parent: int = 0) -> str:
    """Paper-like notation: N1(t-1) · ¬N2(t-2) ∨ S(...)."""
    if isinstance(e, P):
        return f"{e.name}(t)" if e.lag == 0 else f"{e.name}(t-{e.lag})"
    if isinstance(e, S):
        return f"S[{to_str(e.arg)}]"
    if isinstance(e, Not):
        return "¬" + to_str(e.arg, 9)
    prec = _PREC[type(e)]
    s = to_str(e.a, prec) + _SYM[type(e)] + to_str(e.b, prec + (type(e) in (Implies,)))
    return f"({s})" if prec < parent or (prec == parent and type(e) in (Implies, Iff)) else s


def big_or(items: list[Expr]) -> Expr | None:
    out = None
    for x in items:
        out = x if out is None else Or(out, x)
    return out


def big_and(items: list[Expr]) -> Expr | None:
    out = None
    for x in items:
        out = x if out is None else And(out, x)
    return out


def delay(e: Expr, k: int) -> Expr:
    """S^k e."""
    for _ in range(k):
        e = S(e)
    return e


# ============================================================================================ parsing
_TOKEN = re.compile(r"\s*(<->|->|≡|→|¬|~|&|·|\.|\||∨|\(|\)|\[|\]|-|\+|\d+|[A-Za-z_][A-Za-z0-9_']*|\S)")


def parse(text: str) -> Expr:
    """Parse ``"N1(t-1) | N2(t-3) & ~N2(t-2)"``: atoms name(t-k) / name(t) / name; ~ ¬, & · ., | ∨, -> →,
    <-> ≡, parentheses, and the functor ``S`` prefix (``S(N1(t) & N2(t))``)."""
    tokens = [t for t in _TOKEN.findall(text) if t.strip()]
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take(expected=None):
        nonlocal pos
        tok = peek()
        if tok is None or (expected is not None and tok != expected):
            raise ValueError(f"parse error in {text!r}: expected {expected or 'more input'}, found {tok!r} "
                             f"at token {pos}")
        pos += 1
        return tok

    def iff():
        e = imp()
        while peek() in ("<->", "≡"):
            take()
            e = Iff(e, imp())
        return e

    def imp():
        e = disj()
        if peek() in ("->", "→"):
            take()
            return Implies(e, imp())
        return e

    def disj():
        e = conj()
        while peek() in ("|", "∨"):
            take()
            e = Or(e, conj())
        return e

    def conj():
        e = unary()
        while peek() in ("&", "·", "."):
            take()
            e = And(e, unary())
        return e

    def unary():
        tok = peek()
        if tok in ("~", "¬"):
            take()
            return Not(unary())
        if tok == "(":
            take("(")
            if peek() in ("E", "Ex"):
                raise ValueError(f"{text!r}: quantifiers such as (Ex) are outside the TPE language; they describe "
                                 f"nets with circles (Theorem VIII); write a reference function instead")
            e = iff()
            take(")")
            return e
        if tok == "S" and pos + 1 < len(tokens) and tokens[pos + 1] in ("(", "[", "S", "~", "¬") \
                and not _is_time_arg(pos + 1):
            take()
            if peek() == "[":
                take("[")
                e = iff()
                take("]")
                return S(e)
            return S(unary())
        if tok is None or not re.match(r"[A-Za-z_]", tok):
            raise ValueError(f"parse error in {text!r}: expected an atom like N1(t-1), found {tok!r}")
        name = take()
        if peek() in ("(", "["):
            close = ")" if take() == "(" else "]"
            var = take()
            if var not in ("t", "z", "z1"):
                raise ValueError(f"{text!r}: time variable must be t or z, got {var!r}")
            lag = 0
            if peek() in ("-", "+"):
                sign = take()
                k = int(take())
                lag = k if sign == "-" else -k
            take(close)
            return P(name, lag)
        return P(name, 0)

    def _is_time_arg(i):  # S(t-1) is an atom named S, not the functor
        return i + 1 < len(tokens) and tokens[i + 1] in ("t", "z", "z1") and i + 2 < len(tokens) \
            and tokens[i + 2] in (")", "]", "-", "+")

    e = iff()
    if pos != len(tokens):
        raise ValueError(f"parse error in {text!r}: unexpected {tokens[pos]!r} at token {pos}")
    return e


def as_expr(x: Expr | str) -> Expr:
    return parse(x) if isinstance(x, str) else x


# ============================================================================================ evaluation
def _shift(v: torch.Tensor, k: int) -> torch.Tensor:
    """[..., T] -> value at t - k (False before the origin)."""
    if k == 0:
        return v
    T = v.shape[-1]
    out = torch.zeros_like(v)
    if k < T:
        out[..., k:] = v[..., :T - k]
    return out


def variables(e: Expr) -> list[str]:
    """The predicate names in e, sorted."""
    seen, out, stack = set(), set(), [e]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, P):
            out.add(x.name)
        stack.extend(x.children())
    return sorted(out)


def _fold(e: Expr, leaf) -> torch.Tensor:
    """Evaluate the connectives of e bottom up, each shared subterm once; ``leaf(e, ev)`` does the rest."""
    memo: dict[int, tuple[Expr, torch.Tensor]] = {}

    def ev(e: Expr) -> torch.Tensor:
        hit = memo.get(id(e))
        if hit is not None:
            return hit[1]
        if isinstance(e, Not):
            r = ~ev(e.arg)
        elif isinstance(e, And):
            r = ev(e.a) & ev(e.b)
        elif isinstance(e, Or):
            r = ev(e.a) | ev(e.b)
        elif isinstance(e, Implies):
            r = ~ev(e.a) | ev(e.b)
        elif isinstance(e, Iff):
            r = ev(e.a) == ev(e.b)
        else:
            r = leaf(e, ev)
        memo[id(e)] = (e, r)  # keep e alive so that its id is not reused
        return r

    return ev(e)


def evaluate(e: Expr | str, x: torch.Tensor, names: list[str]) -> torch.Tensor:
    """Truth of e at every time of every history: x [B, P, T] (predicate ``names[i]`` = row i) -> [B, T]."""
    e = as_expr(e)
    idx = {n: i for i, n in enumerate(names)}
    x = x.bool()

    def leaf(e: Expr, ev) -> torch.Tensor:
        if isinstance(e, P):
            if e.name not in idx:
                raise ValueError(f"{e.name!r} is not an input; inputs are {names}")
            return _shift(x[:, idx[e.name]], e.lag)
        if isinstance(e, S):
            return _shift(ev(e.arg), 1)
        raise TypeError(f"not an expression: {e!r}")

    return _fold(e, leaf)


def flatten(e: Expr | str) -> Expr:
    """Push S through the connectives (it "obviously commutes" with them, Theorem II): only P(name, lag) remain."""
    e = as_expr(e)
    memo: dict[tuple[int, int], tuple[Expr, Expr]] = {}

    def fl(e: Expr, k: int) -> Expr:
        hit = memo.get((id(e), k))
        if hit is not None:
            return hit[1]
        if isinstance(e, P):
            r = P(e.name, e.lag + k)
        elif isinstance(e, S):
            r = fl(e.arg, k + 1)
        elif isinstance(e, Not):
            r = Not(fl(e.arg, k))
        else:
            r = type(e)(fl(e.a, k), fl(e.b, k))
        memo[(id(e), k)] = (e, r)
        return r

    return fl(e, 0)


def atoms(e: Expr | str) -> list[tuple[str, int]]:
    """The constituents p(z - k) of e, as (name, k), sorted."""
    seen, out, stack = set(), set(), [flatten(e)]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, P):
            out.add((x.name, x.lag))
        stack.extend(x.children())
    return sorted(out)


def max_lag(e: Expr | str) -> int:
    return max((k for _, k in atoms(e)), default=0)


def _eval_assignment(f: Expr, cols: dict[tuple[str, int], torch.Tensor]) -> torch.Tensor:
    def leaf(e: Expr, ev) -> torch.Tensor:
        if isinstance(e, P):
            return cols[(e.name, e.lag)]
        raise TypeError(f"flatten first: {e!r}")

    return _fold(f, leaf)


MAX_ATOMS = 20


def truth_table(e: Expr | str, over: list[tuple[str, int]] | None = None):
    """(atoms, rows [2^n, n], values [2^n]) in the classical order: first row all T, last row all F."""
    f = flatten(e)
    names = over if over is not None else atoms(f)
    n = len(names)
    if n > MAX_ATOMS:
        raise ValueError(f"{n} constituents: a truth table of 2^{n} rows is too large (limit {MAX_ATOMS})")
    r = torch.arange(2 ** n)
    rows = ((r[:, None] >> torch.arange(n - 1, -1, -1)) & 1) == 0        # row 0 all T, last row all F
    cols = {a: rows[:, i] for i, a in enumerate(names)}
    return names, rows, _eval_assignment(f, cols)


def equivalent(e1: Expr | str, e2: Expr | str) -> bool:
    """Exact: the two sentences agree on every assignment of their constituents p(z-k)."""
    e1, e2 = as_expr(e1), as_expr(e2)
    over = sorted(set(atoms(e1)) | set(atoms(e2)))
    return bool(torch.equal(truth_table(e1, over)[2], truth_table(e2, over)[2]))


# ============================================================================================ TPE
def is_tpe_syntax(e: Expr) -> bool:
    """§2's recursion: p[z] (and p(z-k) = S^k p[z]); S S1; S1 v S2; S1 . S2; S1 . ~S2; nothing else."""
    memo: dict[int, bool] = {}

    def ok(e):
        if id(e) in memo:
            return memo[id(e)]
        if isinstance(e, P):
            r = True
        elif isinstance(e, S):
            r = ok(e.arg)
        elif isinstance(e, Or):
            r = ok(e.a) and ok(e.b)
        elif isinstance(e, And):
            r = ok(e.a) and (ok(e.b.arg) if isinstance(e.b, Not) else ok(e.b))
        else:
            r = False
        memo[id(e)] = r
        return r

    return ok(e)


def false_when_all_false(e: Expr | str) -> bool:
    """Theorem III, first condition: e is false when every constituent is replaced by a false sentence."""
    f = flatten(e)
    cols = {a: torch.zeros(1, dtype=torch.bool) for a in atoms(f)}
    return not bool(_eval_assignment(f, cols)[0])


def hilbert_dnf(e: Expr | str) -> list[tuple[tuple[tuple[str, int], bool], ...]]:
    """The distinguished (Hilbert-Ackermann) disjunctive normal form: one term per true row of the truth table,
    each term a conjunction of every constituent, negated (False) or not (True)."""
    names, rows, vals = truth_table(e)
    return [tuple(zip(names, map(bool, row))) for row, v in zip(rows.tolist(), vals.tolist()) if v]


def theorem3_conditions(e: Expr | str) -> dict[str, bool]:
    """The three conditions of Theorem III, which the paper (after Hilbert & Ackermann) says are equivalent."""
    e = as_expr(e)
    _, _, vals = truth_table(e)
    return {"false_when_constituents_false": false_when_all_false(e),
            "last_truth_table_row_is_F": not bool(vals[-1]),
            "no_purely_negated_dnf_term": not any(all(not pos for _, pos in term) for term in hilbert_dnf(e))}


def is_tpe(e: Expr | str) -> bool:
    """Theorem III: a sentence built from p(z - k) by any connectives is (equivalent to) a TPE iff it is false
    when all its constituents are false."""
    return false_when_all_false(e)


def _prime_implicants(names, rows, vals):
    """Quine-McCluskey: the prime implicants of the true rows, then a greedy cover (keeps Theorem II nets small)."""
    ones = [tuple(int(b) for b in row) for row, v in zip(rows.tolist(), vals.tolist()) if v]
    terms, primes = set(ones), set()
    while terms:
        merged, nxt = set(), set()
        tl = sorted(terms, key=lambda t: tuple(-1 if b is None else b for b in t))
        for a, b in itertools.combinations(tl, 2):
            diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
            if len(diff) == 1 and a[diff[0]] is not None and b[diff[0]] is not None:
                nxt.add(a[:diff[0]] + (None,) + a[diff[0] + 1:])
                merged |= {a, b}
        primes |= terms - merged
        terms = nxt

    def covers(p, m):
        return all(x is None or x == y for x, y in zip(p, m))

    uncovered, chosen = set(ones), []
    while uncovered:
        best = max(sorted(primes, key=str), key=lambda p: sum(covers(p, m) for m in uncovered))
        chosen.append(best)
        uncovered = {m for m in uncovered if not covers(best, m)}
    return chosen


def as_tpe(e: Expr | str) -> Expr:
    """Theorem III's sufficiency proof, constructively: a sentence false when its constituents are false ->
    an equivalent TPE, a disjunction of terms (S1 . S2 ... Sm) . ~(S_{m+1} v ... v S_n) with m >= 1."""
    e = as_expr(e)
    if is_tpe_syntax(e):
        return e
    if not is_tpe(e):
        raise NotATPE(_refusal(e))
    names, rows, vals = truth_table(e)
    terms = []
    for imp in _prime_implicants(names, rows, vals):   # rows use 1 = T (row 0 all T); here 1 means T
        pos = [P(*names[i]) for i, b in enumerate(imp) if b == 1]
        neg = [P(*names[i]) for i, b in enumerate(imp) if b == 0]
        assert pos, "an implicant with no positive constituent would be true on the all-false row"
        t = big_and(pos)
        terms.append(AndNot(t, big_or(neg)) if neg else t)
    if not terms:  # never true: the TPE p . ~p
        a = P(*names[0]) if names else None
        if a is None:
            raise NotATPE(f"{to_str(e)} has no constituents p(z-k); a TPE needs at least one")
        return AndNot(a, a)
    return big_or(terms)


def _refusal(e: Expr) -> str:
    return (f"{to_str(e)} is not a TPE: it is true when all its constituents are false (Theorem III: the last "
            f"row of its truth table is T), but a net whose afferents are silent never fires, so no net realises "
            f"it. A negation may only appear conjoined to a TPE, as S1 · ¬S2 (e.g. 'N2(t) & ~N1(t-1)').")


def tpe(x: Expr | str) -> Expr:
    """The TPE constructor. Returns x if it is a TPE by the recursion of §2; if it is another sentence that
    Theorem III admits, the equivalent TPE of :func:`as_tpe`; otherwise raises :class:`NotATPE` saying why."""
    e = as_expr(x)
    if is_tpe_syntax(e):
        return e
    if any(isinstance(n, S) for n in _nodes(e)):
        e = flatten(e)
    if not is_tpe(e):
        raise NotATPE(_refusal(e))
    return as_tpe(e)


def _nodes(e: Expr):
    seen, stack = set(), [e]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        yield x
        stack.extend(x.children())


# ============================================================================================ Theorem I
FALSE_NAME = "⊥"


def eq1(n: Neuron, rule: str, src: dict[str, Expr | None]) -> Expr | None:
    """Eq. (1): N_i(z) = S{ prod_m ~N_jm(z) . sum_{alpha in kappa_i} prod_{s in alpha} N_is(z) } with the
    sources' expressions substituted (None = never fires). kappa_i: the sets of sources whose synapses sum to
    more than theta_i (only minimal sets are listed; the disjunction over all of them is the same sentence).
    Relative inhibition (Theorem IV): a disjunction over the sets I of inhibitors assumed active, each with
    theta raised by their synapses and absolutely inhibited by the others."""

    def excitation(theta: int) -> Expr | None:
        srcs = sorted(n.excitatory)
        minimal: list[tuple[str, ...]] = []
        for r in range(1, len(srcs) + 1):
            for alpha in itertools.combinations(srcs, r):
                if any(set(m) <= set(alpha) for m in minimal):
                    continue
                if passes(sum(n.excitatory[s] for s in alpha), theta, rule):
                    minimal.append(alpha)
        terms = []
        for alpha in minimal:
            parts = [src[s] for s in alpha]
            if any(p is None for p in parts):
                continue  # a source that never fires makes this conjunction false
            terms.append(big_and(parts))
        return big_or(terms)

    def inhibited_by(names) -> Expr | None:
        return big_or([src[j] for j in sorted(names) if src[j] is not None])

    if n.inhibition == "absolute":
        body = excitation(n.theta)
        inh = inhibited_by(n.inhibitory)
        if body is not None and inh is not None:
            body = AndNot(body, inh)
    else:
        inh_names, terms = sorted(n.inhibitory), []
        for r in range(len(inh_names) + 1):
            for I in itertools.combinations(inh_names, r):
                exc = excitation(n.theta + sum(n.inhibitory[j] for j in I))
                if exc is None:
                    continue
                others = inhibited_by(set(inh_names) - set(I))
                terms.append(AndNot(exc, others) if others is not None else exc)
        body = big_or(terms)
    return None if body is None else S(body)


def solve(net: Net) -> dict[str, Expr]:
    """Theorem I: for a net of order 0, a TPE in the peripheral afferents for every cell (Eq. (1) for each
    neuron, substituted until only afferents remain). A cell that can never fire gets the TPE p . ~p."""
    src: dict[str, Expr | None] = {a: P(a) for a in net.afferents}
    for c in net.topological_order():
        if c in net.by_name:
            src[c] = eq1(net.by_name[c], net.rule, src)
    never = AndNot(P(net.afferents[0]), P(net.afferents[0]))
    return {c: (e if e is not None else never) for c, e in src.items()}


# ============================================================================================ Theorem II
@dataclass
class Realization:
    """A net of order 0 and, for each realised expression, its realising cell and lag n:
    N_cell(t) = e(t - n) for every t (realizable in the extended sense, §2; n = 0 is the narrow sense)."""
    net: Net
    cells: dict[str, str]
    lags: dict[str, int]

    @property
    def output(self) -> str:
        return self._single(self.cells)

    @property
    def lag(self) -> int:
        return self._single(self.lags)

    @staticmethod
    def _single(d: dict):
        if "out" not in d:
            raise KeyError(f"this realisation has several outputs {sorted(d)}; use .cells[name] / .lags[name]")
        return d["out"]


def realize(exprs: Expr | str | dict[str, Expr | str], rule: str = "exceeds", names: list[str] | None = None,
            name: str = "Theorem II net") -> Realization:
    """Theorem II: a net of order 0 realising each TPE, built by the paper's induction from Figs. 1a-d:
    precession chains (1a) align the operands' lags, then one disjunction (1b), conjunction (1c) or conjoined
    negation (1d) cell. Sub-expressions and delay chains are shared. A sentence that is not syntactically a
    TPE goes through :func:`tpe` first (and is refused if Theorem III says no net can realise it)."""
    if not isinstance(exprs, dict):
        exprs = {"out": exprs}
    exprs = {k: tpe(as_expr(v)) for k, v in exprs.items()}
    afferents = names if names is not None else sorted({v for e in exprs.values() for v in variables(e)})
    neurons: list[Neuron] = []
    made: dict[Expr, tuple[str, int]] = {}
    chains: dict[tuple[str, int], str] = {}
    counter = itertools.count(1)

    def new(kind: str) -> str:
        return f"{kind}{next(counter)}"

    def delayed(cell: str, k: int) -> str:          # Fig. 1a, k times
        for i in range(k):
            key = (cell, 1)
            if key not in chains:
                c = new("s")
                neurons.append(precession(c, cell, rule))
                chains[key] = c
            cell = chains[key]
        return cell

    def build(e: Expr) -> tuple[str, int]:          # cell c with c(t) = e(t - n)
        if e in made:
            return made[e]
        if isinstance(e, P):
            if e.name not in afferents:
                raise ValueError(f"{e.name!r} is not among the afferents {afferents}")
            r = (e.name, -e.lag)
        elif isinstance(e, S):
            c, n = build(e.arg)
            r = (c, n - 1)
        elif isinstance(e, (Or, And)):
            negated = isinstance(e, And) and isinstance(e.b, Not)
            ca, na = build(e.a)
            cb, nb = build(e.b.arg if negated else e.b)
            L = max(na, nb)
            ca, cb = delayed(ca, L - na), delayed(cb, L - nb)
            if isinstance(e, Or):
                g = new("or")
                neurons.append(disjunction(g, ca, cb, rule))          # Fig. 1b
            elif negated:
                g = new("andnot")
                neurons.append(conjoined_negation(g, ca, cb, rule))   # Fig. 1d
            else:
                g = new("and")
                neurons.append(conjunction(g, ca, cb, rule))          # Fig. 1c
            r = (g, L + 1)
        else:
            raise NotATPE(f"{to_str(e)} is not a TPE clause")
        made[e] = r
        return r

    cells, lags = {}, {}
    for key, e in exprs.items():
        c, n = build(e)
        if n < 0:
            c, n = delayed(c, -n), 0
        cells[key], lags[key] = c, n
    net = Net(afferents, neurons, rule=rule, name=name, outputs=list(dict.fromkeys(cells.values())))
    return Realization(net, cells, lags)


# ============================================================================================ Theorem IV
def relative_to_absolute(net: Net, outputs: list[str] | None = None) -> Realization:
    """Theorem IV, relative -> absolute: "inspection shows that [the law of excitation with relative
    inhibition] is a TPE" (:func:`eq1`), so Theorem I solves the net and Theorem II realises each output with
    absolute inhibition only, at some lag. Nets of order 0."""
    sol = solve(net)
    outs = outputs or net.outputs
    r = realize({o: sol[o] for o in outs}, rule=net.rule, names=net.afferents, name=f"{net.name} (absolute)")
    assert all(n.inhibition == "absolute" for n in r.net.neurons)
    return r


def absolute_to_relative(net: Net) -> Net:
    """Theorem IV, absolute -> relative: "give the inhibitory axons afferent to c_i any sufficiently large
    number of inhibitory synapses apiece": (all excitatory synapses + 1) each. Same timing; any order."""
    neurons = []
    for n in net.neurons:
        big = sum(n.excitatory.values()) + 1
        neurons.append(Neuron(n.name, n.theta, dict(n.excitatory), {j: big for j in n.inhibitory}, "relative")
                       if n.inhibitory and n.inhibition == "absolute" else n)
    return Net(net.afferents, neurons, net.rule, f"{net.name} (relative)", net.outputs)


# ============================================================================================ random objects
def random_tpe(rng: random.Random, names: list[str], depth: int = 4) -> Expr:
    """A random TPE by the recursion of §2 (leaves p[z]; S, v, ., .~)."""
    if depth == 0 or rng.random() < 0.25:
        return P(rng.choice(names))
    op = rng.choice(("S", "or", "and", "andnot", "S"))
    if op == "S":
        return S(random_tpe(rng, names, depth - 1))
    a, b = random_tpe(rng, names, depth - 1), random_tpe(rng, names, depth - 1)
    return {"or": Or, "and": And, "andnot": AndNot}[op](a, b)


def random_sentence(rng: random.Random, names: list[str], depth: int = 3, max_lag: int = 2) -> Expr:
    """A random sentence of Theorem III: atoms p(z-k), any of ~, v, ., ->, <->."""
    if depth == 0 or rng.random() < 0.2:
        return P(rng.choice(names), rng.randint(0, max_lag))
    op = rng.choice(("not", "or", "and", "imp", "iff"))
    if op == "not":
        return Not(random_sentence(rng, names, depth - 1, max_lag))
    a, b = random_sentence(rng, names, depth - 1, max_lag), random_sentence(rng, names, depth - 1, max_lag)
    return {"or": Or, "and": And, "imp": Implies, "iff": Iff}[op](a, b)


def random_net(rng: random.Random, n_afferents: int = 2, n_neurons: int = 5, circles: bool = False,
               relative: float = 0.0, rule: str = "exceeds") -> Net:
    """A random net; order 0 unless ``circles`` (then sources may be any cell, the cell itself included).
    ``relative``: probability that a neuron uses relative inhibition."""
    afferents = [f"N{i + 1}" for i in range(n_afferents)]
    names = [f"c{i + 1}" for i in range(n_neurons)]
    neurons = []
    for i, name in enumerate(names):
        pool = afferents + (names if circles else names[:i])
        exc = {s: rng.randint(1, 2) for s in rng.sample(pool, min(len(pool), rng.randint(1, 3)))}
        k_inh = rng.choice((0, 0, 1, 1, 2))
        inh = {s: rng.randint(1, 2) for s in rng.sample(pool, min(len(pool), k_inh))}
        k = rng.randint(1, sum(exc.values()) + (1 if rng.random() < 0.1 else 0))  # sometimes unreachable
        neurons.append(Neuron(name, theta_for(k, rule), exc, inh,
                              "relative" if inh and rng.random() < relative else "absolute"))
    return Net(afferents, neurons, rule, "random net", [names[-1]])


def all_histories(n_afferents: int, T: int) -> torch.Tensor:
    """Every history of ``n_afferents`` afferents over T steps: [2^(P*T), P, T] bool."""
    bits = n_afferents * T
    if bits > 22:
        raise ValueError(f"{n_afferents} afferents x {T} steps = 2^{bits} histories; keep P*T <= 22")
    r = torch.arange(2 ** bits)
    flat = ((r[:, None] >> torch.arange(bits)) & 1).bool()
    return flat.reshape(-1, n_afferents, T)


def is_window_function(x: torch.Tensor, y: torch.Tensor, t: int, d: int) -> bool:
    """Over the histories x [B, P, T], is y[:, t] determined by the inputs in the window [t-d, t-1]?
    For a net of order 0 and depth d this always holds (its Theorem I TPE has lags 1..d); a net whose output
    is not a window function for some d can be matched by no order-0 net of depth <= d."""
    lo = max(0, t - d)
    w = x[:, :, lo:t].reshape(x.shape[0], -1).long()                         # [B, P*(t-lo)]
    if w.shape[1] > 40:
        raise ValueError("window too wide to index")
    key = (w * (2 ** torch.arange(w.shape[1]))).sum(-1) if w.shape[1] else torch.zeros(x.shape[0], dtype=torch.long)
    uniq, inv = torch.unique(key, return_inverse=True)
    v = y[:, t].long()
    hi = torch.zeros(len(uniq), dtype=torch.long).scatter_reduce(0, inv, v, "amax", include_self=False)
    lo_ = torch.ones(len(uniq), dtype=torch.long).scatter_reduce(0, inv, v, "amin", include_self=False)
    return bool(torch.equal(hi, lo_))
