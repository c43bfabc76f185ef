"""Docstring lint: every public class and function in papers/*/model.py and loss.py cites the paper.

A docstring cites the paper when it names a section, equation, figure, table or algorithm
(``§3.2``, ``Eq. (1)``, ``Fig. 5``, ``Table 1``, ``Alg. 1``; ``Sec.``/``Section``/``Algorithm``/``Eqs.``/``Figs.``
are accepted too), or says plainly that the object has "no counterpart in the paper".
Public means a module-level ``def``/``class`` whose name does not start with ``_``.

    python -m docs.lint            # prints every offender with the fix; exit 1 if any
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What counts as a citation of the paper.
CITATION = re.compile(
    r"§\s*\d"                                             # §3.2
    r"|\b(?:Eqs?|Equations?)\.?\s*\(?\s*\d"               # Eq. (1), Eqs. 1-2, Equation 3
    r"|\b(?:Figs?|Figures?)\.?\s*\d"                      # Fig. 5, Figs. 1a-d
    r"|\bTables?\s+\d"                                    # Table 1
    r"|\b(?:Alg|Algorithm)\.?\s*\d"                       # Alg. 1, Algorithm 2
    r"|\b(?:Sec|Section)s?\.?\s*\d",                      # Sec. 2, Section 3.4
)
NO_COUNTERPART = re.compile(r"no\s+counterpart\s+in\s+the\s+paper", re.I)
LINTED_FILES = ("model.py", "loss.py")


@dataclass(frozen=True)
class Offender:
    path: str      # papers/<slug>/model.py
    line: int
    kind: str      # "class" | "function"
    name: str
    has_docstring: bool

    def message(self) -> str:
        what = "has a docstring that cites nothing" if self.has_docstring else "has no docstring"
        return (f"{self.path}:{self.line}: public {self.kind} `{self.name}` {what}. Fix: give it a docstring that "
                f"cites the paper (§3.2, Eq. (1), Fig. 5, Table 1 or Alg. 1), or, if it is plumbing, one that says "
                f"it has \"no counterpart in the paper\" (or rename it `_{self.name}` if it is private).")


def cites_paper(doc: str | None) -> bool:
    return bool(doc) and bool(CITATION.search(doc) or NO_COUNTERPART.search(doc))


def lint_file(path: Path, root: Path = ROOT) -> list[Offender]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    out = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if node.name.startswith("_"):
            continue
        doc = ast.get_docstring(node)
        if not cites_paper(doc):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            out.append(Offender(rel, node.lineno, kind, node.name, doc is not None))
    return out


def linted_files(root: Path = ROOT) -> list[Path]:
    return sorted(p for name in LINTED_FILES for p in (root / "papers").glob(f"*/{name}"))


def lint(root: Path = ROOT) -> list[Offender]:
    return [o for p in linted_files(root) for o in lint_file(p, root)]


def main() -> int:
    offenders = lint()
    for o in offenders:
        print(o.message())
    n = len(linted_files())
    print(f"{len(offenders)} offender(s) in {n} file(s)" if offenders else f"all public objects cite the paper ({n} files)")
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main())
