import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from shared import report
from shared.data import registry
from shared.checkpoint import load_checkpoint, save_checkpoint
from shared.cli import Run
from shared.device import get_device
from shared.report import claim, render_index, render_readme, update_index, write_report
from shared.seed import get_rng_state, seed_everything, set_rng_state

ROOT = Path(__file__).resolve().parents[2]


def _metrics(**kw):
    m = {"paper": "resnet", "title": "Toy", "preset": "smoke",
         "claims": [claim(id="c1", source="§4.2", statement="deeper is better", metric="error %", paper=6.97,
                          ours=7.5, criterion=report.target(6.97, tol=1.0), note="close")],
         "figures": [{"file": "f.png", "caption": "curves"}],
         "environment": {"commit": "abc", "torch": "2", "device": "cpu", "cpu_threads": 2, "gpu": None,
                         "seed": 0, "wall_seconds": 1.23, "command": "python -m x", "data": {"toy": "synthetic"}}}
    m.update(kw)
    return m


def test_claim_is_keyword_only_and_computes_its_verdict():
    with pytest.raises(TypeError):
        claim("x", "s", "st", "m", 1, 1, report.exact(1), "n")
    with pytest.raises(TypeError):
        claim(id="x", source="s", statement="st", metric="m", paper=1, ours=1, criterion=report.exact(1),
              note="n", verdict="reproduced")
    with pytest.raises(TypeError, match="criterion must be data"):
        claim(id="x", source="s", statement="st", metric="m", paper=1, ours=1, criterion="ours == 1", note="n")
    c = claim(id="x", source="s", statement="st", metric="m", paper=1, ours=2, criterion=report.exact(1), note="n")
    assert c["verdict"] == "not reproduced" and c["criterion"]["kind"] == "exact"


def test_render_has_claims_figures_environment_and_data_line():
    text = render_readme(_metrics())
    lines = text.splitlines()
    assert lines[0].startswith("# Toy: reproduction report (smoke preset)")
    assert lines[2].startswith("**Data: the embedded synthetic default**")
    assert "| c1 | §4.2 | deeper is better | error % | 6.97 | 7.5 | \\|ours - 6.97\\| <= 1 | **reproduced** | close |" in text
    assert "![curves](f.png)" in text and "| wall_seconds | 1.2 s |" in text and "| toy | `synthetic` |" in text


def test_validate_names_missing_fields(tmp_path):
    m = _metrics()
    del m["claims"][0]["criterion"]
    with pytest.raises(ValueError, match="lacks \\['criterion'\\]"):
        write_report(tmp_path, m)


def test_index_lists_every_paper(tmp_path):
    write_report(tmp_path / "resnet", _metrics())
    text = render_index(tmp_path)
    assert "[ResNet (He et al. 2016)](resnet/README.md)" in text
    assert "Not yet reproduced:" in text and "McCulloch & Pitts 1943" in text
    m = _metrics()
    m["preset"] = "fig6"
    write_report(tmp_path / "resnet" / "fig6", m)     # a longer report beside the quick one is listed after it
    text = render_index(tmp_path)
    assert text.index("(resnet/README.md)") < text.index("[ResNet (He et al. 2016), fig6](resnet/fig6/README.md)")


def test_committed_reports_agree_with_their_metrics():
    """Every committed report is exactly what its metrics.json renders to, and the index is current."""
    root = ROOT / "reproductions"
    found = sorted(root.glob("*/metrics.json")) + sorted(root.glob("*/*/metrics.json"))   # quick; longer presets
    for path in found:
        m = json.loads(path.read_text())
        assert m["paper"] == (path.parent.name if path.parent.parent == root else path.parent.parent.name)
        assert (path.parent / "README.md").read_text() == render_readme(m), f"{path.parent} is stale"
        for f in m.get("figures", []):
            assert (path.parent / f["file"]).is_file(), f"{path.parent}: figure {f['file']} missing"
    if found:
        assert (root / "README.md").read_text() == render_index(root), "reproductions/README.md is stale"


def test_every_committed_verdict_is_recomputed_from_its_criterion():
    """A hand-edited verdict (or one the criterion does not give) fails here."""
    for path in sorted((ROOT / "reproductions").rglob("metrics.json")):
        m = json.loads(path.read_text())
        for c in m["claims"]:
            assert isinstance(c["criterion"], dict), f"{path}: claim {c['id']!r} has no criterion data"
            assert c["verdict"] == report.judge(c["criterion"], c["ours"]), f"{path}: claim {c['id']!r}"


def test_package_readmes_quote_their_committed_report():
    """A package README's results come from reproductions/<slug>/metrics.json (DESIGN "Claims and verdicts")."""
    for path in sorted((ROOT / "reproductions").glob("*/metrics.json")):
        m = json.loads(path.read_text())
        readme = ROOT / "papers" / m["paper"] / "README.md"
        text = readme.read_text()
        begin = report.RESULTS_BEGIN.format(slug=m["paper"])
        assert begin in text, f"{readme} has no generated results block (sync it with shared.report.sync_package_readme)"
        block = text[text.index(begin):text.index(report.RESULTS_END) + len(report.RESULTS_END)]
        assert block == report.render_results_block(m), f"{readme}: results block is stale"


def test_sync_package_readme_replaces_only_the_block(tmp_path):
    m = _metrics()
    readme = tmp_path / "README.md"
    readme.write_text("intro\n\n" + report.RESULTS_BEGIN.format(slug="resnet") + "\nold\n" + report.RESULTS_END + "\n\ntail\n")
    assert report.sync_package_readme(readme, m)
    text = readme.read_text()
    assert text.startswith("intro\n\n") and text.endswith("\n\ntail\n") and "old" not in text
    assert "| deeper is better | §4.2 | 6.97 | 7.5 | **reproduced** |" in text
    other = tmp_path / "other.md"
    other.write_text("no block")
    assert not report.sync_package_readme(other, m) and other.read_text() == "no block"


@dataclass
class Cfg:
    steps: int = 3


def test_run_end_to_end(tmp_path, no_data_env):
    out = tmp_path / "reproductions" / "backprop"
    run = Run.from_cli("backprop", {"smoke": Cfg(1), "quick": Cfg()},
                       ["--preset", "smoke", "--out", str(out), "--set", "steps=2", "--device", "cpu"])
    assert run.cfg.steps == 2 and run.device.type == "cpu"
    cfgj = json.loads((out / "config.json").read_text())
    assert cfgj["config"] == {"steps": 2} and cfgj["preset"] == "smoke"
    assert registry.USED == {}
    registry.USED["stale/file"] = "from an earlier run"
    run = Run.from_cli("backprop", {"smoke": Cfg(1), "quick": Cfg()},
                       ["--preset", "smoke", "--out", str(out), "--set", "steps=2", "--device", "cpu"])
    run.use_synthetic("parity")
    run.log({"step": 1, "loss": 0.5})
    run.log({"step": 2, "loss": 0.25})
    assert [json.loads(x)["step"] for x in (out / "log.jsonl").read_text().splitlines()] == [1, 2]
    m = run.finish([claim(id="a", source="s", statement="st", metric="m", paper=None, ours=1.0,
                             criterion=report.not_comparable("a GPU"), note="n")])
    assert m["environment"]["data"] == {"parity": "synthetic"}
    assert (out / "README.md").read_text() == render_readme(json.loads((out / "metrics.json").read_text()))
    assert "backprop/README.md" in (out.parent / "README.md").read_text()  # index updated
    assert (out / "README.md").read_text().splitlines()[2].startswith("**Data: the embedded synthetic default**")
    run.finish([], data_note="The paper's own tasks, generated exactly.")
    assert (out / "README.md").read_text().splitlines()[2] == "The paper's own tasks, generated exactly."


def test_seed_everything_and_rng_roundtrip(tmp_path):
    seed_everything(5)
    a = (torch.rand(3), np.random.rand(2))
    seed_everything(5)
    state = get_rng_state()
    b = (torch.rand(3), np.random.rand(2))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    save_checkpoint({"rng": state}, tmp_path / "c.pt")
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])
    c = (torch.rand(3), np.random.rand(2))
    assert torch.equal(a[0], c[0]) and np.array_equal(a[1], c[1])


def test_checkpoint_refuses_code_and_names_missing_file(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))
    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(RuntimeError, match="cannot load checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(FileNotFoundError, match="without --resume"):
        load_checkpoint(tmp_path / "none.pt")


def test_device_choices():
    assert get_device("cpu").type == "cpu"
    assert get_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="not one of"):
        get_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no GPU"):
            get_device("cuda")


def test_no_cuda_calls_in_code():
    for path in list((ROOT / "papers").rglob("*.py")) + list((ROOT / "shared").rglob("*.py")):
        assert ".cuda()" not in path.read_text(), f"{path} calls .cuda(); use the run's device"
