"""reproduce.py end to end: the smoke preset, and the paper preset at toy size (its claims carry the paper's numbers)."""
import json

from papers.yolo import reproduce
from papers.yolo.loss import PAPER_RECIPE


def test_presets_pin_the_paper():
    p = reproduce.PRESETS["paper"]
    assert (p.variant, p.epochs, p.batch_size, p.momentum, p.weight_decay) == ("yolo", 135, 64, 0.9, 5e-4)
    assert (p.lr_start, p.lr, p.lr_steps) == (1e-3, 1e-2, (75, 105)) and p.augment
    assert (p.lambda_coord, p.lambda_noobj, p.sqrt_wh) == (5.0, 0.5, True)
    assert reproduce.recipe(p) == PAPER_RECIPE
    q = reproduce.PRESETS["quick"]
    assert q.variant == "yolo-cpu" and len(q.seeds) >= 3 and set(q.ablations) == {"noobj1", "raw_wh"}
    # the quick schedule keeps the paper's proportions: steps at 75/135 and 105/135 of the epochs
    assert abs(q.lr_steps[0] / q.epochs - 75 / 135) < 0.02 and abs(q.lr_steps[1] / q.epochs - 105 / 135) < 0.02


def test_quick_preset_is_the_candidate_chosen_on_the_training_holdout():
    """The quick preset's training values are the ones tune.py chose on a hold-out of the *training* images
    (selection.json, committed): the chosen candidate's resolved config equals the preset but for the keys
    the search sets itself (hold-out, no ablation arms, no speed measurement, no drawing)."""
    import dataclasses

    from papers.yolo.tune import COMMITTED, HOLDOUT
    rec = json.loads(COMMITTED.read_text())
    best = max(rec["candidates"], key=lambda c: c["mAP50_mean"])
    assert best["set"] == rec["chosen"] and rec["holdout"] == HOLDOUT and best["data"] == "raccoon"
    assert all(len(c["mAP50"]) >= 3 for c in rec["candidates"])
    quick = json.loads(json.dumps(dataclasses.asdict(reproduce.PRESETS["quick"])))
    searched = {"holdout", "ablations", "fps_variants", "draw", "fps_iters", "fps_size"}   # no arms, no speed
    assert best["config"]["holdout"] == HOLDOUT > 0
    assert {k: v for k, v in best["config"].items() if k not in searched} == \
        {k: v for k, v in quick.items() if k not in searched}
    assert quick["lr"] == 1e-2                              # the paper's peak (§2.2) won on the hold-out


def test_smoke_end_to_end(tmp_path, no_data_env):
    out = tmp_path / "smoke"
    reproduce.main(["--preset", "smoke", "--out", str(out), "--set", "fps_variants=fast-yolo"])
    m = json.loads((out / "metrics.json").read_text())
    ids = {c["id"] for c in m["claims"]}
    assert {"fig3-params", "fig3-conv-layers", "fig3-output", "detects-above-trivial-baseline",
            "detects-above-trivial-baseline-coco", "nms-adds-map",
            "fig4-localization-dominates", "ablation-lambda-noobj", "ablation-sqrt-wh"} <= ids
    assert m["environment"]["data"] == {"shapes (generated detection canvases)": "synthetic"}
    assert len(m["results"]["runs"]) == 9                      # 3 arms x 3 seeds
    for f in ("detections.png", "fig4_errors.png", "loss.png", "README.md"):
        assert (out / f).is_file()
    assert not list(out.rglob("checkpoint.pt"))


def test_paper_preset_at_toy_size_claims_the_papers_numbers(tmp_path, no_data_env):
    out = tmp_path / "paper"
    reproduce.main(["--preset", "paper", "--out", str(out), "--set", "variant=fast-yolo", "--set", "dataset=shapes",
                    "--set", "max_train=2", "--set", "max_test=2", "--set", "epochs=1", "--set", "batch_size=2",
                    "--set", "fps_variants=yolo,fast-yolo", "--set", "fps_iters=1", "--set", "num_workers=0",
                    "--set", "ckpt_every=0"])
    claims = {c["id"]: c for c in json.loads((out / "metrics.json").read_text())["claims"]}
    assert claims["table1-map-fast-yolo"]["paper"] == 52.7
    assert claims["table1-map-fast-yolo"]["criterion"]["kind"] == "target"
    assert claims["table1-yolo-fps"]["paper"] == 45.0 and claims["table1-fast-yolo-fps"]["paper"] == 155.0
    assert claims["table1-fast-yolo-speedup"]["paper"] == round(155 / 45, 2)
    assert claims["fig3-params"]["verdict"] == "reproduced"


def test_paper_setting_claims_table1_map_for_yolo():
    """The paper preset with the 24-layer net claims Table 1's 63.4 (VOC2007 11-point AP) within 2 points; the
    toy end-to-end run above trains Fast YOLO (52.7) to stay fast, so YOLO's claim is checked here."""
    c = reproduce.table1_map_claim("yolo", [62.0], [60.0], "toy", paper_setting=True)
    assert (c["id"], c["paper"], c["ours"], c["verdict"]) == ("table1-map-yolo", 63.4, 62.0, "reproduced")
    assert reproduce.table1_map_claim("yolo", [60.0], [60.0], "toy", True)["verdict"] == "not reproduced"
    assert reproduce.table1_map_claim("fast-yolo", [52.0], [50.0], "toy", True)["paper"] == 52.7
    assert reproduce.table1_map_claim("yolo-cpu", [50.0], [50.0], "toy", False)["verdict"] == "not comparable"
