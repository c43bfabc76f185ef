"""End-to-end smoke run of the reproduction (seconds; no data)."""
import json

from papers.mcculloch_pitts import reproduce
from shared.report import render_readme


def test_smoke_run(no_data_env):
    out = no_data_env / "run"
    results = reproduce.main(["--preset", "smoke", "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in m["claims"]}
    assert verdicts.pop("fig1e-long") == "partially reproduced"    # the after-warmth of the printed formula
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
    assert all(c["verdict"] != "not reproduced" for c in m["claims"])
