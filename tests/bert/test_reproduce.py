"""The presets pinned to App. A.2 / §4.1, and reproduce.py end to end (smoke; paper preset at toy size)."""
import json

import pytest

from papers.bert import reproduce
from papers.bert.reproduce import PRESETS


def test_paper_preset_is_appendix_a2():
    p = PRESETS["paper"]
    assert (p.variant, p.vocab_size, p.batch_size, p.max_steps, p.lr, p.warmup_steps, p.weight_decay) == \
        ("bert-base", 30522, 256, 1_000_000, 1e-4, 10_000, 0.01)
    assert p.seq_lengths == (128, 512) and p.phase_fractions == (0.9, 0.1)     # 90% at 128, then 512
    assert p.dupe_factor == 10 and p.static_masking and p.arms == ("bert",) and p.ltr_predict_fraction == 1.0
    assert (p.ft_batch_size, p.ft_epochs, p.ft_lr) == (32, 3.0, 5e-5)
    q = PRESETS["quick"]
    assert (q.variant, q.seq_lengths, q.batch_size, q.max_steps, q.ft_seeds) == ("bert-cpu", (64,), 32, 1000, 3)
    assert q.arms == ("bert", "no_nsp", "ltr") and q.tasks == ("sst2", "trec")


def test_smoke_run_end_to_end(no_data_env):
    out = no_data_env / "run"
    reproduce.main(["--preset", "smoke", "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    assert m["paper"] == "bert" and m["preset"] == "smoke"
    assert m["environment"]["data"] == {"gutenberg": "synthetic", "sst2": "synthetic", "trec_qc": "synthetic"}
    ids = {c["id"] for c in m["claims"]}
    assert {"mlm_mask_rate", "mlm_split_80_10_10", "nsp_50_50", "mlm_beats_unigram", "nsp_above_chance",
            "pretraining_helps_sst2", "pretraining_helps_trec", "ablation_no_nsp_sst2", "ablation_ltr_sst2",
            "ablation_ltr_trec"} <= ids
    helps = next(c for c in m["claims"] if c["id"] == "pretraining_helps_sst2")
    assert helps["criterion"]["kind"] == "compare" and len(helps["criterion"]["a"]) == 3   # 3 paired seeds
    mask = m["results"]["pretrain"]["bert"]["masking"]
    assert mask["specials_chosen"] == 0 and mask["chosen"] > 0
    assert (out / "README.md").read_text().startswith("# BERT")
    assert (out / "pretrain_curves.png").is_file() and (out / "finetune_acc.png").is_file()
    assert (out / "pretrain" / "tokenizer.json").is_file()
    assert not list(out.glob("finetune/**/checkpoint.pt"))


def test_paper_preset_at_toy_size(no_data_env):
    out = no_data_env / "paper"
    toy = ["variant=bert-cpu", "L=1", "H=16", "A=2", "vocab_size=200", "max_steps=6", "seq_lengths=16,32",
           "batch_size=4", "warmup_steps=1", "eval_every=3", "eval_batches=1", "dupe_factor=2", "ft_epochs=1",
           "ft_max_train=40", "ft_max_test=20", "ft_batch_size=8", "ft_max_len=24", "tasks=sst2"]
    reproduce.main(["--preset", "paper", "--out", str(out)] + [a for kv in toy for a in ("--set", kv)])
    m = json.loads((out / "metrics.json").read_text())
    claims = {c["id"]: c for c in m["claims"]}
    assert claims["nsp_final_accuracy"]["paper"] == 0.975
    assert claims["sst2_absolute"]["paper"] == 0.935
    assert claims["mlm_mask_rate"]["paper"] == 0.15 and claims["mlm_split_80_10_10"]["paper"] == 0.8
    assert not any(k.startswith("ablation_") for k in claims)                 # the paper preset pre-trains BERT only
    assert m["config"]["static_masking"] and m["config"]["lr"] == 1e-4
    log = [json.loads(x) for x in (out / "pretrain" / "bert" / "phase1" / "log.jsonl").read_text().splitlines()]
    assert log and (out / "pretrain" / "bert" / "phase0" / "log.jsonl").is_file()   # 128-then-512, at toy size


def test_bad_arm_is_named(no_data_env):
    with pytest.raises(ValueError, match="arms"):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "r"), "--set", "arms=bert,gpt"])
