"""Reports: ``metrics.json`` -> the run's ``README.md``, and the index of all papers.

The report is generated, never hand-edited: :func:`render_readme` is a pure function of
``metrics.json`` and a test checks that every committed report equals its rendering.
Schema (DESIGN.md, "Contract" 3)::

    {"paper": slug, "title": ..., "preset": ..., "claims": [claim, ...],
     "figures": [{"file": "x.png", "caption": ...}], "notes": [...], "results": {...},
     "environment": {"commit", "torch", "device", "cpu_threads", "gpu", "seed",
                     "wall_seconds", "command", "data": {name: sha256 or "synthetic"}}}
"""
from __future__ import annotations

import json
import math
from pathlib import Path

VERDICTS = ("reproduced", "partially reproduced", "not reproduced", "inconclusive", "not comparable")
CLAIM_KEYS = ("id", "source", "statement", "metric", "paper", "ours", "criterion", "verdict", "note")
ENV_KEYS = ("commit", "torch", "device", "cpu_threads", "gpu", "seed", "wall_seconds", "command", "data")
PAPERS = {  # slug -> short title, in the order of the index
    "mcculloch_pitts": "McCulloch & Pitts 1943", "backprop": "Rumelhart, Hinton & Williams 1986",
    "resnet": "ResNet (He et al. 2016)", "yolo": "YOLO v1 (Redmon et al. 2016)",
    "faster_rcnn": "Faster R-CNN (Ren et al. 2015)", "transformer": "Transformer (Vaswani et al. 2017)",
    "bert": "BERT (Devlin et al. 2019)", "gpt": "GPT (Radford et al. 2018)",
    "vit": "ViT (Dosovitskiy et al. 2021)", "gradcam": "Grad-CAM (Selvaraju et al. 2017)",
}


# --------------------------------------------------------------------------------------------------
# Verdicts (DESIGN.md, "Claims and verdicts"): the criterion is data, written before the run; the
# verdict is computed from it by :func:`judge`, never typed by hand. A test recomputes every committed
# claim's verdict from the values recorded in its criterion.
# --------------------------------------------------------------------------------------------------

# Two-sided 95% Student-t quantiles t_{0.975, df}, df = 1..30; beyond 30 the normal 1.96 is used.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)
Z975 = 1.959964
MIN_SEEDS = 3


def t975(df: float) -> float:
    """Two-sided 95% quantile of Student's t with ``df`` degrees of freedom (rounded down: conservative)."""
    df = int(math.floor(df))
    if df < 1:
        raise ValueError("a t interval needs at least 2 values")
    return _T975[df - 1] if df <= len(_T975) else Z975


def _mean(x):
    return sum(x) / len(x)


def _var(x):
    m = _mean(x)
    return sum((v - m) ** 2 for v in x) / (len(x) - 1)


def noise_band(a, b, paired: bool = False) -> tuple[float, float, float]:
    """``(diff, lo, hi)``: mean(a) - mean(b) and its 95% t-interval from the per-seed values.

    Paired (the arms share seeds, value i of each from seed i): the interval of the mean difference.
    Unpaired: Welch's interval (Welch-Satterthwaite degrees of freedom).
    """
    a, b = [float(v) for v in a], [float(v) for v in b]
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired arms need equal lengths, got {len(a)} and {len(b)}")
        d = [x - y for x, y in zip(a, b)]
        diff, se, df = _mean(d), math.sqrt(_var(d) / len(d)), len(d) - 1
    else:
        va, vb = _var(a) / len(a), _var(b) / len(b)
        diff, se = _mean(a) - _mean(b), math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)) if va + vb > 0 else len(a) + len(b) - 2
    h = t975(df) * se
    return diff, diff - h, diff + h


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson 95% score interval of a proportion k/n."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    p, z2 = k / n, Z975 ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z975 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


def _seeds(name, values):
    values = [float(v) for v in values]
    if len(values) < MIN_SEEDS:
        raise ValueError(f"a comparative claim needs >= {MIN_SEEDS} seeds per arm; arm {name!r} has {len(values)}")
    if any(math.isnan(v) for v in values):
        raise ValueError(f"arm {name!r} holds NaN: {values}")
    return values


def _num(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def target(value, *, tol, relative: bool = False) -> dict:
    """Reproduced iff |ours - value| <= tol (tol * |value| when ``relative``); else not reproduced."""
    text = f"|ours - {_num(value)}| <= " + (f"{_num(tol * 100)}% of it" if relative else _num(tol))
    return dict(kind="target", value=value, tol=tol, relative=relative, text=text)


def at_most(bound) -> dict:
    """Reproduced iff ours <= bound; else not reproduced."""
    return dict(kind="at_most", bound=bound, text=f"ours <= {_num(bound)}")


def at_least(bound) -> dict:
    """Reproduced iff ours >= bound; else not reproduced."""
    return dict(kind="at_least", bound=bound, text=f"ours >= {_num(bound)}")


def exact(expected) -> dict:
    """Reproduced iff ours == expected (counts, booleans, exact parameter numbers)."""
    return dict(kind="exact", expected=expected, text=f"ours == {_num(expected)}")


def compare(a, b, *, expect: str, paired: bool = False, labels: tuple[str, str] = ("a", "b")) -> dict:
    """A comparative claim on per-seed values (>= 3 per arm): the paper says mean(a) ``expect`` mean(b).

    The 95% t-interval of mean(a) - mean(b) (paired when the arms share seeds) is the noise band:
    entirely on the paper's side -> reproduced; containing 0 -> inconclusive; entirely on the other
    side -> not reproduced.
    """
    if expect not in (">", "<"):
        raise ValueError(f"expect must be '>' or '<', got {expect!r}")
    a, b = _seeds(labels[0], a), _seeds(labels[1], b)
    diff, lo, hi = noise_band(a, b, paired)
    text = (f"{labels[0]} {expect} {labels[1]} beyond the 95% {'paired ' if paired else ''}t-interval of the "
            f"difference over {len(a)}+{len(b)} seeds (diff {diff:.4g}, [{lo:.4g}, {hi:.4g}])")
    return dict(kind="compare", a=a, b=b, expect=expect, paired=paired, labels=list(labels), text=text)


def compare_binomial(acc_a: float, acc_b: float, *, n: int, expect: str,
                     labels: tuple[str, str] = ("a", "b")) -> dict:
    """Two accuracies on the same ``n`` items: the binomial (normal) 95% interval of the difference."""
    if expect not in (">", "<"):
        raise ValueError(f"expect must be '>' or '<', got {expect!r}")
    text = (f"{labels[0]} {expect} {labels[1]} beyond the 95% binomial interval of the difference of two "
            f"accuracies on {n} items")
    return dict(kind="compare_binomial", acc_a=float(acc_a), acc_b=float(acc_b), n=int(n), expect=expect,
                labels=list(labels), text=text)


def equivalent(a, b, *, margin: float, paired: bool = False, labels: tuple[str, str] = ("a", "b")) -> dict:
    """Two-sided: the paper says a and b differ by at most ``margin``. The 95% t-interval of the
    difference inside [-margin, margin] -> reproduced; entirely outside -> not reproduced; else inconclusive."""
    a, b = _seeds(labels[0], a), _seeds(labels[1], b)
    diff, lo, hi = noise_band(a, b, paired)
    text = (f"|{labels[0]} - {labels[1]}| <= {_num(margin)}: 95% {'paired ' if paired else ''}t-interval of the "
            f"difference over {len(a)}+{len(b)} seeds ([{lo:.4g}, {hi:.4g}]) inside ±{_num(margin)}")
    return dict(kind="equivalent", a=a, b=b, margin=float(margin), paired=paired, labels=list(labels), text=text)


def within_quantiles(samples, value, *, q: tuple[float, float] = (0.25, 0.75)) -> dict:
    """The paper's ``value`` lies within our [q0, q1] quantiles of ``samples`` (default: the interquartile range)."""
    samples = sorted(float(s) for s in samples)
    if len(samples) < MIN_SEEDS:
        raise ValueError(f"need >= {MIN_SEEDS} samples, got {len(samples)}")
    lo, hi = _quantile(samples, q[0]), _quantile(samples, q[1])
    text = f"paper's {_num(value)} inside our {int(q[0] * 100)}-{int(q[1] * 100)}% quantiles [{lo:.4g}, {hi:.4g}] over {len(samples)} runs"
    return dict(kind="within_quantiles", samples=samples, value=value, q=list(q), text=text)


def binomial_target(k: int, n: int, value: float) -> dict:
    """The paper's proportion ``value`` lies inside the Wilson 95% interval of our k/n."""
    lo, hi = wilson(k, n)
    return dict(kind="binomial_target", k=int(k), n=int(n), value=value,
                text=f"paper's {_num(value)} inside the Wilson 95% interval of {k}/{n} = [{lo:.4g}, {hi:.4g}]")


def not_comparable(budget: str) -> dict:
    """The preset's budget cannot exhibit the claim; ``budget`` says what would."""
    return dict(kind="not_comparable", budget=budget, text=f"not comparable at this budget; needs {budget}")


def _quantile(sorted_x, q):
    pos = q * (len(sorted_x) - 1)
    i = int(math.floor(pos))
    j = min(i + 1, len(sorted_x) - 1)
    return sorted_x[i] + (sorted_x[j] - sorted_x[i]) * (pos - i)


def _side(lo, hi, expect):
    """reproduced / not reproduced / inconclusive for an interval [lo, hi] of a - b."""
    if expect == "<":
        lo, hi = -hi, -lo
    return "reproduced" if lo > 0 else "not reproduced" if hi < 0 else "inconclusive"


def judge(criterion: dict, ours=None) -> str:
    """The verdict that ``criterion`` gives ``ours``; a pure function of the recorded data."""
    kind = criterion.get("kind")
    if kind == "target":
        tol = criterion["tol"] * (abs(criterion["value"]) if criterion["relative"] else 1)
        return "reproduced" if abs(ours - criterion["value"]) <= tol else "not reproduced"
    if kind == "at_most":
        return "reproduced" if ours <= criterion["bound"] else "not reproduced"
    if kind == "at_least":
        return "reproduced" if ours >= criterion["bound"] else "not reproduced"
    if kind == "exact":
        return "reproduced" if ours == criterion["expected"] else "not reproduced"
    if kind == "compare":
        _, lo, hi = noise_band(criterion["a"], criterion["b"], criterion["paired"])
        return _side(lo, hi, criterion["expect"])
    if kind == "compare_binomial":
        pa, pb, n = criterion["acc_a"], criterion["acc_b"], criterion["n"]
        h = Z975 * math.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n)
        return _side(pa - pb - h, pa - pb + h, criterion["expect"])
    if kind == "equivalent":
        _, lo, hi = noise_band(criterion["a"], criterion["b"], criterion["paired"])
        m = criterion["margin"]
        return "reproduced" if -m <= lo and hi <= m else "not reproduced" if lo > m or hi < -m else "inconclusive"
    if kind == "within_quantiles":
        s = criterion["samples"]
        lo, hi = _quantile(s, criterion["q"][0]), _quantile(s, criterion["q"][1])
        return "reproduced" if lo <= criterion["value"] <= hi else "not reproduced"
    if kind == "binomial_target":
        lo, hi = wilson(criterion["k"], criterion["n"])
        return "reproduced" if lo <= criterion["value"] <= hi else "not reproduced"
    if kind == "not_comparable":
        return "not comparable"
    raise ValueError(f"unknown criterion kind {kind!r}")


def claim(*, id: str, source: str, statement: str, metric: str, paper, ours, criterion: dict, note: str) -> dict:
    """One row of the claims table, with the verdict computed from ``criterion`` (a dict made by
    :func:`target`, :func:`compare`, ... ). Keywords only; no verdict is ever passed by hand."""
    if not isinstance(criterion, dict):
        raise TypeError(f"claim {id!r}: the criterion must be data made by shared.report (target, at_most, "
                        f"compare, ...), not {type(criterion).__name__}")
    return dict(id=id, source=source, statement=statement, metric=metric, paper=paper, ours=ours,
                criterion=criterion, verdict=judge(criterion, ours), note=note)


def criterion_text(c: dict) -> str:
    return c["text"]


def validate(metrics: dict) -> None:
    for k in ("paper", "preset", "claims", "environment"):
        if k not in metrics:
            raise ValueError(f"metrics.json lacks {k!r}")
    for c in metrics["claims"]:
        missing = [k for k in CLAIM_KEYS if k not in c]
        if missing:
            raise ValueError(f"claim {c.get('id')!r} lacks {missing}")
        if c["verdict"] not in VERDICTS:
            raise ValueError(f"claim {c['id']!r}: verdict {c['verdict']!r} is not one of {VERDICTS}")
        if not isinstance(c["criterion"], dict) or "kind" not in c["criterion"]:
            raise ValueError(f"claim {c['id']!r}: the criterion is not data (shared.report.target, compare, ...)")
    missing = [k for k in ENV_KEYS if k not in metrics["environment"]]
    if missing:
        raise ValueError(f"metrics.json environment lacks {missing}")


def fmt(v) -> str:
    """How a value appears in a table."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _row(cells) -> str:
    return "| " + " | ".join(fmt(c) if not isinstance(c, str) else c.replace("|", "\\|") for c in cells) + " |"


def data_line(metrics: dict) -> str | None:
    data = metrics["environment"].get("data") or {}
    if metrics.get("data_note"):
        return metrics["data_note"]
    if data and all(v == "synthetic" for v in data.values()):
        return "**Data: the embedded synthetic default** (no dataset files were read)."
    if any(v == "synthetic" for v in data.values()):
        synth = ", ".join(k for k, v in data.items() if v == "synthetic")
        return f"**Data: partly synthetic** ({synth})."
    return None


def render_readme(metrics: dict) -> str:
    """The run's report, from ``metrics.json`` alone."""
    validate(metrics)
    slug, env = metrics["paper"], metrics["environment"]
    title = metrics.get("title") or PAPERS.get(slug, slug)
    out = [f"# {title}: reproduction report ({metrics['preset']} preset)", ""]
    line = data_line(metrics)
    if line:
        out += [line, ""]
    out += ["Generated by `shared/report.py` from `metrics.json`; do not edit by hand. "
            f"Rerun with `{env['command']}`.", ""]
    if metrics.get("summary"):
        out += [metrics["summary"], ""]
    counts = {v: sum(c["verdict"] == v for c in metrics["claims"]) for v in VERDICTS}
    out += ["## Claims", "", ", ".join(f"{n} {v}" for v, n in counts.items() if n) + ".", "",
            _row(["id", "source", "statement", "metric", "paper", "ours", "criterion", "verdict", "note"]),
            "|" + "---|" * 9]
    for c in metrics["claims"]:
        out.append(_row([c["id"], c["source"], c["statement"], c["metric"], fmt(c["paper"]), fmt(c["ours"]),
                         criterion_text(c["criterion"]), f"**{c['verdict']}**", c["note"]]))
    out.append("")
    if metrics.get("figures"):
        out += ["## Figures", ""]
        for f in metrics["figures"]:
            out += [f"![{f['caption']}]({f['file']})", "", f"*{f['caption']}*", ""]
    if metrics.get("notes"):
        out += ["## Notes", ""] + [f"- {n}" for n in metrics["notes"]] + [""]
    out += ["## Environment", "", "| | |", "|---|---|"]
    for k in ENV_KEYS:
        if k == "data":
            continue
        v = env[k]
        if k == "wall_seconds":
            v = f"{v:.1f} s"
        if k == "command":
            v = f"`{v}`"
        out.append(_row([k, fmt(v) if not isinstance(v, str) else v]))
    for k in sorted(set(env) - set(ENV_KEYS)):
        out.append(_row([k, fmt(env[k])]))
    out += ["", "### Data", ""]
    if env["data"]:
        out += ["| file | sha256 |", "|---|---|"] + [f"| {k} | `{v}` |" for k, v in sorted(env["data"].items())]
    else:
        out.append("No dataset files were read.")
    out.append("")
    return "\n".join(out)


def write_report(out_dir: str | Path, metrics: dict) -> Path:
    """Write ``metrics.json`` and ``README.md`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    validate(metrics)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out_dir / "README.md").write_text(render_readme(metrics))
    return out_dir / "README.md"


RESULTS_BEGIN = "<!-- results: generated by shared/report.py from reproductions/{slug}/metrics.json; do not edit -->"
RESULTS_END = "<!-- /results -->"


def render_results_block(metrics: dict) -> str:
    """The results table a package README quotes: every claim of the committed report, its values and verdict."""
    validate(metrics)
    slug, env = metrics["paper"], metrics["environment"]
    counts = {v: sum(c["verdict"] == v for c in metrics["claims"]) for v in VERDICTS}
    out = [RESULTS_BEGIN.format(slug=slug), "",
           f"From [`reproductions/{slug}/`](../../reproductions/{slug}/README.md) ({metrics['preset']} preset, "
           f"{env['wall_seconds']:.0f} s, {env['device']}, {env['cpu_threads']} threads, commit {env['commit']}): "
           + ", ".join(f"{n} {v}" for v, n in counts.items() if n) + ".", "",
           "| claim | source | paper | ours | verdict |", "|---|---|---|---|---|"]
    for c in metrics["claims"]:
        out.append(_row([c["statement"], c["source"], fmt(c["paper"]), fmt(c["ours"]), f"**{c['verdict']}**"]))
    out += ["", RESULTS_END]
    return "\n".join(out)


def sync_package_readme(readme: str | Path, metrics: dict) -> bool:
    """Replace the results block of a package README with the one rendered from ``metrics``.

    Returns False (and changes nothing) when the README has no block."""
    readme = Path(readme)
    text = readme.read_text()
    begin = RESULTS_BEGIN.format(slug=metrics["paper"])
    if begin not in text or RESULTS_END not in text:
        return False
    i, j = text.index(begin), text.index(RESULTS_END) + len(RESULTS_END)
    readme.write_text(text[:i] + render_results_block(metrics) + text[j:])
    return True


def render_index(reproductions_dir: str | Path) -> str:
    """``reproductions/README.md``: every paper, its claims, paper value, ours, verdict, time."""
    root = Path(reproductions_dir)
    out = ["# Reproductions", "",
           "Generated by `shared/report.py` from each `*/metrics.json`; do not edit by hand. "
           "Each paper's folder holds its full report, figures and environment.", "",
           "| paper | preset | claim | paper's value | ours | verdict | wall time |", "|---|---|---|---|---|---|---|"]
    missing = []
    for slug, title in PAPERS.items():
        path = root / slug / "metrics.json"
        if not path.is_file():
            missing.append(title)
            continue
        # the quick report, then any longer one beside it (<slug>/<preset>/, e.g. resnet/fig6, <paper>/paper)
        for path in [path, *sorted((root / slug).glob("*/metrics.json"))]:
            m = json.loads(path.read_text())
            wall = f"{m['environment']['wall_seconds']:.0f} s"
            link = path.parent.relative_to(root).as_posix() + "/README.md"
            name = title if path.parent.name == slug else f"{title}, {m['preset']}"
            for i, c in enumerate(m["claims"]):
                first = i == 0
                out.append(_row([f"[{name}]({link})" if first else "", m["preset"] if first else "",
                                 c["statement"], fmt(c["paper"]), fmt(c["ours"]), c["verdict"],
                                 wall if first else ""]))
    if missing:
        out += ["", "Not yet reproduced: " + ", ".join(missing) + "."]
    out.append("")
    return "\n".join(out)


def update_index(reproductions_dir: str | Path) -> Path:
    path = Path(reproductions_dir) / "README.md"
    path.write_text(render_index(reproductions_dir))
    return path
