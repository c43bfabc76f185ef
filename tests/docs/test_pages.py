"""Issue 17: the reading pages, built from the sources and opened in a real browser (headless Chromium).

The browser test serves the built site from 127.0.0.1 and follows every internal link from index.html: every
formula is typeset (no raw TeX in the text), every internal link resolves (page and #fragment), no console
error, nothing is loaded from another origin; a screenshot of one code page is written to tmp_path.
Chromium is a Debian package: `make test` (and .ci/run) install it when missing (`make chromium`).
"""
import json
import re
import struct
import time
from pathlib import Path

import pytest

from docs import build as B
from docs.check import check_site

ROOT = Path(__file__).resolve().parents[2]
SLUGS = [p.name for p in B.implemented_papers()]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs") / "site"
    t0 = time.perf_counter()
    pages = B.build(out)
    return out, pages, time.perf_counter() - t0


def test_build_is_fast_and_complete(site):
    out, pages, seconds = site
    assert seconds < 60, f"make docs took {seconds:.1f} s (budget: under a minute on 2 cores)"
    assert (out / "index.html").is_file() and (out / "_static/mathjax/tex-chtml.js").is_file()
    assert list((out / "_static/mathjax/output/chtml/fonts/woff-v2").glob("*.woff")), "MathJax fonts not copied"
    for slug in SLUGS:
        for name in ("index.html", "model.html"):
            assert (out / slug / name).is_file(), f"{slug}/{name} missing"
        if (ROOT / "papers" / slug / "loss.py").exists():
            assert (out / slug / "loss.html").is_file()


@pytest.mark.parametrize("slug", SLUGS)
def test_paper_page_content(site, slug):
    out, _, _ = site
    page = (out / slug / "index.html").read_text()
    for f in ("model.py", "loss.py", "reproduce.py"):
        if (ROOT / "papers" / slug / f).exists():
            assert f'href="{f[:-3]}.html"' in page, f"{slug}: no link to its {f} page"
    metrics = ROOT / "reproductions" / slug / "metrics.json"
    if metrics.exists():
        m = json.loads(metrics.read_text())
        assert page.split('id="paper-preset"')[0].count('<span class="cid">') == len(m["claims"])
        for c in m["claims"]:
            assert B.verdict_badge(c["verdict"]) in page
        for fig in m.get("figures", []):
            if (ROOT / "reproductions" / slug / fig["file"]).exists():
                assert f'src="figures/{fig["file"]}"' in page and (out / slug / "figures" / fig["file"]).is_file()
    readme = (ROOT / "papers" / slug / "README.md")
    if readme.exists() and re.search(r"^## Deviations", readme.read_text(), re.M):
        dev = page.split('id="deviations"', 1)[1].split('id="structure"', 1)[0]
        assert "<table>" in dev, f"{slug}: the README's deviations table is not on the page"


def test_index_counts_verdicts(site):
    out, _, _ = site
    index = (out / "index.html").read_text()
    total = sum(len(json.loads(p.read_text())["claims"]) for p in ROOT.glob("reproductions/*/metrics.json")
                if p.parent.name in SLUGS)
    foot = index.split("<tfoot>", 1)[1]
    assert re.findall(r'<td class="num">(\d+)</td>', foot)[-1] == str(total)
    for slug in SLUGS:
        assert f'href="{slug}/index.html"' in index


def test_pages_in_headless_chromium(site, tmp_path):
    out, pages, _ = site
    shot = tmp_path / "screenshot.png"
    first = "resnet" if "resnet" in SLUGS else SLUGS[0]
    t0 = time.perf_counter()
    rep = check_site(out, screenshot=shot, screenshot_page=f"{first}/model.html", profile=tmp_path / "profile")
    seconds = time.perf_counter() - t0
    assert not rep.problems, f"{len(rep.problems)} problems:\n" + "\n".join(rep.problems[:40])
    visited = {u.split("/", 3)[3] for u in rep.pages}
    built = {p.relative_to(out).as_posix() for p in pages}
    assert built <= visited, f"pages no link reaches: {sorted(built - visited)}"
    assert rep.formulas >= 10, f"only {rep.formulas} formulas typeset"
    assert rep.links_checked > 1000
    code_page = next(v for u, v in rep.pages.items() if u.endswith(f"{first}/model.html"))
    left, right = code_page["columns"]
    assert left > 350 and right > 500, f"not two columns at 1400 px: {left:.0f} / {right:.0f} px"
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1400, 1000)
    assert seconds < 60, f"the browser check took {seconds:.1f} s"
