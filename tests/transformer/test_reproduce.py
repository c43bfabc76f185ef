"""End to end: the smoke preset on the embedded data, and the report it writes."""
import json

import pytest

from papers.transformer import reproduce
from shared.data import registry
from shared.report import VERDICTS, render_readme


def test_smoke_run(no_data_env, monkeypatch):
    monkeypatch.setattr(registry, "USED", {})   # process-global; other tests may have filled it
    out = no_data_env / "smoke"
    reproduce.main(["--preset", "smoke", "--out", str(out), "--set", "threads=1"])
    m = json.loads((out / "metrics.json").read_text())
    ids = [c["id"] for c in m["claims"]]
    assert ids == ["params", "lrate", "synthetic", "bleu", "table3-A-h1", "table3-D-ls0"]
    assert all(c["verdict"] in VERDICTS for c in m["claims"])
    assert m["environment"]["data"] == {"multi30k": "synthetic"}
    assert (out / "README.md").read_text() == render_readme(m)
    assert (out / "attention.png").is_file() and (out / "curves.png").is_file()
    assert "bleu_signature" in m["results"] and m["results"]["bleu_signature"].startswith("nrefs:1")
    assert m["results"]["averaged_steps"] == [4, 6]          # the last 2 snapshots, the final step included


def test_bad_ablation_and_dataset_are_errors(no_data_env):
    with pytest.raises(SystemExit, match="unknown ablation"):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "a"), "--set", "threads=1",
                        "--set", "ablations=Z-nothing", "--set", "syn_steps=1"])
    with pytest.raises(SystemExit, match="dataset"):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "b"), "--set", "threads=1",
                        "--set", "dataset=imagenet", "--set", "syn_steps=1"])
