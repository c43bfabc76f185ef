"""The presets pinned to the paper (GPT-1 §4.1) and to nanoGPT's CPU recipe, schedules, the claim builders,
and end-to-end runs of reproduce.py (smoke, and the paper preset at toy size) on the embedded default data."""
import json

import pytest

from papers.gpt import reproduce, sample
from papers.gpt.reproduce import PRESETS, finetuning_claims, pretraining_claims, warmup_cosine, warmup_linear


def test_gpt1_learning_rate_schedule():
    # §4.1: linear from 0 over 2,000 updates to 2.5e-4, cosine to 0
    kw = dict(warmup=2000, total=100_000, max_lr=2.5e-4)
    assert warmup_cosine(0, **kw) == 0.0
    assert warmup_cosine(2000, **kw) == pytest.approx(2.5e-4)
    assert warmup_cosine(1000, **kw) == pytest.approx(1.25e-4)
    assert warmup_cosine(100_000, **kw) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine(51_000, **kw) == pytest.approx(1.25e-4)
    assert warmup_linear(0, 2, 100, 1.0) == 0.5 and warmup_linear(100, 2, 100, 1.0) == 0.0


def test_paper_preset_is_gpt1_section_4_1():
    """Every hyper-parameter of the paper preset against GPT-1 §4.1 (values typed from the paper)."""
    p = PRESETS["paper"]
    m = p.model
    # "12-layer decoder-only transformer with masked self-attention heads (768 dimensional states and 12 attention
    # heads)", "3072 dimensional inner states", GELU, learned position embeddings, "sequences of 512 tokens"
    assert (m.n_layer, m.d_model, m.n_head, m.d_ff, m.n_ctx) == (12, 768, 12, 3072, 512)
    assert m.activation.startswith("gelu") and not m.pre_ln and not m.final_ln and m.tie_weights
    # "N(0, 0.02)"; "residual, embedding, and attention dropouts with a rate of 0.1"
    assert (m.init_std, m.dropout) == (0.02, 0.1)
    # "bytepair encoding (BPE) vocabulary with 40,000 merges"
    assert (p.tokenizer, p.bpe_merges) == ("bpe", 40000)
    # Adam, "max learning rate of 2.5e-4 ... increased linearly from zero over the first 2000 updates and annealed
    # to 0 using a cosine schedule"; "100 epochs on minibatches of 64 randomly sampled, contiguous sequences"
    assert (p.lr, p.warmup_steps, p.min_lr, p.epochs, p.batch_size) == (2.5e-4, 2000, 0.0, 100.0, 64)
    assert p.warmup_from_zero and p.sampling == "epoch"  # 100 passes over the corpus
    # "modified version of L2 regularization ... with w = 0.01 on all non bias or gain weights"
    assert p.weight_decay == 0.01
    # fine-tuning: "learning rate of 6.25e-5 and a batchsize of 32 ... 3 epochs ... linear learning rate decay
    # schedule with warmup over 0.2% of training. lambda was set to 0.5"; "dropout to the classifier with a rate of 0.1"
    assert (p.ft_lr, p.ft_batch_size, p.ft_epochs, p.ft_warmup, p.ft_lambda, p.clf_dropout) == \
        (6.25e-5, 32, 3.0, 0.002, 0.5, 0.1)
    # fine-tuning reuses the pre-training settings otherwise
    assert (p.ft_weight_decay, p.ft_beta2) == (0.01, 0.999)
    assert p.anchor == "gpt1" and p.task == "sst2"


def test_quick_preset_is_nanogpt_cpu_recipe():
    """nanoGPT's README CPU command (--block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
    --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0 --eval_iters=20) on config/train_shakespeare_char.py
    (learning_rate 1e-3, min_lr 1e-4, beta2 0.99, warmup_iters 100, eval_interval 250) and train.py's defaults
    (weight_decay 0.1, grad_clip 1.0, bias False); model.py: MLP 4 x n_embd with nn.GELU() (exact), GPT-2 block."""
    q = PRESETS["quick"]
    m = q.model
    assert (m.n_layer, m.n_head, m.d_model, m.n_ctx, m.dropout, m.bias) == (4, 4, 128, 64, 0.0, False)
    assert m.d_ff == 4 * 128 and m.activation == "gelu"
    assert (m.pre_ln, m.final_ln, m.scaled_residual_init, m.tie_weights, m.init_std) == (True, True, True, True, 0.02)
    assert (q.batch_size, q.max_steps, q.lr, q.min_lr, q.warmup_steps) == (12, 2000, 1e-3, 1e-4, 100)
    assert (q.beta2, q.weight_decay, q.grad_clip, q.grad_accum) == (0.99, 0.1, 1.0, 1)
    assert (q.eval_every, q.eval_batches, q.train_fraction, q.tokenizer, q.epochs) == (250, 20, 0.9, "char", 0.0)
    assert q.sampling == "random"  # get_batch: torch.randint(len(data) - block_size, (batch_size,))
    assert q.anchor == "nanogpt-cpu" and q.ft_seeds >= 3


def test_quick_schedule_is_nanogpt_get_lr():
    # nanoGPT train.py get_lr(it): warm-up lr * (it + 1) / (warmup_iters + 1), then cosine from lr to min_lr
    q = PRESETS["quick"]
    lr = lambda s: warmup_cosine(s, q.warmup_steps, q.max_steps, q.lr, q.min_lr, q.warmup_from_zero)  # noqa: E731
    assert lr(0) == pytest.approx(1e-3 / 101) and lr(99) == pytest.approx(1e-3 * 100 / 101)
    assert lr(100) == pytest.approx(1e-3) and lr(1050) == pytest.approx(5.5e-4) and lr(2000) == pytest.approx(1e-4)


def _fake_runs(accs: dict[str, list[float]]):
    return {arm: [{"seed": i, "test_acc": a, "history": [{"step": 1, "val_acc": a}]} for i, a in enumerate(v)]
            for arm, v in accs.items()}


def test_claim_builders_of_every_preset():
    pre = dict(val_full=1.9, max_steps=2000, train_time=100.0)
    runs = _fake_runs({"pretrained_aux": [0.80, 0.82, 0.81], "pretrained_noaux": [0.80, 0.815, 0.81],
                       "scratch_aux": [0.60, 0.63, 0.61]})
    quick, paper = PRESETS["quick"], PRESETS["paper"]
    # the quick preset claims nanoGPT's CPU number and Table 5; never GPT-1's §4.1 or Table 4 numbers
    q = pretraining_claims(quick, pre) + finetuning_claims(quick, runs, 500)
    assert [(c["id"], c["paper"]) for c in q] == [("nanogpt_cpu_val_loss", 1.88), ("pretraining_helps", 14.8),
                                                  ("aux_lm_small_data", -0.3)]
    assert [c["verdict"] for c in q] == ["reproduced", "reproduced", "reproduced"]
    # the paper preset claims the paper's own numbers: §4.1 perplexity 18.4, Table 5, Table 4 SST-2 91.3
    p = pretraining_claims(paper, pre) + finetuning_claims(paper, runs, 872)
    assert [(c["id"], c["paper"]) for c in p] == [("gpt1_pretraining_perplexity", 18.4), ("pretraining_helps", 14.8),
                                                  ("aux_lm_small_data", -0.3), ("gpt1_sst2", 91.3)]
    assert "nanogpt" not in json.dumps(p).lower()


def test_comparative_claims_are_paired_and_two_sided():
    quick = PRESETS["quick"]
    # +5.6 points with a spread as large: inconclusive, never "partially"
    c = finetuning_claims(quick, _fake_runs({"pretrained_aux": [0.70, 0.78, 0.70], "scratch_aux": [0.66, 0.66, 0.69]}),
                          500)[0]
    assert c["id"] == "pretraining_helps" and c["verdict"] == "inconclusive"
    assert c["criterion"]["kind"] == "compare" and c["criterion"]["paired"]
    # the aux LM helping clearly contradicts "no gain" (two-sided) ...
    helps = finetuning_claims(quick, _fake_runs({"pretrained_aux": [0.80, 0.81, 0.82],
                                                 "pretrained_noaux": [0.70, 0.71, 0.72]}), 500)[0]
    assert helps["verdict"] == "not reproduced" and helps["criterion"]["kind"] == "equivalent"
    # ... and so does it hurting clearly
    hurts = finetuning_claims(quick, _fake_runs({"pretrained_aux": [0.70, 0.71, 0.72],
                                                 "pretrained_noaux": [0.80, 0.81, 0.82]}), 500)[0]
    assert hurts["verdict"] == "not reproduced"


def test_smoke_run_end_to_end(no_data_env, capsys):
    out = no_data_env / "run"
    reproduce.main(["--preset", "smoke", "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    assert m["paper"] == "gpt" and m["preset"] == "smoke"
    assert [c["id"] for c in m["claims"]] == ["nanogpt_cpu_val_loss", "pretraining_helps", "aux_lm_small_data"]
    assert m["environment"]["data"] == {"tinyshakespeare": "synthetic", "trec_qc": "synthetic"}
    assert (out / "README.md").read_text().startswith("# GPT")
    assert (out / "pretrain_loss.png").is_file() and (out / "finetune_acc.png").is_file()
    ft = m["results"]["finetune"]
    assert set(ft["runs"]) == {"pretrained_aux", "pretrained_noaux", "scratch_aux"}
    assert all([r["seed"] for r in rs] == [0, 1, 2] for rs in ft["runs"].values())  # 3 seeds, shared by the arms
    # sampling from the command line, from the run's checkpoint
    text = sample.main(["--run", str(out), "--prompt", "To be", "--max-new-tokens", "30", "--temperature", "0.9",
                        "--top-k", "5", "--device", "cpu"])
    assert text.startswith("To be") and len(text) == 35
    assert sample.main(["--run", str(out), "--prompt", "To", "--max-new-tokens", "5", "--greedy"]) == \
        sample.main(["--run", str(out), "--prompt", "To", "--max-new-tokens", "5", "--greedy"])
    with pytest.raises(FileNotFoundError, match="--run"):
        sample.main(["--run", str(no_data_env / "missing")])


def test_paper_preset_at_toy_size_claims_the_papers_numbers(no_data_env):
    out = no_data_env / "paper"
    toy = ["model.n_layer=1", "model.n_head=2", "model.d_model=16", "model.d_ff=32", "model.n_ctx=32",
           "bpe_merges=40", "epochs=0", "max_steps=4", "batch_size=4", "eval_every=2", "eval_batches=1",
           "sample_tokens=5", "task=trec", "ft_max_train=16", "ft_batch_size=8", "ft_epochs=1", "ft_eval_every=2"]
    reproduce.main(["--preset", "paper", "--out", str(out)] + [a for kv in toy for a in ("--set", kv)])
    m = json.loads((out / "metrics.json").read_text())
    assert [(c["id"], c["paper"]) for c in m["claims"]] == [
        ("gpt1_pretraining_perplexity", 18.4), ("pretraining_helps", 14.8), ("aux_lm_small_data", -0.3)]
    assert m["config"]["model"]["pre_ln"] is False and m["config"]["tokenizer"] == "bpe"


@pytest.mark.parametrize("sets, match", [(["task=mnli"], "task"), (["ft_runs=pretrained,scratch"], "ft_runs"),
                                         (["anchor=gpt3"], "anchor"), (["ft_seeds=2"], "ft_seeds")])
def test_bad_settings_are_named_before_training(no_data_env, sets, match):
    with pytest.raises(ValueError, match=match):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "r")] + [a for s in sets for a in ("--set", s)])
