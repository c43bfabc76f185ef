"""Issue 17 lint: every public class and function in papers/*/model.py and loss.py cites the paper
(§, Eq., Fig., Table or Alg.) or says it has "no counterpart in the paper"."""
from pathlib import Path

import pytest

from docs.lint import ROOT, cites_paper, lint_file, linted_files

FILES = linted_files()


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_public_objects_cite_the_paper(path):
    offenders = lint_file(path)
    assert not offenders, "\n" + "\n".join(o.message() for o in offenders)


def test_lint_sees_every_paper():
    slugs = {p.parent.name for p in FILES}
    assert {p.parent.name for p in (ROOT / "papers").glob("*/model.py")} <= slugs
    assert {"resnet", "transformer", "gpt"} <= slugs


@pytest.mark.parametrize("doc", ["§3.2: the block.", "Eq. (1).", "Eqs. 3-4", "Fig. 5 right", "Figure 1e",
                                 "Table 1's networks", "Alg. 1", "Algorithm 2", "Sec. 2",
                                 "Weight import: no counterpart in the paper."])
def test_citations_accepted(doc):
    assert cites_paper(doc)


@pytest.mark.parametrize("doc", [None, "", "A helper.", "the table of results", "Figure it out", "see eq"])
def test_non_citations_rejected(doc):
    assert not cites_paper(doc)


def test_failure_message_names_the_object_and_the_fix(tmp_path):
    pkg = tmp_path / "papers" / "toy"
    pkg.mkdir(parents=True)
    (pkg / "model.py").write_text(
        'class Block:\n    """Fig. 2 left."""\n\n'
        'def helper(x):\n    return x\n\n'
        'def _private(x):\n    return x\n\n'
        'def documented(x):\n    """Returns x."""\n    return x\n\n'
        'def plumbing(x):\n    """Weight import; no counterpart in the paper."""\n    return x\n')
    offenders = lint_file(pkg / "model.py", root=tmp_path)
    assert [(o.name, o.line, o.has_docstring) for o in offenders] == [("helper", 4, False), ("documented", 10, True)]
    msg = offenders[0].message()
    assert msg.startswith("papers/toy/model.py:4: public function `helper` has no docstring")
    assert "no counterpart in the paper" in msg and "Eq. (1)" in msg and "`_helper`" in msg
