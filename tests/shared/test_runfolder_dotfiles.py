"""A fresh run clears an earlier run's artifacts but keeps the folder's dotfiles (a tracked .gitignore)."""
import json

from shared import runfolder


def test_overwrite_clears_artifacts_but_keeps_dotfiles(tmp_path):
    out = tmp_path / "reproductions" / "toy"
    out.mkdir(parents=True)
    (out / "metrics.json").write_text(json.dumps({"paper": "toy", "preset": "quick"}))
    (out / "config.json").write_text(json.dumps({"paper": "toy", "preset": "quick"}))
    (out / ".gitignore").write_text("*.pt\n")
    (out / "old.png").write_text("x")
    (out / "finetune").mkdir()
    prep = runfolder.prepare(out, "toy", "quick", 0, {}, overwrite=True)
    runfolder.clear(out, prep)
    assert sorted(p.name for p in out.iterdir()) == [".gitignore"]


def test_overwrite_keeps_a_longer_report_kept_beside_the_quick_one(tmp_path):
    """`make resnet ARGS=--overwrite` must not delete reproductions/resnet/fig6/ (another preset's report)."""
    out = tmp_path / "reproductions" / "toy"
    (out / "fig6").mkdir(parents=True)
    (out / "metrics.json").write_text(json.dumps({"paper": "toy", "preset": "quick"}))
    (out / "fig6" / "metrics.json").write_text(json.dumps({"paper": "toy", "preset": "fig6"}))
    (out / "runs").mkdir()                                        # the quick run's own sub-folders go
    prep = runfolder.prepare(out, "toy", "quick", 0, {}, overwrite=True)
    runfolder.clear(out, prep)
    assert sorted(p.name for p in out.iterdir()) == ["fig6"]
