"""--resume on a paper without checkpoints says plainly that it does not apply, and never duplicates
the log (issue 11, item 5); a rerun into its own run folder replaces the earlier run cleanly."""
import json

from papers.mcculloch_pitts import reproduce


def test_resume_does_not_apply_and_never_duplicates_the_log(no_data_env, capsys):
    out = no_data_env / "run"
    reproduce.main(["--preset", "smoke", "--out", str(out)])
    first = (out / "log.jsonl").read_text().splitlines()
    capsys.readouterr()
    reproduce.main(["--preset", "smoke", "--out", str(out), "--resume"])
    assert "there is nothing to resume" in capsys.readouterr().err
    again = (out / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["check"] for x in again] == [json.loads(x)["check"] for x in first]
    m = json.loads((out / "metrics.json").read_text())
    assert any("--resume did not apply" in n for n in m["notes"])
