import json
from dataclasses import dataclass, field

import pytest

from shared.cli import parse_cli
from shared.config import ConfigError, apply_overrides, from_dict, save_config, to_dict


@dataclass
class Model:
    d_model: int = 64
    dropout: float = 0.1


@dataclass
class Cfg:
    lr: float = 0.1
    steps: int = 10
    amp: bool = False
    name: str = "x"
    milestones: tuple[int, ...] = (5, 8)
    clip: float | None = None
    model: Model = field(default_factory=Model)


PRESETS = {"smoke": Cfg(steps=2), "quick": Cfg(), "paper": Cfg(steps=64000)}


def test_overrides_parse_types():
    c = apply_overrides(Cfg(), ["lr=0.05", "steps=1e4", "amp=true", "name=abc", "milestones=1,2,3",
                                "clip=1.5", "model.d_model=128"])
    assert (c.lr, c.steps, c.amp, c.name, c.milestones, c.clip, c.model.d_model) == \
        (0.05, 10000, True, "abc", (1, 2, 3), 1.5, 128)
    assert isinstance(c.steps, int) and isinstance(c.lr, float)
    assert apply_overrides(c, ["clip=none"]).clip is None


def test_presets_are_not_mutated():
    base = Cfg()
    apply_overrides(base, ["model.d_model=7", "lr=1"])
    assert base.model.d_model == 64 and base.lr == 0.1


def test_unknown_key_is_named_with_suggestion():
    with pytest.raises(ConfigError, match=r"unknown config key 'lrr'.*Did you mean 'lr'"):
        apply_overrides(Cfg(), ["lrr=0.1"])
    with pytest.raises(ConfigError, match=r"'model.d_modle'"):
        apply_overrides(Cfg(), ["model.d_modle=3"])


@pytest.mark.parametrize("item,msg", [("steps=3.5", "steps' expects int"), ("lr=fast", "lr' expects float"),
                                      ("amp=maybe", "amp' expects a bool"), ("lr", "expected key=value")])
def test_wrong_type_is_named(item, msg):
    with pytest.raises(ConfigError, match=msg):
        apply_overrides(Cfg(), [item])


def test_dict_overrides_type_checked():
    assert apply_overrides(Cfg(), {"steps": 3}).steps == 3
    with pytest.raises(ConfigError, match="steps"):
        apply_overrides(Cfg(), {"steps": "many"})


def test_save_and_roundtrip(tmp_path):
    c = apply_overrides(Cfg(), ["model.dropout=0"])
    save_config(c, tmp_path / "config.json", preset="quick")
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["preset"] == "quick" and data["config"]["model"]["dropout"] == 0.0
    assert from_dict(Cfg, data["config"]) == c
    assert to_dict(c)["milestones"] == (5, 8)


def test_cli_presets_and_errors(capsys):
    args, cfg = parse_cli("toy", PRESETS, ["--preset", "smoke", "--set", "lr=0.5", "--seed", "3"])
    assert cfg.steps == 2 and cfg.lr == 0.5 and args.seed == 3 and args.preset == "smoke"
    assert "papers.toy.reproduce --preset smoke" in args.command
    with pytest.raises(ConfigError, match="unknown config key 'nope'"):  # one line at the entry point
        parse_cli("toy", PRESETS, ["--set", "nope=1"])
