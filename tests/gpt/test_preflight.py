"""Every file a GPT run reads is located before pre-training (issue 11, item 3): a missing TREC test
file is reported at once, not after the whole pre-training; unknown names are one-line config errors."""
import pytest

from papers.gpt import reproduce
from shared.config import ConfigError
from shared.data.registry import DataError


def test_missing_trec_test_file_is_reported_before_pre_training(no_data_env):
    data = no_data_env / "d"
    (data / "trec_qc").mkdir(parents=True)
    (data / "trec_qc" / "train.txt").write_text("DESC:def What is a cat ?\n")
    with pytest.raises(DataError, match="trec_qc/test.txt is missing"):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "r"), "--data-dir", str(data)])
    assert not (no_data_env / "r" / "pretrain").exists()  # nothing was trained


@pytest.mark.parametrize("sets, match", [(["tokenizer=wordpiece"], "tokenizer"),
                                         (["corpus=/no/such/corpus.txt"], "corpus"),
                                         (["task=mnli"], "task")])
def test_unknown_names_are_config_errors_before_anything_is_written(no_data_env, sets, match):
    with pytest.raises(ConfigError, match=match):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "r")] + [a for s in sets for a in ("--set", s)])
    assert not (no_data_env / "r").exists()
