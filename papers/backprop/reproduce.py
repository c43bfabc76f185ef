"""Reproduce Rumelhart, Hinton & Williams (1986): every experiment over many seeds.

    python -m papers.backprop.reproduce --preset {smoke,quick,paper} [--out DIR] [--seed N] [--set key=value]

Experiments (each a function below, each returning claims, results and figures):
  symmetry      Fig. 1   6-2-1 net, ε = 0.1, α = 0.9, weights in [−0.3, 0.3], 64 patterns per sweep
  family trees  Figs 2-4 the five-layer net on 100 of the 104 cases, 4 held out, the paper's schedule
  iterative     Fig. 5   a recurrent net and its unrolled layered equivalent with tied weights
  pdp           PDP ch. 8 XOR (2-1-1 with direct links; 2-2-1), 4-bit parity (4-4-1), 8-3-8 encoder
Every net is trained by the hand-written generalised delta rule of ``model.py`` (numpy, float64).
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from shared.cli import Run  # noqa: E402
from shared.report import at_least, at_most, binomial_target, claim, within_quantiles  # noqa: E402

from . import data  # noqa: E402
from .loss import all_correct  # noqa: E402
from .model import IterativeNet, family_net, layered, symmetry_net  # noqa: E402


@dataclass
class Config:
    # --- symmetry, p. 534 and Fig. 1 -------------------------------------------------------
    sym_seeds: int = 100
    sym_epsilon: float = 0.1              # "ε = 0.1"
    sym_alpha: float = 0.9                # "α = 0.9"
    sym_init: float = 0.3                 # "initial weights ... random, uniform in [−0.3, 0.3]"
    sym_max_sweeps: int = 10000           # a seed not solved by then counts as stuck
    sym_strict_margin: float = 0.1        # after solving, train on until every |y − d| < this, then read the weights
    # --- family trees, p. 535, Figs 2-4 ----------------------------------------------------
    fam_seeds: int = 30
    fam_sweeps: int = 1500                # "trained for 1500 sweeps"
    fam_warm_sweeps: int = 20             # "for the first 20 sweeps"
    fam_warm_epsilon: float = 0.005       # "ε = 0.005 and α = 0.5"
    fam_warm_alpha: float = 0.5
    fam_epsilon: float = 0.01             # "ε = 0.01 and α = 0.9 for the remaining sweeps" (see README on 0.001)
    fam_epsilon_alt: float = 0.001        # the transcription's reading, run as well; ≤ 0 skips it
    fam_alpha: float = 0.9
    fam_decay: float = 0.002              # "decrementing every weight by 0.2% after each weight change"
    fam_tolerance: float = 0.2            # error zero if on-units > 0.8 and off-units < 0.2
    fam_tolerance_mode: str = "literal"   # literal: error y − d outside the band; margin: distance to the band
    fam_init: float = 0.3                 # not stated for this experiment; the symmetry experiment's range
    fam_n_test: int = 4                   # "100 of the 104 ... the four triples on which it was not trained"
    fam_rescue: bool = True               # also run the declared deviation below (README, deviations)
    fam_rescue_tolerance_mode: str = "margin"
    fam_rescue_grid: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)   # ε after sweep 20, chosen by training fit
    fam_rescue_sweeps_grid: tuple[int, ...] = (1500, 4000)        # and the number of sweeps, likewise
    fam_rescue_select_seeds: int = 5      # selection runs, on their own seeds (never the evaluation seeds)
    fam_encode_threshold: float = 0.7     # a unit "encodes" an attribute when η² of its weights ≥ this
    # --- Fig. 5, the iterative net ---------------------------------------------------------
    rnn_seeds: int = 20
    rnn_T: int = 4                        # time steps (layers of the unrolled net)
    rnn_delay: int = 2                    # output at t = input at t − delay
    rnn_hidden: int = 3
    rnn_epsilon: float = 0.5
    rnn_alpha: float = 0.9
    rnn_init: float = 0.3
    rnn_max_sweeps: int = 5000
    rnn_check_seeds: int = 5              # seeds also trained as the unrolled layered net, in lockstep
    # --- PDP ch. 8 -------------------------------------------------------------------------
    pdp_seeds: int = 100
    pdp_epsilon: float = 0.5              # "η = 0.5" (XOR, parity)
    pdp_alpha: float = 0.9                # "α ≈ 0.9 in most simulations"
    pdp_init: float = 0.3
    enc_epsilon: float = 0.1              # 8-3-8 encoder: no ε in the text we have (README); 0.5 leaves most seeds stuck
    pdp_max_sweeps: int = 10000
    pdp_strict_margin: float = 0.1        # "solved" in the PDP sense: every output within 0.1 of its target


PRESETS = {
    "smoke": Config(sym_seeds=3, sym_max_sweeps=3000, fam_seeds=2, fam_sweeps=60, rnn_seeds=2, rnn_max_sweeps=400,
                    rnn_check_seeds=1, pdp_seeds=3, pdp_max_sweeps=400, fam_rescue_grid=(0.3,),
                    fam_rescue_sweeps_grid=(60,), fam_rescue_select_seeds=1),
    "quick": Config(),
    "paper": Config(sym_seeds=1000, fam_seeds=200, rnn_seeds=200, rnn_check_seeds=20, pdp_seeds=1000),
}


def progress(it, desc):
    return tqdm(it, desc=desc, leave=False, disable=not sys.stderr.isatty())


def rng_for(run_seed: int, experiment: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([run_seed, experiment, seed])


def pct(xs, q):
    return float(np.percentile(xs, q)) if len(xs) else None


def dist(xs: list) -> dict:
    """Summary of a sweeps-to-solve list (None = not solved)."""
    ok = [x for x in xs if x is not None]
    return {"n": len(xs), "solved": len(ok), "success_rate": len(ok) / max(len(xs), 1),
            "median": pct(ok, 50), "p10": pct(ok, 10), "p25": pct(ok, 25), "p75": pct(ok, 75), "p90": pct(ok, 90),
            "min": min(ok) if ok else None, "max": max(ok) if ok else None}


def censored(xs: list, max_sweeps: int) -> list:
    """Sweeps-to-solve of every seed, a seed not solved within ``max_sweeps`` counted as ``max_sweeps + 1``."""
    return [max_sweeps + 1 if x is None else x for x in xs]


def quartiles(xs: list) -> str:
    return f"{n0(pct(xs, 50))} [{n0(pct(xs, 25))}, {n0(pct(xs, 75))}]"


def n0(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def train_until(net, inputs, targets, epsilon, alpha, max_sweeps, strict_margin):
    """Full-batch sweeps until every output is within ``strict_margin`` of its target (or max).

    Returns (sweeps to all-correct [right side of 0.5], sweeps to strict, final outputs). A count is
    the number of weight changes made before the forward pass that first met the criterion."""
    out = next(iter(targets))
    first = strict = None
    for n in range(max_sweeps + 1):
        if n == max_sweeps:
            y = net.forward(inputs)
        else:
            _, y = net.sweep(inputs, targets, epsilon, alpha)
        if first is None and all_correct(y[out], targets[out]):
            first = n
        if all_correct(y[out], targets[out], margin=strict_margin):
            strict = n
            break
    return first, strict, y[out]


def hinton(ax, W, title=None, vmax=None):
    """A Hinton diagram: white squares positive, black negative, area ∝ |w|."""
    W = np.atleast_2d(W)
    vmax = vmax or np.abs(W).max() or 1.0
    ax.set_facecolor("0.55")
    for (r, c), w in np.ndenumerate(W):
        s = np.sqrt(min(abs(w) / vmax, 1.0)) * 0.9
        ax.add_patch(plt.Rectangle((c - s / 2, r - s / 2), s, s, color="white" if w > 0 else "black"))
    ax.set_xlim(-0.6, W.shape[1] - 0.4)
    ax.set_ylim(W.shape[0] - 0.4, -0.6)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


# ---------------------------------------------------------------------------------------------
# Symmetry (Fig. 1)
# ---------------------------------------------------------------------------------------------
def analyse_symmetry(params) -> dict:
    """Measure the paper's description of the solution (p. 534)."""
    W = params["W[in->h1]"]             # [6, 2]
    v = params["W[h1->out]"][:, 0]       # [2]
    b_h, b_o = params["b[h1]"], params["b[out]"][0]
    anti = [float(np.linalg.norm(W[:, k] + W[::-1, k]) / np.linalg.norm(W[:, k])) for k in range(2)]
    ratios, ratio_err = [], []
    for k in range(2):
        side = np.sort(np.abs(W[:3, k]))
        r = side / side[0]
        ratios.append([float(x) for x in r])
        ratio_err.append(float(np.max(np.abs(r - [1, 2, 4]) / [1, 2, 4])))
    cos = float(W[:, 0] @ W[:, 1] / (np.linalg.norm(W[:, 0]) * np.linalg.norm(W[:, 1])))
    return {"antisymmetry": anti, "ratios": ratios, "ratio_rel_err": ratio_err, "cos_hidden": cos,
            "hidden_bias_negative": bool(np.all(b_h < 0)), "output_bias_positive": bool(b_o > 0),
            "hidden_to_output_negative": bool(np.all(v < 0))}


def run_symmetry(cfg: Config, run: Run):
    X, d = data.symmetry()
    inputs, targets = {"in": X}, {"out": d}
    firsts, stricts, analyses, shown = [], [], [], None
    for s in progress(range(cfg.sym_seeds), "symmetry"):
        net = symmetry_net(cfg.sym_init, rng_for(run.seed, 1, s))
        first, strict, _ = train_until(net, inputs, targets, cfg.sym_epsilon, cfg.sym_alpha, cfg.sym_max_sweeps,
                                       cfg.sym_strict_margin)
        firsts.append(first)
        stricts.append(strict)
        if strict is not None:
            a = analyse_symmetry(net.params)
            analyses.append(a)
            if shown is None:
                shown = (s, strict, net.state_dict(), a)
    D, Ds = dist(firsts), dist(stricts)
    n_a = max(len(analyses), 1)
    anti_ok = sum(max(a["antisymmetry"]) < 0.1 for a in analyses) / n_a
    ratio_ok = sum(max(a["ratio_rel_err"]) < 0.25 for a in analyses) / n_a
    flip_ok = sum(a["cos_hidden"] < -0.9 for a in analyses) / n_a
    all3 = sum(max(a["antisymmetry"]) < 0.1 and max(a["ratio_rel_err"]) < 0.25 and a["cos_hidden"] < -0.9
               for a in analyses) / n_a
    signs_ok = sum(a["hidden_bias_negative"] and a["output_bias_positive"] for a in analyses) / n_a
    med_ratio = (np.median([r for a in analyses for r in a["ratios"]], axis=0).tolist() if analyses else None)
    res = {"sweeps_to_solve": D, "sweeps_to_strict": Ds, "sweeps_list": firsts,
           "solutions_analysed": len(analyses), "antisymmetric_frac": anti_ok, "ratio_124_frac": ratio_ok,
           "sign_flipped_hidden_frac": flip_ok, "all_three_frac": all3, "bias_signs_as_paper_frac": signs_ok, "median_side_ratios": med_ratio}
    figs = []
    if shown is not None:
        s, strict, P, a = shown
        fig, axes = plt.subplots(1, 3, figsize=(9, 1.9), gridspec_kw={"width_ratios": [7, 7, 3]})
        vmax = max(np.abs(v).max() for v in P.values())
        for k in range(2):
            hinton(axes[k], np.r_[P["W[in->h1]"][:, k], P["b[h1]"][k]][None], f"hidden {k+1}: inputs 1-6, bias",
                   vmax)
            for c, w in enumerate(np.r_[P["W[in->h1]"][:, k], P["b[h1]"][k]]):
                axes[k].text(c, 0.75, f"{w:.1f}", ha="center", fontsize=7)
        hinton(axes[2], np.r_[P["W[h1->out]"][:, 0], P["b[out]"]][None], "output: h1, h2, bias", vmax)
        for c, w in enumerate(np.r_[P["W[h1->out]"][:, 0], P["b[out]"]]):
            axes[2].text(c, 0.75, f"{w:.1f}", ha="center", fontsize=7)
        fig.suptitle(f"Symmetry net (seed {s}), weights after {strict} sweeps", fontsize=9)
        fig.tight_layout()
        fig.savefig(run.out / "fig1_symmetry.png", dpi=120)
        plt.close(fig)
        figs.append({"file": "fig1_symmetry.png", "caption": f"Fig. 1 redrawn: the learned weights of seed {s} "
                     "(white positive, black negative, area ∝ |w|, values printed)."})
        res["shown_seed"] = {"seed": s, "sweeps": strict, "analysis": a,
                             "weights": {k: np.round(v, 3).tolist() for k, v in P.items()}}
    # sweeps histogram
    ok = [x for x in firsts if x is not None]
    if ok:
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.hist(ok, bins=30, color="0.4")
        ax.axvline(1425, color="r", label="paper: 1,425")
        ax.set_xlabel("sweeps until all 64 outputs on the right side of 0.5")
        ax.set_ylabel("seeds")
        ax.legend()
        fig.tight_layout()
        fig.savefig(run.out / "symmetry_sweeps.png", dpi=120)
        plt.close(fig)
        figs.append({"file": "symmetry_sweeps.png", "caption": f"Symmetry: sweeps to solve over {len(firsts)} "
                     f"seeds ({len(firsts) - len(ok)} not solved in {cfg.sym_max_sweeps})."})
    every = censored(firsts, cfg.sym_max_sweeps)
    claims = [
        claim(id="symmetry-sweeps", source="p. 534, Fig. 1",
              statement="The 6-2-1 net learns symmetry detection in 1,425 sweeps (ε = 0.1, α = 0.9, weights in "
                        "[−0.3, 0.3])",
              metric="sweeps until all 64 outputs are on the right side of 0.5: median [p25, p75] over every "
                     f"seed (not solved = {cfg.sym_max_sweeps + 1:,})",
              paper=1425, ours=quartiles(every), criterion=within_quantiles(every, 1425),
              note=f"{D['solved']}/{D['n']} seeds solve within {cfg.sym_max_sweeps} sweeps (the paper reports one "
                   f"run and no failure rate); 10-90% range [{n0(D['p10'])}, {n0(D['p90'])}]."),
        claim(id="symmetry-solution", source="p. 534, Fig. 1",
              statement="Mirror weights are equal and opposite, one side in ratio 1:2:4, the two hidden units "
                        "sign-flipped copies",
              metric="fraction of solved seeds meeting all three: antisymmetric (‖w+flip(w)‖/‖w‖ < 0.1), 1:2:4 "
                     "within 25%, cos(h1, h2) < −0.9",
              paper=None, ours=round(all3, 3), criterion=at_least(0.8),
              note=f"separately: antisymmetric {anti_ok:.2f}, 1:2:4 {ratio_ok:.2f}, sign-flipped {flip_ok:.2f} of "
                   f"{len(analyses)}; median sorted one-side ratios "
                   f"{np.round(med_ratio, 2).tolist() if med_ratio else None}; hidden biases negative and output "
                   f"bias positive in {signs_ok:.0%}."),
    ]
    return claims, res, figs


# ---------------------------------------------------------------------------------------------
# Family trees (Figs 2-4)
# ---------------------------------------------------------------------------------------------
def check_tolerance_mode(mode: str):
    """``literal``: outside the 0.2/0.8 band the error is y − d; ``margin``: the distance to the band."""
    if mode not in ("literal", "margin"):
        raise ValueError(f"fam_tolerance_mode must be 'literal' or 'margin', got {mode!r}")
    return mode


def family_sweep(net, cases, epsilon, alpha, decay, tolerance, mode):
    inputs = {"person1": cases.person1, "relationship": cases.relationship}
    if mode == "literal":
        return net.sweep(inputs, {"person2": cases.person2}, epsilon, alpha, decay, tolerance=tolerance)
    # margin: desired state moved to the band edge, error zero inside the band
    y = net.forward(inputs)["person2"]
    d = cases.person2
    edge = np.where(d >= 0.5, 1.0 - tolerance, tolerance)
    inside = ((d >= 0.5) & (y > edge)) | ((d < 0.5) & (y < edge))
    target = np.where(inside, y, edge)                 # zero error inside the band
    return net.sweep(inputs, {"person2": target}, epsilon, alpha, decay)


def family_eval(net, cases) -> dict:
    y = net.forward({"person1": cases.person1, "relationship": cases.relationship})["person2"]
    d = cases.person2
    strict = np.all((y > 0.5) == (d > 0.5), axis=1)               # every one of the 24 outputs right
    top = d[np.arange(len(d)), y.argmax(1)] > 0.5                 # the most active unit is a right answer
    return {"strict": strict.tolist(), "argmax": top.tolist(), "y": y}


def eta2(values: np.ndarray, labels: list) -> float:
    """Correlation ratio: the fraction of the variance of ``values`` explained by the groups."""
    keep = [i for i, l in enumerate(labels) if l is not None]
    v = values[keep]
    lab = np.array([labels[i] for i in keep])
    tot = np.sum((v - v.mean()) ** 2)
    if tot == 0:
        return 0.0
    between = sum(np.sum(lab == g) * (v[lab == g].mean() - v.mean()) ** 2 for g in set(lab))
    return float(between / tot)


ATTRIBUTES = {
    "nationality": ["English"] * 12 + ["Italian"] * 12,
    "generation": [data.GENERATION[p] for p in data.ENGLISH] * 2,
    "branch": [data.BRANCH[p] for p in data.ENGLISH] * 2,
}


def encoding(W: np.ndarray) -> dict:
    """For each attribute: η² of the best of the 6 person-1 units' incoming weights ([24, 6])."""
    return {a: max(eta2(W[:, k], lab) for k in range(W.shape[1])) for a, lab in ATTRIBUTES.items()}


def train_family(cfg: Config, run: Run, seed: int, epsilon: float, mode: str, sweeps: int | None = None):
    fc = data.family_trees()
    split = rng_for(run.seed, 2, seed)
    test = split.choice(len(fc), cfg.fam_n_test, replace=False)
    train = [i for i in range(len(fc)) if i not in set(test)]
    tr, te = fc.subset(train), fc.subset(sorted(test))
    net = family_net(cfg.fam_init, split)
    W0 = net.params["W[person1->person1_code]"].copy()
    for n in range(cfg.fam_sweeps if sweeps is None else sweeps):
        warm = n < cfg.fam_warm_sweeps
        family_sweep(net, tr, cfg.fam_warm_epsilon if warm else epsilon, cfg.fam_warm_alpha if warm else cfg.fam_alpha,
                     cfg.fam_decay, cfg.fam_tolerance, mode)
    ev_tr, ev_te = family_eval(net, tr), family_eval(net, te)
    return {"train_output_spread": float(ev_tr["y"].std(axis=0).mean()),  # ≈ 0 when the output ignores the input
            "train_strict": float(np.mean(ev_tr["strict"])), "train_argmax": float(np.mean(ev_tr["argmax"])),
            "test_strict": int(np.sum(ev_te["strict"])), "test_argmax": int(np.sum(ev_te["argmax"])),
            "test_cases": [f"{a} {r}" for a, r in te.cases],
            "encoding": encoding(net.params["W[person1->person1_code]"]), "encoding_init": encoding(W0),
            "W_person": net.params["W[person1->person1_code]"].copy()}


def summarise_family(rs: list, thr: float) -> dict:
    n = len(rs)
    out = {"n": n, "test_strict_mean": float(np.mean([r["test_strict"] for r in rs])) / 4 if n else None,
           "test_argmax_mean": float(np.mean([r["test_argmax"] for r in rs])) / 4 if n else None,
           "frac_4of4_strict": sum(r["test_strict"] == 4 for r in rs) / max(n, 1),
           "frac_4of4_argmax": sum(r["test_argmax"] == 4 for r in rs) / max(n, 1),
           "test_strict_hist": [sum(r["test_strict"] == k for r in rs) for k in range(5)],
           "train_strict_mean": float(np.mean([r["train_strict"] for r in rs])) if n else None,
           "train_all_correct_frac": sum(r["train_strict"] == 1.0 for r in rs) / max(n, 1),
           "train_output_spread_median": float(np.median([r["train_output_spread"] for r in rs])) if n else None}
    for a in ATTRIBUTES:
        out[f"encodes_{a}_frac"] = sum(r["encoding"][a] >= thr for r in rs) / max(n, 1)
        out[f"encodes_{a}_frac_at_init"] = sum(r["encoding_init"][a] >= thr for r in rs) / max(n, 1)
        out[f"eta2_{a}_median"] = float(np.median([r["encoding"][a] for r in rs])) if n else None
    return out


def run_family(cfg: Config, run: Run):
    check_tolerance_mode(cfg.fam_tolerance_mode)
    check_tolerance_mode(cfg.fam_rescue_tolerance_mode)
    settings = {f"paper_eps{cfg.fam_epsilon:g}": (cfg.fam_epsilon, cfg.fam_tolerance_mode)}
    if cfg.fam_epsilon_alt > 0:
        settings[f"paper_eps{cfg.fam_epsilon_alt:g}"] = (cfg.fam_epsilon_alt, cfg.fam_tolerance_mode)
    settings = {k: (eps, mode, cfg.fam_sweeps) for k, (eps, mode) in settings.items()}
    per, res = {}, {}
    if cfg.fam_rescue:
        # Declared deviation: pick ε after sweep 20 and the number of sweeps from a small grid by the
        # *training* accuracy of separate selection seeds (ties: fewer sweeps, then smaller ε); the
        # held-out cases and the evaluation seeds play no part.
        select = {}
        for sweeps in cfg.fam_rescue_sweeps_grid:
            for eps in cfg.fam_rescue_grid:
                rs = [train_family(cfg, run, 10_000 + s, eps, cfg.fam_rescue_tolerance_mode, sweeps)
                      for s in progress(range(cfg.fam_rescue_select_seeds), f"family select ε={eps:g} n={sweeps}")]
                select[f"eps={eps:g}, sweeps={sweeps}"] = (float(np.mean([r["train_strict"] for r in rs])), -sweeps,
                                                          -eps, eps, sweeps)
        _, _, _, eps, sweeps = max(select.values())
        res["rescue_selection_train_accuracy"] = {k: v[0] for k, v in select.items()}
        settings[f"deviation_eps{eps:g}_{sweeps}sweeps_{cfg.fam_rescue_tolerance_mode}"] = (
            eps, cfg.fam_rescue_tolerance_mode, sweeps)
    for name, (eps, mode, sweeps) in settings.items():
        per[name] = [train_family(cfg, run, s, eps, mode, sweeps)
                     for s in progress(range(cfg.fam_seeds), f"family {name}")]
        res[name] = summarise_family(per[name], cfg.fam_encode_threshold)
        res[name]["epsilon"], res[name]["tolerance_mode"], res[name]["sweeps"] = eps, mode, sweeps
        res[name]["per_seed"] = [{k: v for k, v in r.items() if k != "W_person"} for r in per[name]]
    # Fig. 4: the person-1 units of the first seed of the setting whose nets fit the training set best
    best = max(settings, key=lambda k: (res[k]["train_strict_mean"], k.startswith("paper")))
    W = per[best][0]["W_person"]                                  # [24, 6]
    fig, axes = plt.subplots(6, 1, figsize=(7, 7.5))
    vmax = np.abs(W).max()
    for k in range(6):
        hinton(axes[k], W[:, k].reshape(2, 12), f"unit {k+1}  (top: English, bottom: Italian, isomorphic "
               f"people aligned)", vmax)
    for c, p in enumerate(data.ENGLISH):
        axes[-1].text(c, 2.2, p[:7], rotation=60, ha="center", va="top", fontsize=6)
    fig.suptitle(f"Fig. 4 redrawn: weights from the 24 person-1 units to the 6 units that encode person 1\n"
                 f"({best}, seed 0)", fontsize=9)
    fig.tight_layout()
    fig.savefig(run.out / "fig4_family.png", dpi=120)
    plt.close(fig)
    figs = [{"file": "fig4_family.png", "caption": f"Fig. 4 redrawn for the setting '{best}' (the one whose nets "
             "fit the training cases best), seed 0. White positive, black negative; η² per unit in metrics.json."}]
    claims = []
    for name in settings:
        r = res[name]
        claims.append(claim(
            id=f"family-heldout-{name}", source="p. 535, Figs 2-4",
            statement=f"Trained on 100 of the 104 cases, the net answers the 4 held-out cases correctly ({name}: "
                      f"ε = {r['epsilon']:g} after sweep 20, {r['sweeps']} sweeps, tolerance {r['tolerance_mode']})",
            metric="fraction of seeds with 4/4 held-out cases right (all 24 outputs on the right side of 0.5)",
            paper="4/4 (one run)", ours=round(r["frac_4of4_strict"], 3), criterion=at_least(0.5),
            note=f"mean held-out accuracy {r['test_strict_mean']:.2f} (argmax {r['test_argmax_mean']:.2f}) over "
            f"{r['n']} seeds; training cases all correct in {r['train_all_correct_frac']:.0%} of seeds (mean training accuracy "
            f"{r['train_strict_mean']:.2f}); median spread of an output across the training cases "
            f"{r['train_output_spread_median']:.3f} (near 0 = the same output for every input: a plateau)."))
    r = res[best]
    fr = [r[f"encodes_{a}_frac"] for a in ATTRIBUTES]
    fr0 = [r[f"encodes_{a}_frac_at_init"] for a in ATTRIBUTES]
    claims.append(claim(
        id="family-units", source="p. 535, Fig. 4",
        statement="Person-1 units come to encode nationality, generation and branch",
        metric=f"the least of the three fractions of seeds ({best}) with a unit whose weights have η² ≥ "
               f"{cfg.fam_encode_threshold} for the attribute", paper=None, ours=round(min(fr), 3),
        criterion=at_least(0.5),
        note=f"nationality {fr[0]:.2f}, generation {fr[1]:.2f}, branch {fr[2]:.2f} (at init {fr0[0]:.2f}, "
        f"{fr0[1]:.2f}, {fr0[2]:.2f}); η² = share of the variance of a unit's 24 incoming weights explained by the attribute; "
        "median best-unit η²: " + ", ".join(f"{a} {r['eta2_' + a + '_median']:.2f}" for a in ATTRIBUTES) + "."))
    return claims, res, figs


# ---------------------------------------------------------------------------------------------
# Fig. 5: the iterative net and its unrolled layered equivalent
# ---------------------------------------------------------------------------------------------
def run_iterative(cfg: Config, run: Run):
    xs, ds, ms = data.delay_sequences(cfg.rnn_T, cfg.rnn_delay)
    sweeps, max_diff, curves = [], [], []
    for s in progress(range(cfg.rnn_seeds), "fig5"):
        net = IterativeNet(1, cfg.rnn_hidden, 1, cfg.rnn_init, rng_for(run.seed, 3, s))
        check = s < cfg.rnn_check_seeds
        layered_net = net.unroll(cfg.rnn_T) if check else None
        if check:
            inputs, targets, masks = net.unrolled_io(xs, ds, ms)
        solved, curve, diff = None, [], 0.0
        for n in range(cfg.rnn_max_sweeps):
            E, o = net.sweep(xs, ds, cfg.rnn_epsilon, cfg.rnn_alpha, masks=ms)
            curve.append(E)
            if check:
                E2, y2 = layered_net.sweep(inputs, targets, cfg.rnn_epsilon, cfg.rnn_alpha, masks=masks)
                o2 = np.stack([y2[f"o{t+1}"] for t in range(cfg.rnn_T)])
                diff = max(diff, float(np.abs(o2 - o).max()), abs(E2 - E))
            if all_correct(o, ds, mask=ms):
                solved = n
                break
        if check:
            P, L = net.params, layered_net.params
            for t in range(1, cfg.rnn_T + 1):
                diff = max(diff, float(np.abs(L[f"W[h{t-1}->h{t}]"] - P["W_hh"]).max()),
                           float(np.abs(L[f"W[x{t}->h{t}]"] - P["W_xh"]).max()),
                           float(np.abs(L[f"W[h{t}->o{t}]"] - P["W_ho"]).max()))
            max_diff.append(diff)
        sweeps.append(solved)
        curves.append(curve)
    D = dist(sweeps)
    fig, ax = plt.subplots(figsize=(5, 3))
    for c in curves[:10]:
        ax.plot(c, lw=0.8)
    ax.set_xlabel("sweep")
    ax.set_ylabel("E")
    ax.set_yscale("log")
    ax.set_title(f"Iterative net ({cfg.rnn_hidden} hidden, T = {cfg.rnn_T}): output at t = input at t − "
                 f"{cfg.rnn_delay}", fontsize=8)
    fig.tight_layout()
    fig.savefig(run.out / "fig5_iterative.png", dpi=120)
    plt.close(fig)
    res = {"sweeps_to_solve": D, "max_abs_diff_recurrent_vs_unrolled": max(max_diff) if max_diff else None,
           "seeds_checked": len(max_diff), "n_params": IterativeNet(1, cfg.rnn_hidden, 1).n_params}
    claims = [claim(
        id="fig5-equivalence", source="p. 535, Fig. 5",
        statement="A recurrent net run for T steps equals a layered net of T layers with tied weights whose "
                  "gradients are averaged over each tied set",
        metric="max |difference| in outputs, E and weights over all training sweeps and checked seeds (recurrent "
               "vs unrolled)", paper=0.0, ours=max(max_diff) if max_diff else float("inf"), criterion=at_most(1e-9),
        note=f"{len(max_diff)} seeds trained both ways in lockstep; the task (delay-{cfg.rnn_delay} copy "
        f"of {cfg.rnn_T}-step bit sequences) is solved by {D['solved']}/{D['n']} seeds, median "
        f"{n0(D['median'])} sweeps.")]
    figs = [{"file": "fig5_iterative.png", "caption": "Fig. 5: error curves of the iterative net on the delay "
             "task (first 10 seeds); the unrolled layered net traces the same curves."}]
    return claims, res, figs


# ---------------------------------------------------------------------------------------------
# PDP ch. 8: XOR, parity, encoder
# ---------------------------------------------------------------------------------------------
def run_pdp(cfg: Config, run: Run):
    tasks = {
        "xor-2-1-1-skip": (lambda r: layered([2, 1, 1], skip=True, init_range=cfg.pdp_init, rng=r), data.xor()),
        "xor-2-2-1": (lambda r: layered([2, 2, 1], init_range=cfg.pdp_init, rng=r), data.xor()),
        "parity-4-4-1": (lambda r: layered([4, 4, 1], init_range=cfg.pdp_init, rng=r), data.parity(4)),
        "encoder-8-3-8": (lambda r: layered([8, 3, 8], init_range=cfg.pdp_init, rng=r), data.encoder(8)),
    }
    res, lists, lists_correct = {}, {}, {}
    for k, (name, (build, (X, d))) in enumerate(tasks.items()):
        firsts, stricts, codes_ok = [], [], []
        for s in progress(range(cfg.pdp_seeds), name):
            net = build(rng_for(run.seed, 10 + k, s))
            eps = cfg.enc_epsilon if name.startswith("encoder") else cfg.pdp_epsilon
            first, strict, _ = train_until(net, {"in": X}, {"out": d}, eps, cfg.pdp_alpha,
                                           cfg.pdp_max_sweeps, cfg.pdp_strict_margin)
            firsts.append(first)
            stricts.append(strict)
            if name.startswith("encoder") and first is not None:
                h = net.forward({"in": X})["h1"]                          # [8, 3]
                codes_ok.append(len({tuple(r) for r in (h > 0.5).astype(int)}) == 8)
        res[name] = {"sweeps_to_correct": dist(firsts), "sweeps_to_strict": dist(stricts),
                     "local_minimum_rate": 1 - dist(firsts)["success_rate"]}
        if codes_ok:
            res[name]["distinct_binary_codes_frac"] = sum(codes_ok) / len(codes_ok)
        lists[name], lists_correct[name] = stricts, firsts
    claims, figs = pdp_claims_and_figure(cfg, run, res, lists, lists_correct)
    return claims, res, figs


def pdp_claims_and_figure(cfg, run, res, lists, lists_correct):
    claims = []
    fig, axes = plt.subplots(1, len(lists), figsize=(3 * len(lists), 2.8))
    paper = {"xor-2-1-1-skip": 558, "parity-4-4-1": 2825}
    desc = {"xor-2-1-1-skip": "XOR with one hidden unit and direct input-output links",
            "parity-4-4-1": "4-bit parity with 4 hidden units"}
    for ax, (name, xs) in zip(np.atleast_1d(axes), lists.items()):
        ok = [x for x in xs if x is not None]
        ax.hist(ok, bins=25, color="0.4")
        if name in paper:
            ax.axvline(paper[name], color="r", label=f"PDP: {paper[name]:,}")
            ax.legend(fontsize=7)
        ax.set_title(f"{name} ({len(ok)}/{len(xs)} solved)", fontsize=8)
        ax.set_xlabel(f"sweeps to |y − d| < {cfg.pdp_strict_margin}", fontsize=7)
    fig.tight_layout()
    fig.savefig(run.out / "pdp_sweeps.png", dpi=120)
    plt.close(fig)
    for name, p in paper.items():
        D = res[name]["sweeps_to_strict"]
        claims.append(claim(
            id=f"pdp-{name}", source="PDP ch. 8",
            statement=f"{desc[name]} is learned in about {p:,} sweeps (η = {cfg.pdp_epsilon:g})",
            metric=f"sweeps until every output is within {cfg.pdp_strict_margin} of its target: median [p25, p75] "
                   f"over every seed (not solved = {cfg.pdp_max_sweeps + 1:,})", paper=p,
            ours=quartiles(censored(lists[name], cfg.pdp_max_sweeps)),
            criterion=within_quantiles(censored(lists[name], cfg.pdp_max_sweeps), p),
            note=f"{D['solved']}/{D['n']} seeds solve within {cfg.pdp_max_sweeps} sweeps; α = {cfg.pdp_alpha:g} (PDP: ≈0.9 in most simulations; the text for this run is unchecked); "
            f"sweeps to all-correct (0.5): median {n0(res[name]['sweeps_to_correct']['median'])}."))
    stuck = sum(x is None for x in lists_correct["xor-2-2-1"])
    n_xor = len(lists_correct["xor-2-2-1"])
    lm1 = res["xor-2-1-1-skip"]["local_minimum_rate"]
    claims.append(claim(
        id="pdp-xor-local-minima", source="PDP ch. 8",
        statement="XOR runs rarely end in a local minimum (2 of hundreds of runs: about 0.01)",
        metric=f"fraction of 2-2-1 seeds not all-correct within {cfg.pdp_max_sweeps} sweeps", paper=0.01,
        ours=round(stuck / max(n_xor, 1), 3), criterion=binomial_target(stuck, n_xor, 0.01),
        note=f"2-1-1 with direct links: {lm1:.3f}; which XOR net the PDP count refers to is not checked against "
             "the text; 'hundreds' is read as 200."))
    enc = res["encoder-8-3-8"]
    E = enc["sweeps_to_correct"]
    claims.append(claim(
        id="pdp-encoder", source="PDP ch. 8", statement="The 8-3-8 encoder problem is learned through 3 hidden units",
        metric="fraction of seeds that solve (every output on the right side of 0.5) within the sweep budget",
        paper=None, ours=round(E["success_rate"], 3), criterion=at_least(0.9),
        note=f"{E['solved']}/{E['n']} seeds; ε = {cfg.enc_epsilon:g}, α = {cfg.pdp_alpha:g}; median {n0(enc['sweeps_to_strict']['median'])} sweeps to "
        f"every output within {cfg.pdp_strict_margin}; {enc.get('distinct_binary_codes_frac', 0):.0%} of solutions "
        "give the 8 patterns 8 distinct binary hidden codes (thresholded at 0.5), the rest use intermediate values."))
    return claims, [{"file": "pdp_sweeps.png", "caption": "PDP ch. 8 problems: sweeps-to-solve distributions."}]


# ---------------------------------------------------------------------------------------------
def main(argv=None):
    run = Run.from_cli("backprop", PRESETS, argv)
    cfg = run.cfg
    for name in ("symmetry", "family_trees", "iterative_sequences", "xor_parity_encoder"):
        run.use_synthetic(name)                  # the paper's tasks are generated exactly (data.py)
    claims, results, figures = [], {}, []
    for name, fn in (("symmetry", run_symmetry), ("family_trees", run_family), ("fig5", run_iterative),
                     ("pdp", run_pdp)):
        t = time.perf_counter()
        c, r, f = fn(cfg, run)
        run.log({"experiment": name, "seconds": round(time.perf_counter() - t, 2),
                 "claims": {x["id"]: {"ours": x["ours"], "verdict": x["verdict"]} for x in c}})
        claims += c
        results[name] = r
        figures += f
        print(f"{name}: done ({len(c)} claims)", flush=True)
    results = json.loads(json.dumps(results, default=float))
    eps_note = (f"Family trees: ε after sweep 20 is {cfg.fam_epsilon:g} (default)"
                + (f" and {cfg.fam_epsilon_alt:g} (the transcription's reading), both run" if cfg.fam_epsilon_alt > 0
                   else "") + "; see the package README for the choice.")
    notes = [
        "Every net is trained by the hand-written generalised delta rule (papers/backprop/model.py, numpy float64); "
        "tests/backprop checks every gradient against torch.autograd.",
        "Seeds: each experiment's seed s draws its weights (and the family-trees split) from "
        "numpy.random.default_rng([run seed, experiment, s]).",
        eps_note,
    ]
    data_note = ("**Data: the paper's own tasks, generated exactly** (64 symmetry vectors, the 104 family-tree "
                 "cases, XOR, parity, encoder, the sequence task); no dataset files are read, and 'synthetic' in "
                 "the data table means generated.")
    if cfg.fam_rescue:
        notes.append(f"Family trees, declared deviation: the '{cfg.fam_rescue_tolerance_mode}' reading of the 0.2/0.8 "
                     f"tolerance, ε after sweep 20 picked from {list(cfg.fam_rescue_grid)} and the number of sweeps "
                     f"from {list(cfg.fam_rescue_sweeps_grid)} by the mean training "
                     f"accuracy of {cfg.fam_rescue_select_seeds} separate selection seeds (held-out cases and "
                     "evaluation seeds never used for the choice).")
    summary = ("Rumelhart, Hinton & Williams (1986) re-run over many seeds with the paper's own settings: "
               f"symmetry ({cfg.sym_seeds} seeds), family trees ({cfg.fam_seeds} seeds per setting), the iterative "
               f"net of Fig. 5 ({cfg.rnn_seeds} seeds) and the PDP ch. 8 problems ({cfg.pdp_seeds} seeds each).")
    run.finish(claims, figures=figures, title="Rumelhart, Hinton & Williams 1986: back-propagation",
               notes=notes, results=results, summary=summary, data_note=data_note)
    return results


if __name__ == "__main__":
    main()
