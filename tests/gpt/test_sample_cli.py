"""The sampling CLI validates its numbers before loading anything, and maps out-of-vocabulary prompt
characters with a CLI option (issue 11, item 8)."""
import pytest
import torch

from papers.gpt import sample
from papers.gpt.data import CharTokenizer
from papers.gpt.model import build, save_config
from shared.checkpoint import save_checkpoint


@pytest.fixture
def run_dir(tmp_path):
    """A tiny finished run folder: pretrain/{gpt_config.json, tokenizer.json, checkpoint.pt}."""
    tok = CharTokenizer(sorted(set("abc \n")))
    model = build("nanogpt-cpu", n_layer=1, n_head=2, d_model=8, d_ff=16, n_ctx=8, vocab_size=tok.vocab_size)
    d = tmp_path / "run" / "pretrain"
    d.mkdir(parents=True)
    save_config(model.cfg, d / "gpt_config.json")
    tok.save(d / "tokenizer.json")
    save_checkpoint({"model": model.state_dict()}, d / "checkpoint.pt")
    return tmp_path / "run"


@pytest.mark.parametrize("flag, value, text", [
    ("--temperature", "nan", "--temperature nan"), ("--temperature", "inf", "--temperature inf"),
    ("--temperature", "0", "--temperature 0"), ("--temperature", "-1", "--temperature -1"),
    ("--top-k", "-1", "--top-k -1"), ("--max-new-tokens", "-5", "--max-new-tokens -5"),
    ("--num-samples", "0", "--num-samples 0"), ("--seed", "-1", "--seed -1")])
def test_bad_numbers_are_refused_before_loading(tmp_path, capsys, flag, value, text):
    with pytest.raises(SystemExit) as e:
        sample.main(["--run", str(tmp_path / "missing"), flag, value])  # refused before --run is read
    assert e.value.code == 2 and text in capsys.readouterr().err


def test_out_of_vocabulary_prompt(run_dir, capsys):
    with pytest.raises(SystemExit) as e:
        sample.main(["--run", str(run_dir), "--prompt", "abXc", "--max-new-tokens", "2", "--device", "cpu"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "'X'" in err and "--unknown drop" in err and "with_specials" not in err
    text = sample.main(["--run", str(run_dir), "--prompt", "abXc", "--max-new-tokens", "2", "--unknown", "drop",
                        "--device", "cpu"])
    assert text.startswith("abc") and len(text) == 5
