"""The paper's tasks, generated in full (they are small, exact and need no files).

- :func:`symmetry`: all 64 binary vectors of length 6; desired output 1 iff the vector is symmetric
  about its centre (p. 534, Fig. 1). 8 of them are.
- :func:`family_trees`: the two isomorphic 12-person trees of Fig. 2 (English, Italian) and the
  12 relationships; 104 (person 1, relationship) cases with at least one answer, 112 facts.
- :func:`xor`, :func:`parity`, :func:`encoder`: the PDP ch. 8 problems.
- :func:`delay_sequences`: a small sequence task for the iterative net of Fig. 5.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


def symmetry() -> tuple[np.ndarray, np.ndarray]:
    """X [64, 6] (all binary vectors), d [64, 1] (1 iff symmetric about the centre)."""
    X = np.array(list(itertools.product([0, 1], repeat=6)), dtype=np.float64)
    d = np.all(X == X[:, ::-1], axis=1).astype(np.float64)[:, None]
    return X, d


def xor() -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    return X, (X.sum(1) % 2)[:, None]


def parity(n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """All 2^n binary vectors; desired output 1 iff an odd number of bits are on."""
    X = np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.float64)
    return X, (X.sum(1) % 2)[:, None]


def encoder(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The n one-hot patterns, to be reproduced at the output through a narrow hidden layer."""
    X = np.eye(n)
    return X, X.copy()


# ---------------------------------------------------------------------------------------------
# Family trees, Fig. 2
# ---------------------------------------------------------------------------------------------
ENGLISH = ["Christopher", "Penelope", "Andrew", "Christine", "Margaret", "Arthur", "Victoria", "James",
           "Jennifer", "Charles", "Colin", "Charlotte"]
ITALIAN = ["Roberto", "Maria", "Pierro", "Francesca", "Gina", "Emilio", "Lucia", "Marco", "Angela",
           "Tomaso", "Alfonso", "Sophia"]                    # isomorphic: ITALIAN[k] <-> ENGLISH[k]
PEOPLE = ENGLISH + ITALIAN
RELATIONSHIPS = ["father", "mother", "husband", "wife", "son", "daughter", "uncle", "aunt", "brother",
                 "sister", "nephew", "niece"]

# One tree, written with the English names (Fig. 2): marriages and children.
_MALE = {"Christopher", "Andrew", "Arthur", "James", "Charles", "Colin"}
_MARRIAGES = [("Christopher", "Penelope"), ("Andrew", "Christine"), ("Arthur", "Margaret"),
              ("James", "Victoria"), ("Charles", "Jennifer")]                     # (husband, wife)
_CHILDREN = {("Christopher", "Penelope"): ["Arthur", "Victoria"],
             ("Andrew", "Christine"): ["James", "Jennifer"],
             ("James", "Victoria"): ["Colin", "Charlotte"]}
# Attributes used to read Fig. 4: generation (1 = oldest) and branch of the tree (left: the
# Christopher-Penelope side, right: the Andrew-Christine side; Colin and Charlotte descend from both).
GENERATION = {"Christopher": 1, "Penelope": 1, "Andrew": 1, "Christine": 1, "Margaret": 2, "Arthur": 2,
              "Victoria": 2, "James": 2, "Jennifer": 2, "Charles": 2, "Colin": 3, "Charlotte": 3}
BRANCH = {"Christopher": "left", "Penelope": "left", "Arthur": "left", "Margaret": "left",
          "Victoria": "left", "Andrew": "right", "Christine": "right", "James": "right",
          "Jennifer": "right", "Charles": "right", "Colin": None, "Charlotte": None}


def _english_facts() -> set[tuple[str, str, str]]:
    """Every (person 1, relationship, person 2) fact in the English tree."""
    spouse = {}
    for h, w in _MARRIAGES:
        spouse[h], spouse[w] = w, h
    parents = {c: (f, m) for (f, m), cs in _CHILDREN.items() for c in cs}
    children = {p: cs for (f, m), cs in _CHILDREN.items() for p in (f, m)}
    male = lambda p: p in _MALE  # noqa: E731
    facts = set()
    for p in ENGLISH:
        if p in spouse:
            facts.add((p, "husband" if not male(p) else "wife", spouse[p]))
        for c in children.get(p, []):
            facts.add((p, "son" if male(c) else "daughter", c))
        if p in parents:
            f, m = parents[p]
            facts |= {(p, "father", f), (p, "mother", m)}
            for s in children[f]:
                if s != p:
                    facts.add((p, "brother" if male(s) else "sister", s))
            # uncles and aunts: the parents' siblings and those siblings' spouses
            for par in (f, m):
                if par in parents:
                    for sib in children[parents[par][0]]:
                        if sib == par:
                            continue
                        for a in [sib] + ([spouse[sib]] if sib in spouse else []):
                            facts.add((p, "uncle" if male(a) else "aunt", a))
    # nephews and nieces are the converse of uncles and aunts
    for p1, r, p2 in list(facts):
        if r in ("uncle", "aunt"):
            facts.add((p2, "nephew" if male(p1) else "niece", p1))
    return facts


def family_facts() -> list[tuple[str, str, str]]:
    """All 112 facts of both trees (56 each), sorted."""
    eng = _english_facts()
    to_it = dict(zip(ENGLISH, ITALIAN))
    ita = {(to_it[a], r, to_it[b]) for a, r, b in eng}
    return sorted(eng | ita)


@dataclass
class FamilyCases:
    """The 104 (person 1, relationship) cases: one-hot inputs and the set of correct person 2."""
    cases: list[tuple[str, str]]          # (person 1, relationship)
    answers: list[list[str]]              # every correct person 2
    person1: np.ndarray                   # [104, 24] one-hot
    relationship: np.ndarray              # [104, 12] one-hot
    person2: np.ndarray                   # [104, 24] desired states: 1 for every correct answer

    def subset(self, idx) -> "FamilyCases":
        idx = list(idx)
        return FamilyCases([self.cases[i] for i in idx], [self.answers[i] for i in idx],
                           self.person1[idx], self.relationship[idx], self.person2[idx])

    def __len__(self) -> int:
        return len(self.cases)


def family_trees() -> FamilyCases:
    facts = family_facts()
    keys = sorted({(a, r) for a, r, _ in facts}, key=lambda k: (PEOPLE.index(k[0]), RELATIONSHIPS.index(k[1])))
    answers = [sorted((b for a, r, b in facts if (a, r) == k), key=PEOPLE.index) for k in keys]
    P1 = np.zeros((len(keys), 24))
    R = np.zeros((len(keys), 12))
    P2 = np.zeros((len(keys), 24))
    for n, ((a, r), ans) in enumerate(zip(keys, answers)):
        P1[n, PEOPLE.index(a)] = 1
        R[n, RELATIONSHIPS.index(r)] = 1
        P2[n, [PEOPLE.index(b) for b in ans]] = 1
    return FamilyCases(keys, answers, P1, R, P2)


# ---------------------------------------------------------------------------------------------
# A sequence task for the iterative net (Fig. 5)
# ---------------------------------------------------------------------------------------------
def delay_sequences(T: int = 4, delay: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All 2^T binary sequences, one bit per time step; the output at step t must be the input
    bit of step t − ``delay`` (so the net must hold bits in its hidden states). Steps t ≤ delay have
    no desired state (mask 0). Returns xs [T, C, 1], ds [T, C, 1], masks [T, C, 1]."""
    if not 1 <= delay < T:
        raise ValueError(f"need 1 <= delay < T, got delay={delay}, T={T}")
    S = np.array(list(itertools.product([0, 1], repeat=T)), dtype=np.float64)    # [C, T]
    xs = S.T[:, :, None]                                                          # [T, C, 1]
    ds = np.zeros_like(xs)
    ds[delay:] = xs[:-delay]
    masks = np.zeros_like(xs)
    masks[delay:] = 1.0
    return xs, ds, masks
