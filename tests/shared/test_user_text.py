"""User-facing text names no internal file of the team (issue 10, item 8): no PAPER_FACTS, no lock files."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTERNAL = re.compile(r"PAPER_FACTS|cpu\.lock|papers-cpu\.lock|/tmp/[\w.-]*lock")


def test_no_internal_file_names_in_user_facing_text():
    files = [*ROOT.glob("papers/**/*.py"), *ROOT.glob("papers/**/*.md"), *ROOT.glob("docs/**/*.py"),
             *ROOT.glob("reproductions/**/*.md"), *ROOT.glob("reproductions/**/*.json"),
             ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "Makefile"]
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in files if p.is_file()
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if INTERNAL.search(line)]
    assert not hits, f"internal file names in user-facing text (cite the paper or the source instead): {hits}"
