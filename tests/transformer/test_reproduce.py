"""End to end: the smoke preset on the embedded data and the report it writes; the presets pinned to the paper;
the claim builders (BLEU, Table 3) judged from data."""
import dataclasses
import json

import pytest

from papers.transformer import reproduce
from papers.transformer.loss import make_optimizer
from papers.transformer.model import BASE, Transformer
from papers.transformer.reproduce import PRESETS
from shared.data import registry
from shared.report import VERDICTS, render_readme


def test_smoke_run(no_data_env, monkeypatch):
    monkeypatch.setattr(registry, "USED", {})   # process-global; other tests may have filled it
    out = no_data_env / "smoke"
    reproduce.main(["--preset", "smoke", "--out", str(out), "--set", "threads=1"])
    m = json.loads((out / "metrics.json").read_text())
    ids = [c["id"] for c in m["claims"]]
    assert ids == ["params-base", "params-big", "lrate", "synthetic", "bleu", "table3-A-h1-ppl", "table3-A-h1-bleu",
                   "table3-D-ls0-ppl", "table3-D-ls0-bleu"]
    assert all(c["verdict"] in VERDICTS for c in m["claims"])
    abl = [c for c in m["claims"] if c["id"].startswith("table3")]
    assert all(c["criterion"]["kind"] == "compare" and len(c["criterion"]["a"]) == 3 for c in abl)  # 3 seeds, paired
    assert set(m["results"]["ablations"]) == {"base", "A-h1", "D-ls0"}
    assert m["environment"]["data"] == {"multi30k": "synthetic"}
    assert (out / "README.md").read_text() == render_readme(m)
    assert (out / "attention.png").is_file() and (out / "curves.png").is_file()
    assert "bleu_signature" in m["results"] and m["results"]["bleu_signature"].startswith("nrefs:1")
    assert m["results"]["averaged_steps"] == [4, 6]          # the last 2 snapshots, the final step included


def test_bad_ablation_and_dataset_are_errors(no_data_env):
    with pytest.raises(SystemExit, match="unknown ablation"):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "a"), "--set", "threads=1",
                        "--set", "ablations=Z-nothing", "--set", "syn_steps=1"])
    with pytest.raises(SystemExit, match="dataset"):
        reproduce.main(["--preset", "smoke", "--out", str(no_data_env / "b"), "--set", "threads=1",
                        "--set", "dataset=imagenet", "--set", "syn_steps=1"])


def test_paper_preset_pins_the_paper():
    """§3 base model, §5.1 data and batches, §5.3 optimiser and Eq. (3), §5.4 regularisation, §6.1 inference."""
    c = PRESETS["paper"]
    m = c.model
    assert (m.N, m.n_dec, m.d_model, m.d_ff, m.h, m.dk, m.dv, m.P_drop, m.positional) == \
        (6, 6, 512, 2048, 8, 64, 64, 0.1, "sinusoid")
    assert m.share_embeddings and m.scale_embeddings and not m.final_norm and m.vocab_size == 37000
    assert (c.dataset, c.src_lang, c.tgt_lang, c.tokens_per_step, c.max_steps, c.warmup, c.lr_scale) == \
        ("wmt14_en_de", "en", "de", 25000, 100_000, 4000, 1.0)
    assert c.eps_ls == 0.1
    assert (c.avg_last, c.beam, c.alpha, c.max_extra) == (5, 4, 0.6, 50)
    opt, _ = make_optimizer(Transformer(dataclasses.replace(BASE, vocab_size=10, N=1, d_model=8, d_ff=8, h=2)),
                            512, c.warmup)
    assert opt.defaults["betas"] == (0.9, 0.98) and opt.defaults["eps"] == 1e-9
    assert reproduce.is_paper_setting(c) and not reproduce.is_paper_setting(PRESETS["quick"])


def test_quick_preset_uses_every_core():
    """No preset pins fewer threads than the machine has (0 = torch's default: every core)."""
    assert all(p.threads == 0 for p in PRESETS.values())
    q = PRESETS["quick"]
    assert q.amp == "auto" and q.warmup < q.max_steps / 4                 # bf16 measured faster here


def test_bleu_is_scored_in_the_papers_setting_only():
    c = reproduce.bleu_claim(PRESETS["paper"], 26.9, "WMT14", 5, "n")
    assert c["criterion"]["kind"] == "target" and c["verdict"] == "reproduced"
    assert reproduce.bleu_claim(PRESETS["paper"], 20.0, "WMT14", 5, "n")["verdict"] == "not reproduced"
    assert reproduce.bleu_claim(PRESETS["quick"], 35.0, "Multi30k", 5, "n")["verdict"] == "not comparable"


def test_quick_bleu_target_is_a_computed_verdict():
    """The quick preset's own target (Multi30k test2016 >= 25 BLEU) is judged from the number, not typed."""
    q = PRESETS["quick"]
    hit, miss = reproduce.quick_bleu_claim(q, 25.3, 5, "n"), reproduce.quick_bleu_claim(q, 24.9, 5, "n")
    assert hit["criterion"]["kind"] == "at_least" and hit["criterion"]["bound"] == 25.0 and hit["paper"] is None
    assert (hit["verdict"], miss["verdict"]) == ("reproduced", "not reproduced")


def test_ablations_below_the_budget_are_not_comparable_and_say_what_would_do():
    q = PRESETS["quick"]
    per_seed, claims = reproduce.run_ablations(None, q, None)
    assert per_seed == {} and claims and all(c["verdict"] == "not comparable" for c in claims)
    assert all(">= 3 seeds per arm" in c["criterion"]["budget"] for c in claims)
    assert "minutes at this model's 0.20 s/step" in reproduce.ablation_budget(q, 0.2)
    one_seed = dataclasses.replace(q, ablation_seeds=(0,), ablation_steps=10 * q.warmup)
    assert reproduce.ablation_budget(one_seed) is not None
    assert reproduce.ablation_budget(dataclasses.replace(q, ablation_steps=5 * q.warmup)) is None
    assert reproduce.ablation_budget(PRESETS["paper"]) is None
