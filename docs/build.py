"""Reading pages: each paper's code beside its annotations, rendered offline.

    python -m docs.build [--out build/docs]        # or: make docs
    python -m http.server -d build/docs 8000        # or: make docs-serve

For every implemented paper (``papers/<slug>/`` with a ``model.py``) this writes

- ``<slug>/index.html``: the paper's page: citation, the claims table and figures of the committed report
  (``reproductions/<slug>/metrics.json``), the paper -> code map and deviations table of its README, and the
  index of the paper's structure (every §, Eq., Fig., Table and Alg. the code cites, with where it is cited);
- ``<slug>/<file>.html`` for each module of the package (model, loss, reproduce first): comments and docstrings
  on the left, highlighted code on the right, section by section, as the annotated-implementation sites do;
- ``index.html``: every paper with its verdict counts.

Paper references in prose and code comments become links to the structure index. LaTeX in comments or
docstrings (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) and the equations of ``docs/structure/<slug>.toml``
are typeset by MathJax, which comes from PyPI (``django-static-mathjax``, a dependency-free wheel of the MathJax
3 distribution) and is copied into ``_static/``: the pages load nothing from the network.
"""
from __future__ import annotations

import argparse
import ast
import html
import inspect
import io
import json
import re
import shutil
import sys
import time
import tokenize
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

ROOT = Path(__file__).resolve().parents[1]
DOCS = Path(__file__).resolve().parent
DEFAULT_OUT = ROOT / "build" / "docs"
FIRST_FILES = ("model.py", "loss.py", "reproduce.py", "data.py")
VERDICTS = ("reproduced", "partially reproduced", "not reproduced", "inconclusive", "not comparable")
KINDS = {"sec": "Sections", "eq": "Equations", "fig": "Figures", "table": "Tables", "alg": "Algorithms"}

# -- paper references --------------------------------------------------------------------------------------

REF = re.compile(
    r"(?P<sec>§\s?(?P<secn>\d+(?:\.\d+)*)|\b(?:Sec|Section)s?\.?\s(?P<secn2>\d+(?:\.\d+)*))"
    r"|(?P<eq>\b(?:Eqs?|Equations?)\.?\s?\(?(?P<eqn>\d+)\)?)"
    r"|(?P<fig>\b(?:Figs?|Figures?)\.?\s?(?P<fign>\d+)(?![\d.]\d))"
    r"|(?P<table>\bTables?\s(?P<tablen>\d+))"
    r"|(?P<alg>\b(?:Alg|Algorithm)\.?\s?(?P<algn>\d+))")
# A reference right after one of these cites another paper (e.g. "[13]: Eq. (14)", "GPT-2 §2.3").
FOREIGN = re.compile(r"(\[\d+\]|\bet al\.?|\bof \[|\.md)[^.;()]{0,12}$")


def ref_key(m: re.Match) -> tuple[str, str]:
    """('eq', '1') for 'Eq. (1)'; figures drop their panel letter (Fig. 1e -> fig 1)."""
    for kind in KINDS:
        if m.group(kind):
            n = m.group(f"{kind}n") or (m.group("secn2") if kind == "sec" else None)
            return kind, n
    raise AssertionError(m.group(0))


def ref_anchor(kind: str, n: str) -> str:
    return f"{kind}-{n}"


def ref_label(kind: str, n: str) -> str:
    return {"sec": f"§{n}", "eq": f"Eq. ({n})", "fig": f"Fig. {n}", "table": f"Table {n}", "alg": f"Alg. {n}"}[kind]


def sort_key(kind: str, n: str):
    return list(KINDS).index(kind), [int(p) for p in n.split(".")]


_LIST_SEP = re.compile(r"\s*(?:/|,|and|or|-|–|&)\s*")


def find_refs(text: str, foreign: list[str]) -> list[tuple[re.Match, str, str]]:
    """The references in ``text`` to this paper: those right after another paper's marker ("[13]: Eq. (14)",
    "GPT-2 §2.3"), and those listed right after such a one ("Eq. (14) / Eq. (10)"), are left out."""
    out, foreign_end = [], None
    for m in REF.finditer(text):
        before = text[max(0, m.start() - 40):m.start()]
        listed = foreign_end is not None and _LIST_SEP.fullmatch(text[foreign_end:m.start()])
        if listed or FOREIGN.search(before) or any(re.search(re.escape(f) + r"[^.;()]{0,12}$", before)
                                                   for f in foreign):
            foreign_end = m.end()
            continue
        foreign_end = None
        out.append((m, *ref_key(m)))
    return out


_TAG = re.compile(r"(<[^>]+>)")


def link_refs(fragment: str, href: str, foreign: list[str], found: list | None = None) -> str:
    """Wrap every paper reference in the text parts of an HTML fragment in a link to ``href#<anchor>``;
    text already inside a link or inside math is left alone. Found refs are appended to ``found``."""
    parts, out, depth_a, depth_math = _TAG.split(fragment), [], 0, 0
    for part in parts:
        if part.startswith("<"):
            low = part.lower()
            if low.startswith("<a ") or low == "<a>":
                depth_a += 1
            elif low.startswith("</a"):
                depth_a -= 1
            elif 'class="math' in low:
                depth_math += 1
            elif depth_math and (low.startswith("</span") or low.startswith("</div")):
                depth_math -= 1
            out.append(part)
            continue
        if depth_a or depth_math or not part:
            out.append(part)
            continue
        pieces, last = [], 0
        for m, kind, n in find_refs(part, foreign):
            pieces += [part[last:m.start()],
                       f'<a class="ref" href="{href}#{ref_anchor(kind, n)}">{m.group(0)}</a>']
            last = m.end()
            if found is not None:
                found.append((kind, n))
        out.append("".join(pieces) + part[last:])
    return "".join(out)


# -- prose: markdown with protected math --------------------------------------------------------------------

MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$\w])\$(?=\S)([^$\n]+?)(?<=\S)\$(?![\d$])", re.S)
_md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable(["table", "strikethrough"])


def protect_math(text: str) -> tuple[str, list[str]]:
    stash = []

    def put(m):
        display = m.group(1) is not None or m.group(2) is not None
        tex = next(g for g in m.groups() if g is not None)
        stash.append(f'<span class="math display">\\[{html.escape(tex)}\\]</span>' if display
                     else f'<span class="math">\\({html.escape(tex)}\\)</span>')
        return f"MATHSTASH{len(stash) - 1}X"
    return MATH.sub(put, text), stash


def restore_math(rendered: str, stash: list[str]) -> str:
    return re.sub(r"MATHSTASH(\d+)X", lambda m: stash[int(m.group(1))], rendered)


_ROLE = re.compile(r":(?:func|class|data|attr|meth|mod|obj):`~?([^`]+)`")


def rst_to_md(text: str) -> str:
    """The reST habits of our docstrings (``x``, :func:`f`) as markdown."""
    text = _ROLE.sub(r"`\1`", text)
    return re.sub(r"``(.+?)``", r"`\1`", text)


def preformat_aligned(text: str) -> str:
    """Paragraphs laid out in columns (runs of spaces inside a line, or deep hanging indents) are kept as
    they are written: fenced as text blocks, which markdown would otherwise reflow into one line."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = para.split("\n")
        ind = [len(l) - len(l.lstrip()) for l in lines if l.strip()]
        aligned = len(lines) > 1 and (any(re.search(r"\S {3,}\S", l) for l in lines)
                                      or (ind and max(ind) - ind[0] >= 6 and not lines[0].lstrip().startswith("-")))
        if aligned and not para.lstrip().startswith(("|", "```")) and min(ind) < 4:
            out.append("```text\n" + inspect.cleandoc(para) + "\n```")
        else:
            out.append(para)
    return "\n\n".join(out)


_UNDERSCORE = "\ue000"   # docstrings write z_{l-1}, W_i, d_model: underscores are never emphasis here


def render_prose(text: str) -> str:
    text, stash = protect_math(text)
    rendered = _md.render(preformat_aligned(rst_to_md(text)).replace("_", _UNDERSCORE))
    return restore_math(rendered.replace(_UNDERSCORE, "_").replace("%EE%80%80", "_"), stash)


# -- one source file as annotated sections ------------------------------------------------------------------

@dataclass
class Section:
    start: int                      # first line (1-based) of the section's code
    prose: list[str] = field(default_factory=list)   # markdown chunks
    code: list[int] = field(default_factory=list)    # line numbers
    anchor: str | None = None       # "ResNet.forward" for a def/class section
    heading: str | None = None      # "-- building blocks (Fig. 5) ---" comment banners
    anchors: dict = field(default_factory=dict)      # line -> qualname of undocumented defs inside


BANNER = re.compile(r"^#\s*-{2,}\s*(.*?)\s*-{3,}\s*$|^#\s*-{6,}\s*$")


def analyse(src: str):
    """Per line: full-line comment text, docstring ranges, and the def/class that starts on each line."""
    comments: dict[int, str] = {}
    code_lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            if tok.line.strip().startswith("#"):
                comments[tok.start[0]] = tok.line.strip()
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            for ln in range(tok.start[0], tok.end[0] + 1):
                code_lines.add(ln)
    comments = {ln: c for ln, c in comments.items() if ln not in code_lines}
    tree = ast.parse(src)
    docstrings: dict[int, tuple[int, str]] = {}   # first line of docstring -> (last line, text)
    owners: dict[int, tuple[str, int, int]] = {}  # def start line (decorators) -> (qualname, doc start, doc end)
    module_doc = None

    def doc_of(node):
        body = getattr(node, "body", None)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            return body[0]
        return None

    d = doc_of(tree)
    if d:
        module_doc = (d.lineno, d.end_lineno, inspect.cleandoc(d.value.value))

    def walk(nodes, prefix=""):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qual = prefix + node.name
                start = min([node.lineno] + [dec.lineno for dec in node.decorator_list])
                d = doc_of(node)
                owners[start] = (qual, d.lineno if d else 0, d.end_lineno if d else 0)
                if d:
                    docstrings[d.lineno] = (d.end_lineno, inspect.cleandoc(d.value.value))
                if isinstance(node, ast.ClassDef):
                    walk(node.body, qual + ".")
    walk(tree.body)
    for node in tree.body:   # module-level constants (VARIANTS, TABLE3, PRESETS ...) get an anchor too
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name) and t.id.isupper() and node.lineno not in owners:
                owners[node.lineno] = (t.id, 0, 0)
    return comments, docstrings, owners, module_doc


def comment_text(lines: list[str]) -> str:
    """Full-line comments -> prose: strip '#' and one space, keep deeper indentation (code-like layouts)."""
    out = []
    for c in lines:
        body = c[1:]
        out.append(body[1:] if body.startswith(" ") else body)
    return "\n".join(out)


def sections_of(src: str) -> list[Section]:
    comments, docstrings, owners, module_doc = analyse(src)
    lines = src.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    skip: set[int] = set()
    for start, (end, _) in docstrings.items():
        skip.update(range(start, end + 1))
    if module_doc:
        skip.update(range(module_doc[0], module_doc[1] + 1))
    sections = [Section(start=1)]
    if module_doc:
        sections[0].prose.append(module_doc[2])
    pending_comments: list[str] = []

    def flush_comments():
        if pending_comments:
            sections[-1].prose.append(comment_text(pending_comments))
            pending_comments.clear()

    for ln, text in enumerate(lines, start=1):
        if ln in skip:
            continue
        if ln in comments and (ln == 1 and text.startswith("#!")) is False:
            c = comments[ln]
            b = BANNER.match(c)
            if sections[-1].code and any(lines[i - 1].strip() for i in sections[-1].code):
                flush_comments()
                sections.append(Section(start=ln))
            if b:
                flush_comments()
                if b.group(1):
                    sections[-1].heading = b.group(1)
                continue
            pending_comments.append(c)
            continue
        if ln in owners:
            qual, ds, de = owners[ln]
            annotated = bool(ds or pending_comments)
            if annotated and sections[-1].code and any(lines[i - 1].strip() for i in sections[-1].code):
                flush_comments()
                sections.append(Section(start=ln))
            flush_comments()
            if annotated or not sections[-1].code:
                sections[-1].anchor = sections[-1].anchor or qual
            if sections[-1].anchor != qual:
                sections[-1].anchors[ln] = qual     # an undocumented def stays in its neighbour's section
            if ds:
                sections[-1].prose.append(docstrings[ds][1])
        elif pending_comments and text.strip():
            flush_comments()
        if not sections[-1].code:
            sections[-1].start = ln
        sections[-1].code.append(ln)
    flush_comments()
    for s in sections:  # trim blank lines at both ends of each section's code
        while s.code and not lines[s.code[0] - 1].strip():
            s.code.pop(0)
        while s.code and not lines[s.code[-1] - 1].strip():
            s.code.pop()
        if s.code:
            s.start = s.code[0]
    return [s for s in sections if s.code or s.prose or s.heading]


_FORMATTER = HtmlFormatter(nowrap=True)
_COMMENT_SPAN = re.compile(r'(<span class="c[1m]?">)(.*?)(</span>)')


def highlighted_lines(src: str) -> list[str]:
    out = highlight(src, PythonLexer(stripnl=False, ensurenl=True), _FORMATTER)
    return out.split("\n")


# -- pages --------------------------------------------------------------------------------------------------

@dataclass
class Paper:
    slug: str
    title: str
    short: str
    citation: str
    summary: str
    files: list[Path]
    metrics: dict | None
    readme: str
    structure: dict
    foreign: list[str]
    cited: dict = field(default_factory=lambda: defaultdict(list))   # (kind, n) -> [(href, label)]
    symbols: dict = field(default_factory=dict)                      # "BasicBlock.forward" -> href


def load_paper(pkg: Path) -> Paper:
    slug = pkg.name
    init = pkg / "__init__.py"
    src = init.read_text(encoding="utf-8") if init.exists() else ""
    tree = ast.parse(src) if src else ast.Module(body=[], type_ignores=[])
    doc = ast.get_docstring(tree) or ""
    citation = ""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "CITATION" for t in node.targets):
            try:
                citation = ast.literal_eval(node.value)
            except ValueError:
                pass
    paras = [p.strip() for p in re.split(r"\n\s*\n", doc) if p.strip()]
    summary = next((p for p in paras if p.lower().startswith("summary")), "")
    summary = re.sub(r"^summary\s*:\s*", "", summary, flags=re.I)
    if not citation:
        citation = " ".join(p for p in paras if not p.lower().startswith("summary"))
    readme_path = pkg / "README.md"
    readme = readme_path.read_text(encoding="utf-8") if readme_path.exists() else ""
    h1 = re.search(r"^#\s+(.+)$", readme, re.M)
    mpath = ROOT / "reproductions" / slug / "metrics.json"
    metrics = json.loads(mpath.read_text()) if mpath.exists() else None
    spath = DOCS / "structure" / f"{slug}.toml"
    structure = tomllib.loads(spath.read_text(encoding="utf-8")) if spath.exists() else {}
    title = (h1.group(1).strip() if h1 else (metrics or {}).get("title") or structure.get("title") or slug)
    short = structure.get("short") or title.split(":")[0]
    files = sorted((p for p in pkg.glob("*.py") if p.name != "__init__.py"),
                   key=lambda p: (FIRST_FILES.index(p.name) if p.name in FIRST_FILES else 99, p.name))
    return Paper(slug, title, short, " ".join(citation.split()), " ".join(summary.split()), files, metrics,
                 readme, structure, list(structure.get("foreign", [])))


def page_name(py: Path) -> str:
    return py.stem + ".html"


def layout(title: str, body: str, depth: int, math: bool, nav: str = "") -> str:
    up = "../" * depth
    mj = ""
    if math:
        mj = (f'<script>window.MathJax = {{tex: {{inlineMath: [["\\\\(", "\\\\)"]], displayMath: [["\\\\[", "\\\\]"]]}},'
              f' options: {{enableMenu: false, processHtmlClass: "math", ignoreHtmlClass: "page"}},'
              f' chtml: {{scale: 1.0}}}};</script>\n'
              f'<script defer src="{up}_static/mathjax/tex-chtml.js"></script>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{up}_static/style.css">
<link rel="stylesheet" href="{up}_static/pygments.css">
{mj}
</head><body class="page">
<header class="top"><a class="home" href="{up}index.html">Ten papers, reproduced</a>{nav}</header>
{body}
</body></html>
"""


def file_nav(paper: Paper, current: str) -> str:
    items = [f'<a class="crumb" href="index.html">{html.escape(paper.short)}</a>']
    for f in paper.files:
        cls = "tab current" if page_name(f) == current else "tab"
        items.append(f'<a class="{cls}" href="{page_name(f)}">{f.name}</a>')
    return '<nav class="files">' + "".join(items) + "</nav>"


def equation_notes(paper: Paper, refs: list[tuple[str, str]], shown: set) -> str:
    eqs = paper.structure.get("equations", {})
    notes = []
    for kind, n in refs:
        if kind == "eq" and n in eqs and n not in shown and eqs[n].get("tex"):
            shown.add(n)
            notes.append(f'<div class="eq-note"><a class="ref" href="index.html#eq-{n}">Eq. ({n})</a>'
                         f'<span class="math display">\\[{html.escape(eqs[n]["tex"])}\\]</span></div>')
    return "".join(notes)


def render_code_page(paper: Paper, py: Path) -> tuple[str, bool]:
    src = py.read_text(encoding="utf-8")
    lines = highlighted_lines(src)
    sections = sections_of(src)
    name = page_name(py)
    shown_eqs: set = set()
    rows, has_math = [], False
    for k, s in enumerate(sections):
        found: list = []
        heading = f'<h2 class="banner">{link_refs(html.escape(s.heading), "index.html", paper.foreign, found)}</h2>' \
            if s.heading else ""
        prose = "".join(render_prose(p) for p in s.prose)
        prose = link_refs(prose, "index.html", paper.foreign, found)
        code_html = []
        for ln in s.code:
            line = lines[ln - 1] if ln - 1 < len(lines) else ""
            if ln in s.anchors:
                line = f'<span class="anchor" id="{html.escape(s.anchors[ln])}"></span>' + line
            line = _COMMENT_SPAN.sub(lambda m: m.group(1) + link_refs(m.group(2), "index.html", paper.foreign, found)
                                     + m.group(3), line)
            code_html.append(line)
        notes = equation_notes(paper, found, shown_eqs)
        has_math = has_math or 'class="math' in prose or bool(notes)
        anchor = s.anchor or f"L{s.start}"
        label = f"{py.name} · " + (s.anchor or ("module docstring" if k == 0 else f"line {s.start}"))
        for key in dict.fromkeys(found):
            paper.cited[key].append((f"{name}#{anchor}", label))
        if k == 0:   # the file's title heads the first section (the module docstring), with its contents
            tops = [x.anchor for x in sections if x.anchor and "." not in x.anchor] + \
                   [q for x in sections for q in x.anchors.values() if "." not in q]
            order = {q: i for i, q in enumerate(qual for qual, *_ in analyse(src)[2].values())}
            tops = sorted(dict.fromkeys(tops), key=lambda q: order.get(q, 0))
            contents = ('<p class="contents">' + " · ".join(
                f'<a href="#{html.escape(q)}">{html.escape(q)}</a>' for q in tops) + "</p>") if tops else ""
            heading = (f'<h1>{html.escape(py.name)}</h1><p class="sub">{html.escape(paper.title)} · '
                       f'<a href="index.html">paper page</a></p>{contents}') + heading
        code = "\n".join(code_html)
        rows.append(f'<section class="sec{" first" if k == 0 else ""}" id="{html.escape(anchor)}">'
                    f'<div class="docs">{heading}{prose}{notes}'
                    f'<a class="pilcrow" href="#{html.escape(anchor)}" title="link to this section">¶</a></div>'
                    f'<div class="code">' + (f'<pre data-line="{s.start}"><code>{code}</code></pre>' if s.code else "")
                    + "</div></section>")
    title = f"{paper.slug}/{py.name}"
    body = '<main class="annotated">' + "\n".join(rows) + "</main>"
    return layout(f"{title} · {paper.short}", body, 1, has_math, file_nav(paper, name)), has_math


def collect_symbols(paper: Paper) -> None:
    for py in paper.files:
        _, _, owners, _ = analyse(py.read_text(encoding="utf-8"))
        mod = py.stem
        for qual, *_ in owners.values():
            href = f"{page_name(py)}#{qual}"
            paper.symbols.setdefault(qual, href)
            paper.symbols.setdefault(f"{mod}.{qual}", href)
            paper.symbols.setdefault(f"{mod}.py::{qual}", href)
        paper.symbols.setdefault(py.name, page_name(py))
        paper.symbols.setdefault(f"papers/{paper.slug}/{py.name}", page_name(py))


_CODE = re.compile(r"<code>([^<]+)</code>")


def link_symbols(fragment: str, paper: Paper) -> str:
    """`BasicBlock.forward`, `reproduce.figure6`, `model.py` in README tables -> links to their sections."""
    def sub(m):
        if m.group(1):                                          # an existing link: leave it
            return m.group(1)
        text = html.unescape(m.group(2)).strip()
        key = re.sub(r"\(.*\)$", "", text).strip()
        key = re.sub(r"^papers\.\w+\.", "", key)
        href = paper.symbols.get(key)
        if href is None and "." in key:                         # ClassName.attr -> the class section
            head = key.rsplit(".", 1)[0]
            href = paper.symbols.get(head) if head[:1].isupper() else None
        return f'<a class="sym" href="{href}">{m.group(0)}</a>' if href else m.group(0)
    return re.sub(r"(<a [^>]*>.*?</a>)|<code>([^<]+)</code>", sub, fragment, flags=re.S)


def readme_section(readme: str, *names: str) -> str:
    """The markdown of the README's '## <name>' section (up to the next '## '), or ''."""
    for name in names:
        m = re.search(rf"^##\s+{name}[^\n]*\n(.*?)(?=^##\s|\Z)", readme, re.M | re.S | re.I)
        if m:
            return m.group(1).strip()
    return ""


def fix_readme_links(fragment: str, paper: Paper, out: Path | None = None) -> str:
    """Relative links of a package README point into the repository: send those we have pages for to the
    pages (a module -> its page, the report -> the claims above); others become plain text."""
    pkg = (ROOT / "papers" / paper.slug).resolve()

    def sub(m):
        href, inner = html.unescape(m.group(1)), m.group(2)
        if re.match(r"[a-z]+:", href) or href.startswith("#"):
            return m.group(0)
        target = (pkg / href.split("#")[0]).resolve()
        if target.parent == pkg and target.suffix == ".py" and target.exists():
            return f'<a href="{target.stem}.html">{inner}</a>'
        if target.is_relative_to((ROOT / "reproductions" / paper.slug).resolve()):
            return f'<a href="index.html#claims">{inner}</a>'
        return f'<span class="path" title="{html.escape(href)}">{inner}</span>'
    fragment = re.sub(r'<a href="([^"]*)">(.*?)</a>', sub, fragment, flags=re.S)

    def img(m):   # an image of the README: copied beside the page when it is a file of the repository
        src = html.unescape(m.group(1))
        if re.match(r"[a-z]+:", src):
            return m.group(0)
        target = (pkg / src).resolve()
        if out is None or not target.is_file() or not target.is_relative_to(ROOT.resolve()):
            return f'<span class="path">[{html.escape(target.name)}]</span>'
        name = "readme-" + target.name
        dst = out / paper.slug / "figures" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, dst)
        return f'<img src="figures/{html.escape(name)}"{m.group(2)}>'
    return re.sub(r'<img src="([^"]*)"([^>]*)>', img, fragment)


def verdict_badge(v: str) -> str:
    cls = re.sub(r"\W+", "-", v.strip().lower())
    return f'<span class="verdict v-{cls}">{html.escape(v)}</span>'


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return str(v)


def claims_table(paper: Paper, m: dict | None = None, sub: str = "") -> str:
    """The claims of ``reproductions/<slug>/<sub>metrics.json`` (the quick report, or ``paper/``'s)."""
    m = paper.metrics if m is None else m
    if not m:
        return '<p class="none">No committed report yet (<code>reproductions/' + paper.slug + "/</code>).</p>"
    rows = []
    for c in m.get("claims", []):
        src = html.escape(str(c.get("source", "")))
        rows.append("<tr>"
                    f'<td><span class="cid">{html.escape(str(c.get("id", "")))}</span><br>'
                    f'<span class="src">{src}</span></td>'
                    f'<td>{html.escape(str(c.get("statement", "")))}'
                    f'<div class="metric">{html.escape(str(c.get("metric", "")))}</div></td>'
                    f'<td class="num">{html.escape(fmt(c.get("paper")))}</td>'
                    f'<td class="num">{html.escape(fmt(c.get("ours")))}</td>'
                    f'<td>{verdict_badge(str(c.get("verdict", "")))}'
                    f'<div class="criterion">{html.escape(str(c.get("criterion", "")))}</div></td>'
                    f'<td class="note">{html.escape(str(c.get("note", "")))}</td></tr>')
    env = m.get("environment", {})
    meta = [f'preset <b>{html.escape(str(m.get("preset", "?")))}</b>']
    if env.get("wall_seconds") is not None:
        meta.append(f'{float(env["wall_seconds"]):.0f} s')
    if env.get("device"):
        meta.append(html.escape(f'{env["device"]}' + (f', {env["cpu_threads"]} threads' if env.get("cpu_threads") else "")))
    if env.get("commit"):
        meta.append(f'commit <code>{html.escape(str(env["commit"])[:12])}</code>')
    note = f'<p class="data-note">{html.escape(m["data_note"])}</p>' if m.get("data_note") else ""
    return (f'<p class="run-meta">From <code>reproductions/{paper.slug}/{sub}metrics.json</code>: '
            + " · ".join(meta) + f"</p>{note}"
            '<div class="table-wrap"><table class="claims"><colgroup><col style="width:15%"><col style="width:27%">'
            '<col style="width:11%"><col style="width:11%"><col style="width:16%"><col style="width:20%"></colgroup>'
            "<thead><tr><th>claim</th><th>statement</th>"
            "<th>paper</th><th>ours</th><th>verdict</th><th>note</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>")


def figures(paper: Paper, out: Path, m: dict | None = None, sub: str = "") -> str:
    m = (paper.metrics if m is None else m) or {}
    figs = m.get("figures") or []
    items = []
    for f in figs:
        name = f.get("file") if isinstance(f, dict) else str(f)
        cap = f.get("caption", "") if isinstance(f, dict) else ""
        srcf = ROOT / "reproductions" / paper.slug / sub / name
        name = sub + name
        if not srcf.is_file():
            continue
        dst = out / paper.slug / "figures" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(srcf, dst)
        items.append(f'<figure><a href="figures/{html.escape(name)}"><img loading="lazy" src="figures/{html.escape(name)}" '
                     f'alt="{html.escape(cap or name)}"></a><figcaption>'
                     f'{html.escape(cap)}</figcaption></figure>')
    return '<div class="figures">' + "".join(items) + "</div>" if items else ""


def cited_html(where: list[tuple[str, str]]) -> str:
    """[(href, "model.py · ResNet"), ...] -> "model.py: ResNet, conv3x3 · paper page: claims table"."""
    groups: dict[str, list[str]] = {}
    for href, label in dict.fromkeys(where):
        file, sep, what = label.partition(" · ")
        if not sep:
            file, what = "this page", label
        groups.setdefault(file, []).append(f'<a href="{href}">{html.escape(what)}</a>')
    return " · ".join(f'<span class="cf">{html.escape(f)}</span> ' + ", ".join(links) for f, links in groups.items())


def structure_index(paper: Paper) -> tuple[str, bool]:
    st = paper.structure
    titled = {"sec": st.get("sections", {}), "eq": st.get("equations", {}), "fig": st.get("figures", {}),
              "table": st.get("tables", {}), "alg": st.get("algorithms", {})}
    keys = set(paper.cited)
    for kind, entries in titled.items():
        keys |= {(kind, n) for n in entries}
    has_math = False
    groups = []
    for kind, label in KINDS.items():
        ks = sorted((k for k in keys if k[0] == kind), key=lambda k: sort_key(*k))
        if not ks:
            continue
        items = []
        for k in ks:
            entry = titled[kind].get(k[1], {})
            if isinstance(entry, str):
                entry = {"title": entry}
            title = html.escape(entry.get("title", ""))
            tex = entry.get("tex")
            math = f'<span class="math display">\\[{html.escape(tex)}\\]</span>' if tex else ""
            has_math |= bool(tex)
            where = paper.cited.get(k, [])
            cites = cited_html(where) if where else '<span class="none">not cited in the code</span>'
            items.append(f'<li id="{ref_anchor(*k)}"><span class="rk">{ref_label(*k)}</span> '
                         f'<span class="rt">{title}</span>{math}<div class="cited">{cites}</div></li>')
        groups.append(f'<div class="sgroup"><h3>{label}</h3><ul class="structure">{"".join(items)}</ul></div>')
    return "".join(groups), has_math


def render_paper_page(paper: Paper, out: Path) -> str:
    links = "".join(f'<a class="filelink" href="{page_name(f)}">{f.name}</a>' for f in paper.files)
    cmap = readme_section(paper.readme, "Paper → code", "Paper -> code", "Paper to code", "Paper-to-code")
    devs = readme_section(paper.readme, "Deviations")

    def cite(fragment, anchor, label):
        found: list = []
        out = link_refs(fragment, "", paper.foreign, found)
        for key in dict.fromkeys(found):
            paper.cited[key].append((f"#{anchor}", label))
        return out

    def md(text, anchor, label):
        frag = fix_readme_links(render_prose(text), paper, out)
        return cite(link_symbols(frag, paper), anchor, label)
    summary = f'<p class="summary">{cite(html.escape(paper.summary), "top", "summary")}</p>' \
        if paper.summary else ""
    claims = cite(claims_table(paper), "claims", "claims table")
    figs = cite(figures(paper, out), "claims", "figures")
    gpu = ROOT / "reproductions" / paper.slug / "paper" / "metrics.json"   # a paper-preset run (DESIGN "GPU runs")
    if gpu.is_file():
        pm = json.loads(gpu.read_text())
        figs += ('<h3 id="paper-preset">The paper preset</h3>'
                 + cite(claims_table(paper, pm, "paper/"), "paper-preset", "paper-preset claims")
                 + cite(figures(paper, out, pm, "paper/"), "paper-preset", "paper-preset figures"))
    cmap_html = md(cmap, "code-map", "paper → code map") if cmap else \
        '<p class="none">The README has no paper → code map.</p>'
    devs_html = md(devs, "deviations", "deviations") if devs else \
        '<p class="none">The README has no deviations table.</p>'
    struct, struct_math = structure_index(paper)
    toc = ('<nav class="toc"><a href="#claims">Claims</a><a href="#code-map">Paper → code</a>'
           '<a href="#deviations">Deviations</a><a href="#structure">Paper structure</a></nav>')
    body = f"""<main class="paper" id="top">
<h1>{html.escape(paper.title)}</h1>
<p class="citation">{html.escape(paper.citation)}</p>
{summary}
<p class="files-line">Read the code: {links}</p>
{toc}
<h2 id="claims">Claims and verdicts</h2>
{claims}
{figs}
<h2 id="code-map">Paper → code</h2>
<div class="md">{cmap_html}</div>
<h2 id="deviations">Deviations</h2>
<div class="md">{devs_html}</div>
<h2 id="structure">Paper structure</h2>
<p class="hint">Every section, equation, figure and table the code cites, with the places that cite it.
References on the code pages link here.</p>
<div class="structure-index">{struct}</div>
</main>"""
    return layout(paper.title, body, 1, 'class="math' in body or struct_math, file_nav(paper, "index.html"))


def verdict_counts(paper: Paper) -> Counter:
    return Counter(str(c.get("verdict", "")) for c in (paper.metrics or {}).get("claims", []))


def render_index(papers: list[Paper]) -> str:
    rows, total = [], Counter()
    for p in papers:
        counts = verdict_counts(p)
        total += counts
        cells = "".join(f'<td class="num">{counts.get(v, 0) or ""}</td>' for v in VERDICTS)
        files = " ".join(f'<a href="{p.slug}/{page_name(f)}">{f.stem}</a>' for f in p.files
                         if f.name in FIRST_FILES[:3])
        rows.append(f'<tr><td><a class="ptitle" href="{p.slug}/index.html">{html.escape(p.title)}</a>'
                    f'<div class="cite">{html.escape(p.citation[:160])}{"…" if len(p.citation) > 160 else ""}</div></td>'
                    f'<td class="files">{files}</td>{cells}<td class="num">{sum(counts.values()) or "—"}</td></tr>')
    head = "".join(f'<th>{verdict_badge(v)}</th>' for v in VERDICTS)
    foot = "".join(f'<td class="num">{total.get(v, 0)}</td>' for v in VERDICTS)
    body = f"""<main class="paper index">
<h1>Ten papers, reproduced</h1>
<p class="summary">Each paper's code, read beside the paper: annotations and paper references on the left,
the code on the right; each paper's page has the claims of its committed reproduction with their verdicts.</p>
<div class="table-wrap"><table class="papers"><thead><tr><th>paper</th><th>code</th>{head}<th>claims</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
<tfoot><tr><td>all papers</td><td></td>{foot}<td class="num">{sum(total.values())}</td></tr></tfoot></table></div>
</main>"""
    return layout("Ten papers, reproduced", body, 0, False)


# -- static files -------------------------------------------------------------------------------------------

def mathjax_root() -> Path:
    import mathjax  # django-static-mathjax: the MathJax 3 distribution as package data
    root = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (root / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"MathJax not found at {root}; run `make install` (pip install -e '.[test]')")
    return root


def copy_static(out: Path) -> None:
    static = out / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DOCS / "style.css", static / "style.css")
    (static / "pygments.css").write_text(HtmlFormatter(style="default").get_style_defs(".code pre"))
    mj, dst = mathjax_root(), static / "mathjax"
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir()
    shutil.copyfile(mj / "tex-chtml.js", dst / "tex-chtml.js")
    for sub in ("output/chtml", "input/tex/extensions", "ui", "a11y"):
        shutil.copytree(mj / sub, dst / sub)
    shutil.copyfile(mj.parent / "LICENSE", dst / "LICENSE")


# The project's order (the Makefile's ALL_PAPERS): by the papers' history; unknown slugs go last.
ORDER = ("mcculloch_pitts", "backprop", "resnet", "yolo", "faster_rcnn", "transformer", "bert", "gpt", "vit",
         "gradcam")


def implemented_papers(root: Path = ROOT) -> list[Path]:
    pkgs = [p.parent for p in (root / "papers").glob("*/model.py")]
    return sorted(pkgs, key=lambda p: (ORDER.index(p.name) if p.name in ORDER else len(ORDER), p.name))


def build(out: Path = DEFAULT_OUT, papers: list[str] | None = None) -> list[Path]:
    """Write the site into ``out``; returns the pages written."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_static(out)
    written = []
    loaded = [load_paper(pkg) for pkg in implemented_papers() if papers is None or pkg.name in papers]
    for paper in loaded:
        (out / paper.slug).mkdir(parents=True, exist_ok=True)
        collect_symbols(paper)
        for py in paper.files:
            page, _ = render_code_page(paper, py)
            dst = out / paper.slug / page_name(py)
            dst.write_text(page, encoding="utf-8")
            written.append(dst)
        dst = out / paper.slug / "index.html"
        dst.write_text(render_paper_page(paper, out), encoding="utf-8")
        written.append(dst)
    (out / "index.html").write_text(render_index(loaded), encoding="utf-8")
    written.append(out / "index.html")
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--paper", action="append", help="only this paper (repeatable)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    pages = build(args.out, args.paper)
    print(f"wrote {len(pages)} pages to {args.out} in {time.perf_counter() - t0:.1f} s; "
          f"open {args.out / 'index.html'} or run `make docs-serve`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
