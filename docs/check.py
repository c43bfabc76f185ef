"""Open the built pages in headless Chromium, as a reader would, and report what is broken.

    python -m docs.check [--site build/docs] [--screenshot page.png]

Serves the site from 127.0.0.1, starts at index.html and follows every internal link; on each page it waits for
MathJax, then checks that every formula was typeset (no raw ``$...$``, ``\\(...\\)`` or ``\\[...\\]`` left in the
text outside code), that no console error, uncaught exception or failed load was logged, and that nothing was
loaded from another origin. Every internal link must resolve: its page (or file) must exist and its ``#fragment``
must be an element id there.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlparse

from .browser import Chromium

PAGE_JS = r"""
(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container').forEach(e => e.remove());
  const text = clone.textContent;
  const raw = [...text.matchAll(/\\\(.{0,40}|\\\[.{0,40}|\$[^$\s][^$\n]{0,80}\$/g)].map(m => m[0]);
  return {
    title: document.title,
    raw: raw,
    math: document.querySelectorAll('.math').length,
    typeset: document.querySelectorAll('.math > mjx-container').length,
    mjxErrors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    resources: performance.getEntriesByType('resource').map(r => r.name),
    columns: (() => { const s = document.querySelector('.sec .docs'), c = document.querySelector('.sec .code');
                      return s && c ? [s.getBoundingClientRect().width, c.getBoundingClientRect().width] : null; })(),
  };
})()
"""

# The screenshot shows a reader's view with typeset math: the first equation note, a third of the way down.
SCROLL_TO_MATH = """(() => { const e = document.querySelector('.eq-note, .math');
  if (e) window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 330); })()"""


@dataclass
class Report:
    pages: dict = field(default_factory=dict)       # url -> page info
    problems: list = field(default_factory=list)    # human-readable lines
    links_checked: int = 0
    formulas: int = 0
    seconds: float = 0.0


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site: Path):
    handler = functools.partial(_Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def check_site(site: Path, screenshot: Path | None = None, screenshot_page: str | None = None,
               profile: Path | None = None) -> Report:
    """Crawl the site from index.html in headless Chromium; ``screenshot_page`` (a path under the site)
    is captured to ``screenshot``."""
    t0 = time.perf_counter()
    site = Path(site)
    httpd, base = serve(site)
    rep = Report()
    origin = base.rstrip("/")
    try:
        with Chromium(user_data_dir=profile) as browser:
            queue, seen = deque([base + "index.html"]), {base + "index.html"}
            link_targets: list[tuple[str, str]] = []
            while queue:
                url = queue.popleft()
                mark = browser.navigate(url)
                info = browser.evaluate(PAGE_JS)
                rep.pages[url] = info
                name = url[len(base):]
                for err in browser.console_errors(mark):
                    rep.problems.append(f"{name}: {err}")
                for raw in info["raw"]:
                    rep.problems.append(f"{name}: raw TeX left in the text: {raw!r}")
                if info["typeset"] != info["math"] or info["mjxErrors"]:
                    rep.problems.append(f"{name}: {info['typeset']} of {info['math']} formulas typeset, "
                                        f"{info['mjxErrors']} MathJax errors")
                rep.formulas += info["typeset"]
                for res in info["resources"]:
                    if not res.startswith(origin) and not res.startswith("data:"):
                        rep.problems.append(f"{name}: loads {res} from another origin")
                for href in info["links"]:
                    if not href.startswith(origin):
                        continue                       # external (arXiv ...): not ours to check offline
                    link_targets.append((name, href))
                    page, _ = urldefrag(href)
                    if page.endswith(".html") and page not in seen:
                        seen.add(page)
                        queue.append(page)
                if screenshot is not None and screenshot_page and name == screenshot_page:
                    browser.evaluate(SCROLL_TO_MATH)
                    browser.screenshot(screenshot)
                    browser.evaluate("window.scrollTo(0, 0)")
            statuses: dict[str, int] = {}
            for name, href in link_targets:
                rep.links_checked += 1
                page, frag = urldefrag(href)
                target = rep.pages.get(page)
                if target is None:
                    if page not in statuses:
                        statuses[page] = _status(page)
                    if statuses[page] != 200:
                        rep.problems.append(f"{name}: link {href[len(base):]} -> HTTP {statuses[page]}")
                    continue
                if frag and frag not in target["ids"]:
                    rep.problems.append(f"{name}: link {href[len(base):]}: no element #{frag} on that page")
    finally:
        httpd.shutdown()
        httpd.server_close()
    rep.seconds = time.perf_counter() - t0
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="open the built pages in headless Chromium and check them")
    ap.add_argument("--site", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "docs")
    ap.add_argument("--screenshot", type=Path)
    ap.add_argument("--page", default=None, help="page to capture, e.g. resnet/model.html")
    args = ap.parse_args(argv)
    rep = check_site(args.site, args.screenshot, args.page)
    for p in rep.problems:
        print(p)
    print(f"{len(rep.pages)} pages, {rep.links_checked} internal links, {rep.formulas} formulas, "
          f"{len(rep.problems)} problems, {rep.seconds:.1f} s")
    return 1 if rep.problems else 0


if __name__ == "__main__":
    sys.exit(main())
