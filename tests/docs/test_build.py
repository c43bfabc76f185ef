"""Issue 17: the renderer's parts (no browser): sections, references, math, README extraction."""
from docs import build as B

SRC = '''"""Module docstring citing §3.2 and Eq. (1)."""
import torch

# -- blocks (Fig. 5) -----------------------------------------------

# A comment before the class,
# on two lines.
class Block:
    """Fig. 5 left: $y = F(x) + x$."""

    def __init__(self):
        self.a = 1  # Table 1

    def forward(self, x):
        """Eq. (1)."""
        return x


def helper(x):
    return x
'''


def test_sections_move_docstrings_beside_their_defs():
    secs = B.sections_of(SRC)
    assert secs[0].prose == ["Module docstring citing §3.2 and Eq. (1)."]
    assert [SRC.split("\n")[i - 1] for i in secs[0].code] == ["import torch"]
    block = next(s for s in secs if s.anchor == "Block")
    assert block.heading == "blocks (Fig. 5)"
    assert block.prose == ["A comment before the class,\non two lines.", "Fig. 5 left: $y = F(x) + x$."]
    lines = [SRC.split("\n")[i - 1].strip() for i in block.code]
    assert lines[0] == "class Block:" and '"""Fig. 5 left: $y = F(x) + x$."""' not in lines
    assert "def __init__(self):" in lines                  # an undocumented method stays with its class
    assert block.anchors[next(i for i in block.code if "__init__" in SRC.split("\n")[i - 1])] == "Block.__init__"
    fwd = next(s for s in secs if s.anchor == "Block.forward")
    assert fwd.prose == ["Eq. (1)."]
    assert any(s.anchors.get(ln) == "helper" or s.anchor == "helper" for s in secs for ln in s.code)


def test_references_become_links_and_are_recorded():
    found = []
    html = B.link_refs("see §3.2.1, Eq. (3), Fig. 1e, Table 2 and Alg. 1; not [13]: Eq. (14)", "index.html", [], found)
    assert found == [("sec", "3.2.1"), ("eq", "3"), ("fig", "1"), ("table", "2"), ("alg", "1")]
    assert '<a class="ref" href="index.html#sec-3.2.1">§3.2.1</a>' in html
    assert '<a class="ref" href="index.html#fig-1">Fig. 1</a>e' in html
    assert "Eq. (14)" in html and "#eq-14" not in html      # another paper's equation stays plain
    assert B.link_refs("GPT-2 §2.3", "", ["GPT-2"]) == "GPT-2 §2.3"
    assert B.link_refs("[13]: Eq. (14) / Eq. (10); Eq. (2)", "", []).count("<a ") == 1    # Eq. (2) only
    assert B.link_refs('<a href="x">§1</a> <code>§2</code>', "", []).count("<a ") == 2


def test_math_is_protected_from_markdown():
    out = B.render_prose(r"Inline $a_i * b_i$, display $$\sum_i x_i$$ and \(W^Q\); costs $5 and $6 stay.")
    assert r'<span class="math">\(a_i * b_i\)</span>' in out
    assert r'<span class="math display">\[\sum_i x_i\]</span>' in out
    assert r'<span class="math">\(W^Q\)</span>' in out
    assert "$5 and $6" in out
    assert "<em>" not in B.render_prose("z'_l = MSA(LN(z_{l-1})) + z_{l-1}, d_model")   # underscores stay
    assert "<em>two</em>" in B.render_prose("needs *two* synapses")


def test_readme_sections_and_symbol_links(tmp_path):
    readme = "# T\n\n## Paper → code\n\n| paper | code |\n|---|---|\n| Eq. (1) | `Block.forward` |\n\n## Deviations\n\nx\n"
    assert B.readme_section(readme, "Paper → code").startswith("| paper | code |")
    assert B.readme_section(readme, "Deviations") == "x"
    paper = B.Paper("toy", "T", "T", "", "", [], None, readme, {}, [])
    paper.symbols = {"Block.forward": "model.html#Block.forward"}
    html = B.link_symbols(B.render_prose(B.readme_section(readme, "Paper → code")), paper)
    assert '<a class="sym" href="model.html#Block.forward"><code>Block.forward</code></a>' in html


def test_readme_links_point_at_pages_or_become_text(tmp_path):
    paper = B.load_paper(B.ROOT / "papers" / "resnet")
    html = B.fix_readme_links(B.render_prose(
        "[m](model.py) [r](../../reproductions/resnet/README.md) [t](../../tests/resnet/test_model.py) "
        "[w](https://arxiv.org/abs/1512.03385) ![f](../../reproductions/resnet/fig6.png) ![g](missing.png)"),
        paper, tmp_path)
    assert '<a href="model.html">m</a>' in html and '<a href="index.html#claims">r</a>' in html
    assert '<span class="path" title="../../tests/resnet/test_model.py">t</span>' in html
    assert '<a href="https://arxiv.org/abs/1512.03385">w</a>' in html
    assert '<img src="figures/readme-fig6.png" alt="f" />' in html and (tmp_path / "resnet/figures/readme-fig6.png").is_file()
    assert "<span class=\"path\">[missing.png]</span>" in html and "missing.png\"" not in html
