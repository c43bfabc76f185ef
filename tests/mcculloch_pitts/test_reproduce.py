"""End-to-end smoke run of the reproduction (seconds; no data)."""
import json

from papers.mcculloch_pitts import reproduce
from shared.report import render_readme


def test_smoke_run(no_data_env):
    out = no_data_env / "run"
    results = reproduce.main(["--preset", "smoke", "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in m["claims"]}
    assert verdicts.pop("fig1e-only-cold") == "not reproduced"    # the after-warmth of the printed formula
    assert set(verdicts.values()) == {"reproduced"}, verdicts
    for f in m["figures"]:
        assert (out / f["file"]).stat().st_size > 1000
    assert (out / "README.md").read_text() == render_readme(m)
    assert m["environment"]["data"] == {}
    assert results["theorem3"]["nets_firing_on_silence"] == 0


def test_rule_flag_reaches(no_data_env):
    out = no_data_env / "run"
    reproduce.main(["--preset", "smoke", "--out", str(out), "--set", "rule=reaches"])
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["rule"] == "reaches"
    assert all(c["verdict"] == "reproduced" for c in m["claims"] if c["id"] != "fig1e-only-cold")


def test_every_preset_emits_every_claim(no_data_env):
    """The claim builders run on every preset's config (here at smoke size) and give the same claim ids."""
    import dataclasses
    import random
    ids = None
    for name in ("quick", "paper"):
        cfg = dataclasses.replace(reproduce.PRESETS["smoke"], rule=reproduce.PRESETS[name].rule)
        got = [c["id"] for fn in reproduce.EXPERIMENTS.values() for c in fn(cfg, random.Random(0))[1]]
        assert ids is None or got == ids
        ids = got
    assert {"fig1-nets", "fig1-theorem1", "fig1e-brief", "fig1e-long", "fig1e-only-cold", "theorem1", "theorem2", "theorem3",
            "theorem4", "circles-memory", "circles-vs-order0"} == set(ids)


def test_presets_keep_the_papers_threshold_rule():
    """§2, Theorem I: a neuron fires when its excitation *exceeds* θ_i (the text's word)."""
    for name, cfg in reproduce.PRESETS.items():
        assert cfg.rule == "exceeds", name
