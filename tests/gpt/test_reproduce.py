"""Schedules, and an end-to-end smoke run of reproduce.py and the sampling CLI on the embedded default data."""
import json

import pytest

from papers.gpt import reproduce, sample
from papers.gpt.reproduce import PRESETS, warmup_cosine, warmup_linear


def test_gpt1_learning_rate_schedule():
    # §4.1: linear from 0 over 2,000 updates to 2.5e-4, cosine to 0
    kw = dict(warmup=2000, total=100_000, max_lr=2.5e-4)
    assert warmup_cosine(0, **kw) == 0.0
    assert warmup_cosine(2000, **kw) == pytest.approx(2.5e-4)
    assert warmup_cosine(1000, **kw) == pytest.approx(1.25e-4)
    assert warmup_cosine(100_000, **kw) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine(51_000, **kw) == pytest.approx(1.25e-4)
    assert warmup_linear(0, 2, 100, 1.0) == 0.5 and warmup_linear(100, 2, 100, 1.0) == 0.0


def test_paper_preset_is_gpt1_recipe():
    p = PRESETS["paper"]
    assert (p.variant, p.tokenizer, p.bpe_merges, p.batch_size, p.lr, p.warmup_steps, p.min_lr) == \
        ("gpt1", "bpe", 40000, 64, 2.5e-4, 2000, 0.0)
    assert (p.ft_lr, p.ft_batch_size, p.ft_epochs, p.ft_warmup, p.ft_lambda, p.weight_decay) == \
        (6.25e-5, 32, 3.0, 0.002, 0.5, 0.01)
    q = PRESETS["quick"]
    assert (q.batch_size, q.max_steps, q.variant) == (12, 2000, "nanogpt-cpu")


def test_smoke_run_end_to_end(no_data_env, capsys):
    out = no_data_env / "run"
    reproduce.main(["--preset", "smoke", "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    assert m["paper"] == "gpt" and m["preset"] == "smoke"
    assert {c["id"] for c in m["claims"]} == {"nanogpt_cpu_val_loss", "pretraining_helps", "aux_lm_small_data"}
    assert m["environment"]["data"] == {"tinyshakespeare": "synthetic", "trec_qc": "synthetic"}
    assert (out / "README.md").read_text().startswith("# GPT")
    assert (out / "pretrain_loss.png").is_file() and (out / "finetune_acc.png").is_file()
    assert set(m["results"]["finetune"]) == {"pretrained_aux", "pretrained_noaux", "scratch_aux"}
    # sampling from the command line, from the run's checkpoint
    text = sample.main(["--run", str(out), "--prompt", "To be", "--max-new-tokens", "30", "--temperature", "0.9",
                        "--top-k", "5", "--device", "cpu"])
    assert text.startswith("To be") and len(text) == 35
    assert sample.main(["--run", str(out), "--prompt", "To", "--max-new-tokens", "5", "--greedy"]) == \
        sample.main(["--run", str(out), "--prompt", "To", "--max-new-tokens", "5", "--greedy"])
    with pytest.raises(FileNotFoundError, match="--run"):
        sample.main(["--run", str(no_data_env / "missing")])


def test_bad_task_is_named(no_data_env):
    with pytest.raises(ValueError, match="task"):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "r"), "--set", "task=mnli",
                        "--set", "max_steps=1"])


def test_bad_fine_tuning_run_is_named(no_data_env):
    with pytest.raises(ValueError, match="ft_runs"):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "r"), "--set", "ft_runs=pretrained,scratch"])
