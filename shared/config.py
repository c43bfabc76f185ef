"""Typed configs: a dataclass per paper, named presets, and ``--set key=value`` overrides.

A paper defines ``@dataclass class Config`` with explicit defaults and a dict
``PRESETS = {"smoke": Config(...), "quick": Config(...), "paper": Config(...)}``.
:func:`apply_overrides` changes fields by name (``model.d_model=256`` reaches into a
nested dataclass) and checks every value against the field's type, so that a typo or a
wrong type is an error naming the key, not a silent default.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, Union


class ConfigError(ValueError):
    """A bad ``--set`` key or value; the message names the key and the fix."""


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
