"""The repository's contract (DESIGN.md): layout, make targets, per-paper packages."""
import importlib
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAPERS = sorted(p.parent.name for p in (ROOT / "papers").glob("*/reproduce.py"))


def test_layout():
    for p in ["papers", "shared", "reproductions", "tests", "Makefile", "README.md", "pyproject.toml",
              "CONTRIBUTING.md", ".ci/run"]:
        assert (ROOT / p).exists(), p
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_make_help_lists_every_target():
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for t in ["test", "reports", "install"]:
        assert re.search(rf"^\s+{t}\s", out, re.M), t
    for p in PAPERS:
        for t in (p, f"{p}-smoke", f"{p}-paper"):
            assert re.search(rf"^\s+{re.escape(t)}\s", out, re.M), t


@pytest.mark.parametrize("slug", PAPERS)
def test_paper_package_contract(slug):
    pkg = ROOT / "papers" / slug
    for f in ["__init__.py", "model.py", "reproduce.py", "README.md"]:
        assert (pkg / f).is_file(), f"papers/{slug}/{f} missing"
    model = importlib.import_module(f"papers.{slug}.model")
    assert isinstance(model.VARIANTS, dict) and model.VARIANTS
    repro = importlib.import_module(f"papers.{slug}.reproduce")
    assert {"smoke", "quick", "paper"} <= set(repro.PRESETS) and callable(repro.main)
    readme = (pkg / "README.md").read_text().lower()
    assert "deviation" in readme, f"papers/{slug}/README.md has no deviations table"
    assert (ROOT / "tests" / slug).is_dir(), f"tests/{slug} missing"


def test_no_oracle_is_skipped_silently():
    """Oracles (torchvision, transformers, grad-cam) are test dependencies: a missing one fails the suite."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")
                 if "importorskip" in p.read_text() and p.name != "test_layout.py"]
    assert not offenders, f"importorskip in {offenders}: import the oracle directly (pip install -e '.[test]')"
