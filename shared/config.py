"""Typed configs: a dataclass per paper, named presets, and ``--set key=value`` overrides.

A paper defines ``@dataclass class Config`` with explicit defaults and a dict
``PRESETS = {"smoke": Config(...), "quick": Config(...), "paper": Config(...)}``.
:func:`apply_overrides` changes fields by name (``model.d_model=256`` reaches into a
nested dataclass) and checks every value against the field's type, so that a typo or a
wrong type is an error naming the key, not a silent default.

:func:`validate` then checks values before any work starts (``shared.cli`` calls it), in
one line naming the key, the value, the allowed range and the fix:

- ranges a paper declares on a field: ``lr: float = param(0.1, gt=0)``,
  ``task: str = param("trec", choices=("trec", "sst2", "none"))``;
- ranges implied by common names (:data:`NAME_RULES`): batch sizes and step counts >= 1,
  learning rates > 0, dropout in [0, 1), fractions in (0, 1], seeds in [0, 2**63), ...;
- attention heads dividing the width (``n_head``/``h`` and ``d_model``/``width``);
- anything else in an optional ``Config.validate(self)`` method, which raises
  :class:`ConfigError` (or ``ValueError``, reported the same way).
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Union

from .errors import ConfigError  # noqa: F401  (re-exported: ``from shared.config import ConfigError``)


def apply_overrides(cfg, overrides: list[str] | dict[str, Any]):
    """Return a copy of ``cfg`` with ``key=value`` overrides applied and type-checked."""
    cfg = dataclasses.replace(cfg)
    items = overrides.items() if isinstance(overrides, dict) else (_split(o) for o in overrides)
    for key, raw in items:
        *parents, leaf = key.split(".")
        target = cfg
        for i, p in enumerate(parents):
            _check_key(target, p, ".".join(parents[:i]))
            child = dataclasses.replace(getattr(target, p))  # copy, never mutate a preset
            setattr(target, p, child)
            target = child
        _check_key(target, leaf, ".".join(parents))
        hint = typing.get_type_hints(type(target))[leaf]
        value = parse_value(raw, hint, key) if isinstance(raw, str) else check_value(raw, hint, key)
        setattr(target, leaf, value)
    return cfg


def _split(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set lr=0.01")
    key, value = item.split("=", 1)
    return key.strip(), value.strip()


def _check_key(obj, key: str, prefix: str) -> None:
    names = [f.name for f in dataclasses.fields(obj)]
    if key not in names:
        full = f"{prefix}.{key}" if prefix else key
        close = difflib.get_close_matches(key, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown config key {full!r} for {type(obj).__name__}.{hint} "
                          f"Known keys: {', '.join(names)}")


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def parse_value(raw: str, hint, key: str):
    """Parse the string ``raw`` as a value of type ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if type(None) in args and raw.lower() in ("none", "null"):
            return None
        errors = []
        for a in (a for a in args if a is not type(None)):
            try:
                return parse_value(raw, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"config key {key!r}: {raw!r} is not a {_name(hint)}")
    if origin is typing.Literal:
        for a in args:
            if str(a) == raw:
                return a
        raise ConfigError(f"config key {key!r}: {raw!r} is not one of {list(args)}")
    if origin in (tuple, list):
        text = raw.strip()
        items = json.loads(text) if text.startswith("[") else [s for s in text.split(",") if s.strip()]
        elem = args[0] if args else str
        vals = [parse_value(str(v).strip(), elem, key) for v in items]
        return tuple(vals) if origin is tuple else vals
    if hint is bool:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"config key {key!r} expects a bool (true/false), got {raw!r}")
    if hint in (int, float):
        try:
            return hint(float(raw)) if hint is int and _is_integral(raw) else hint(raw)
        except ValueError:
            raise ConfigError(f"config key {key!r} expects {hint.__name__}, got {raw!r}") from None
    if hint is str:
        return raw
    if hint is Any:
        return raw
    raise ConfigError(f"config key {key!r} of type {_name(hint)} cannot be set from the command line")


def _is_integral(raw: str) -> bool:
    try:
        f = float(raw)
    except ValueError:
        return False
    return f.is_integer() and ("e" in raw.lower())  # "1e4" -> 10000; "3.5" stays an error


def check_value(value, hint, key: str):
    """Type-check a python value given in a dict of overrides."""
    if isinstance(value, str) and hint is not str:
        return parse_value(value, hint, key)
    ok = {int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          bool: lambda v: isinstance(v, bool), str: lambda v: isinstance(v, str)}.get(hint)
    if ok is not None and not ok(value):
        raise ConfigError(f"config key {key!r} expects {hint.__name__}, got {value!r}")
    return float(value) if hint is float else value


def _name(hint) -> str:
    return getattr(hint, "__name__", str(hint))


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def save_config(cfg, path: str | os.PathLike, **extra) -> None:
    """Write the resolved config (plus ``extra`` run arguments) as JSON."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    data = {**extra, "config": to_dict(cfg)}
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def from_dict(cls, data: dict):
    """Rebuild a (possibly nested) config dataclass from :func:`to_dict` output."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        v, h = data[f.name], hints[f.name]
        if dataclasses.is_dataclass(h):
            v = from_dict(h, v)
        elif typing.get_origin(h) is tuple:
            v = tuple(v)
        kwargs[f.name] = v
    return cls(**kwargs)


# -- validation -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Range:
    """The allowed values of one config field: bounds (open or closed) and/or a set of choices."""
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple | None = None
    integer: bool = False
    what: str = ""  # what the value is, for the message ("a batch size")

    def ok(self, v) -> bool:
        if self.choices is not None:
            return v in self.choices
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return True  # not numeric: the type check already ran
        if isinstance(v, float) and math.isnan(v):
            return False
        return not ((self.ge is not None and v < self.ge) or (self.gt is not None and v <= self.gt)
                    or (self.le is not None and v > self.le) or (self.lt is not None and v >= self.lt))

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        lo = f">= {_fmt(self.ge)}" if self.ge is not None else f"> {_fmt(self.gt)}" if self.gt is not None else ""
        hi = f"<= {_fmt(self.le)}" if self.le is not None else f"< {_fmt(self.lt)}" if self.lt is not None else ""
        bound = " and ".join(b for b in (lo, hi) if b)
        return ("an integer " if self.integer else "a number ") + bound


def _fmt(x) -> str:
    return "2**63" if x == 2 ** 63 else f"{x:g}"


def param(default=dataclasses.MISSING, *, ge=None, gt=None, le=None, lt=None, choices=None,
          default_factory=dataclasses.MISSING, what: str = ""):
    """A dataclass field with a declared range, checked by :func:`validate`:
    ``lr: float = param(0.1, gt=0)``, ``task: str = param("trec", choices=("trec", "sst2"))``."""
    rng = Range(ge, gt, le, lt, tuple(choices) if choices is not None else None, what=what)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"range": rng})


_BIG_SEED = 2 ** 63  # torch.manual_seed and numpy's SeedSequence both take [0, 2**63)
_PROB = dict(ge=0.0, lt=1.0)

# (pattern on the field name, allowed range). The first match wins; a field with a declared
# ``param(...)`` range is checked against that instead. Patterns are full matches.
NAME_RULES: list[tuple[str, Range]] = [
    (r"(.*_)?(batch_size|batch|tokens_per_step|beam)", Range(ge=1, integer=True, what="a batch size")),
    (r"grad_accum", Range(ge=1, integer=True, what="micro-batches per step")),
    (r"(.*_)?warmup(_.*)?", Range(ge=0, what="a warm-up length")),
    (r"(.*_)?(min|final)_lr", Range(ge=0, what="a learning-rate floor")),
    (r"(.*_)?(lr|learning_rate|lr_scale)", Range(gt=0, what="a learning rate")),
    (r"(.*_)?(max_steps|steps|iterations|max_sweeps|sweeps)", Range(ge=1, integer=True, what="a number of steps")),
    (r"(.*_)?epochs", Range(ge=0, what="a number of epochs")),
    (r"(.*_)?(dropout|p_drop|P_drop|drop_path)", Range(**_PROB, what="a dropout probability")),
    (r"(.*_)?(fraction|frac)", Range(gt=0.0, le=1.0, what="a fraction")),
    (r"(.*_)?seed", Range(ge=0, lt=_BIG_SEED, integer=True, what="a seed")),
    (r"(.*_)?seeds", Range(ge=1, integer=True, what="a number of seeds")),
    (r"(.*_)?(every)", Range(ge=0, integer=True, what="an interval (0: never)")),
    (r"grad_clip|weight_decay|(.*_)?(size|max_train|limit|num_workers|threads)",
     Range(ge=0, what="a size or count (0: the default)")),
    (r"(.*_)?(momentum|beta1|beta2|eps_ls|label_smoothing)", Range(**_PROB, what="a coefficient")),
    (r"(.*_)?temperature", Range(gt=0, what="a temperature")),
    (r"(.*_)?top_k", Range(ge=0, integer=True, what="a number of tokens (0: all)")),
    (r"(.*_)?(n_head|num_heads|heads|h|n_layer|num_layers|layers|N|d_model|d_ff|width|hidden_size|embed_dim)",
     Range(ge=1, integer=True, what="a model size")),
]
_HEADS = ("n_head", "num_heads", "heads", "h")
_WIDTHS = ("d_model", "width", "hidden_size", "embed_dim")


def rule_for(name: str, f: dataclasses.Field | None = None) -> Range | None:
    """The range a field is checked against: its declared ``param`` range, else :data:`NAME_RULES`."""
    if f is not None and "range" in f.metadata:
        return f.metadata["range"]
    for pattern, rng in NAME_RULES:
        if re.fullmatch(pattern, name):
            return rng
    return None


def _fix(key: str, rng: Range) -> str:
    return f"--set {key}=<{rng.describe()}>" if rng.choices is None else f"--set {key}={rng.choices[0]}"


def _check(key: str, value, rng: Range) -> None:
    values = value if isinstance(value, (tuple, list)) and rng.choices is None else [value]
    if rng.choices is not None and isinstance(value, (tuple, list)):
        values = value  # a tuple field with choices: every element must be one of them
    for v in values:
        if v is None or (rng.choices is None and (isinstance(v, bool) or not isinstance(v, (int, float)))):
            continue
        if not rng.ok(v) or (rng.integer and isinstance(v, float) and not float(v).is_integer()):
            what = f" ({rng.what})" if rng.what else ""
            bad = "is not an allowed value" if rng.choices is not None else "is out of range"
            raise ConfigError(f"config key {key!r} = {v!r} {bad}{what}: it must be {rng.describe()}; "
                              f"fix: {_fix(key, rng)}")


def validate(cfg, prefix: str = "") -> None:
    """Check every field of ``cfg`` (recursively) against its range; then ``cfg.validate()`` if defined.

    Raises :class:`ConfigError` naming the key, the value, the allowed range and the fix.
    """
    values = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(v):
            validate(v, prefix=key + ".")
            continue
        values[f.name] = v
        rng = rule_for(f.name, f)
        if "range" not in f.metadata and isinstance(v, (tuple, list)) and re.fullmatch(r"(.*_)?seeds", f.name):
            rng = rule_for("seed")  # a tuple of seeds, not a number of seeds
        if rng is not None:
            _check(key, v, rng)
    for hname in (n for n in values if n.endswith(_HEADS)):
        for suffix in _HEADS:
            base = hname[: len(hname) - len(suffix)]
            if hname.endswith(suffix) and (base == "" or base.endswith("_")):
                for w in _WIDTHS:
                    heads, width = values.get(hname), values.get(base + w)
                    if isinstance(heads, int) and isinstance(width, int) and heads > 0 and width % heads:
                        raise ConfigError(
                            f"config key '{prefix}{hname}' = {heads} does not divide '{prefix}{base}{w}' = {width}: "
                            f"the width is split evenly over the heads; fix: --set {prefix}{hname}=<a divisor of "
                            f"{width}> or --set {prefix}{base}{w}=<a multiple of {heads}>")
    hook = getattr(cfg, "validate", None)
    if callable(hook):
        try:
            hook()
        except ConfigError:
            raise
        except ValueError as e:
            raise ConfigError(str(e)) from e
