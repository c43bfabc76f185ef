"""shared.bench's case filter (``--cases``) and its --modes / --kinds parsing; no timing here."""
import pytest
import torch

from shared import bench


def _case(paper, name):
    m = torch.nn.Identity()
    return bench.Case(paper=paper, name=name, oracle="o", ours=m, theirs=m, inputs=(), forward_ours=None,
                      forward_theirs=None, loss=None, optimizer=None)


def test_select_keeps_cases_whose_name_contains_a_given_substring():
    cases = [_case("resnet", "ResNet-50, 224 x 224, batch 4"), _case("resnet", "CIFAR ResNet-20, batch 128"),
             _case("gpt", "6 x 384, context 256, batch 8")]
    assert bench.select(cases, None) == cases
    assert [c.name for c in bench.select(cases, ["resnet-20"])] == ["CIFAR ResNet-20, batch 128"]
    assert [c.paper for c in bench.select(cases, ["gpt/", " ResNet-50 "])] == ["resnet", "gpt"]
    assert bench.select(cases, ["nothing"]) == []


def test_modes_and_kinds_are_checked():
    assert bench._choices("bf16", bench.MODES, "--modes") == ("bf16",)
    assert bench._choices("infer,train", bench.KINDS, "--kinds") == ("train", "infer")
    with pytest.raises(SystemExit):
        bench._choices("fp16", bench.MODES, "--modes")


# Paired rounds: interval and verdict logic on hand-computed inputs (no timing assertions).

def test_binomial_cdf_by_hand():
    assert bench._binom_cdf(0, 6) == 1 / 64
    assert bench._binom_cdf(1, 9) == 10 / 512          # 1 + 9
    assert bench._binom_cdf(2, 12) == 79 / 4096        # 1 + 12 + 66
    assert bench._binom_cdf(3, 12) == 299 / 4096       # + 220


@pytest.mark.parametrize("n,k", [(0, None), (5, None), (6, 1), (8, 1), (9, 2), (10, 2), (12, 3), (13, 3), (15, 4)])
def test_median_interval_rank_is_the_largest_with_tail_at_most_2_5_percent(n, k):
    # n = 5: P(B <= 0) = 1/32 = 3.1% > 2.5%, so not even [min, max] is a 95% interval;
    # n = 12: P(B <= 2) = 79/4096 = 1.9% <= 2.5% < P(B <= 3) = 7.3%, so [x_(3), x_(10)] (coverage 96.1%)
    assert bench.median_interval_rank(n) == k


def test_median_interval_takes_the_order_statistics_and_ignores_one_wild_round():
    r = [0.8, 1.2, 0.85, 0.95, 0.9, 1.0, 0.88, 0.92, 0.86, 0.99, 0.87, 0.93]
    # sorted: 0.80 0.85 [0.86] 0.87 0.88 0.90 0.92 0.93 0.95 [0.99] 1.00 1.20
    assert bench.median_interval(r) == (0.86, 0.99)
    assert bench.median_interval([50.0 if x == 1.2 else x for x in r]) == (0.86, 0.99)
    assert bench.median_interval(r[:5]) is None
    assert bench.median_interval([3, 1, 2, 6, 5, 4]) == (1, 6)


@pytest.mark.parametrize("interval,target,expected", [
    ((0.80, 0.89), 0.9, "meets"), ((0.80, 0.90), 0.9, "meets"),          # upper bound <= target
    ((0.91, 1.00), 0.9, "above"), ((1.01, 1.30), 1.0, "above"),          # lower bound > target
    ((0.90, 1.00), 0.9, "inconclusive"), ((0.85, 0.95), 0.9, "inconclusive"), ((0.95, 1.05), 1.0, "inconclusive"),
    (None, 0.9, "inconclusive"), ((0.5, 0.6), None, "-")])
def test_verdict_from_the_interval(interval, target, expected):
    assert bench.verdict(interval, target) == expected


def test_paired_row_takes_per_round_ratios():
    # the load drifts 6x over the rounds, but each round's pair sees the same load: every ratio is 0.8
    ours = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    row = bench.paired_row(ours, [x / 0.8 for x in ours], 0.9)
    assert row["ratio"] == pytest.approx(0.8) and row["lo"] == pytest.approx(0.8) and row["hi"] == pytest.approx(0.8)
    assert row["verdict"] == "meets" and row["ours_s"] == 3.5 and len(row["ratios"]) == 6
    # ratios 0.5 1.5 1.0 1.25 0.75 1.1 -> median (1.0 + 1.1) / 2, interval [min, max] at 6 rounds
    row = bench.paired_row([1, 3, 2, 5, 3, 5.5], [2, 2, 2, 4, 4, 5], 1.0)
    assert row["ratio"] == pytest.approx(1.05) and (row["lo"], row["hi"]) == (0.5, 1.5)
    assert row["verdict"] == "inconclusive"
    row = bench.paired_row([1.0] * 3, [1.0] * 3, 1.0)  # too few rounds for a 95% interval
    assert row["lo"] is None and row["verdict"] == "inconclusive"
    with pytest.raises(ValueError):
        bench.paired_row([1.0, 2.0], [1.0], 0.9)


def test_block_calls():
    assert bench.block_calls(0.010, 0.012, iters=10, block_s=0.1) == 9      # ceil(0.1 / 0.012)
    assert bench.block_calls(2.0, 2.2, iters=2, block_s=0.1) == 1           # at least one
    assert bench.block_calls(0.001, 0.001, iters=5, block_s=0.1) == 5       # at most Case.iters


def test_every_paper_with_an_oracle_has_its_target():
    assert {p: bench.TARGETS[p] for p in bench.PAPERS_WITH_ORACLES} == {
        "gpt": 0.9, "transformer": 0.9, "vit": 0.9, "bert": 0.9, "resnet": 1.0, "yolo": 1.0, "faster_rcnn": 1.0}
    assert bench.target_of(_case("gpt", "x")) == 0.9
    c = _case("gpt", "x")
    c.target = 1.1
    assert bench.target_of(c) == 1.1


def test_main_writes_the_table_and_the_per_round_ratios(tmp_path, monkeypatch):
    import json
    tiny = _tiny_case()
    monkeypatch.setattr(bench, "collect", lambda papers, names: [tiny])
    monkeypatch.setattr(bench, "matmul_peak", lambda dtype: 1e9)
    rows = bench.main(["--rounds", "6", "--modes", "fp32", "--kinds", "infer", "--block-ms", "0.1",
                       "--out", str(tmp_path / "B.md")])
    raw = json.loads((tmp_path / "B.json").read_text())
    assert raw["rounds"] == 6 and len(raw["rows"]) == len(rows) == 1 and len(raw["rows"][0]["ratios"]) == 6
    assert "| fp32 | infer |" in (tmp_path / "B.md").read_text()


def _tiny_case():
    torch.manual_seed(0)
    return bench.Case(paper="gpt", name="tiny", oracle="nn.Linear", ours=torch.nn.Linear(4, 2),
                      theirs=torch.nn.Linear(4, 2), inputs=(torch.randn(3, 4),), forward_ours=lambda m, inp: m(inp[0]),
                      forward_theirs=lambda m, inp: m(inp[0]), loss=lambda out: out.sum(),
                      optimizer=lambda p: torch.optim.SGD(p, lr=0.1), iters=2)


def test_run_case_and_render_on_a_tiny_case():
    torch.manual_seed(0)
    ours, theirs = torch.nn.Linear(4, 2), torch.nn.Linear(4, 2)
    case = bench.Case(paper="gpt", name="tiny", oracle="nn.Linear", ours=ours, theirs=theirs,
                      inputs=(torch.randn(3, 4),), forward_ours=lambda m, inp: m(inp[0]),
                      forward_theirs=lambda m, inp: m(inp[0]), loss=lambda out: out.sum(),
                      optimizer=lambda p: torch.optim.SGD(p, lr=0.1), iters=2)
    rows = bench.run_case(case, rounds=6, peaks={"fp32": 1e9, "bf16": 1e9}, modes=("fp32",), block_s=1e-4)
    assert [(r["mode"], r["kind"]) for r in rows] == [("fp32", "train"), ("fp32", "infer")]
    for r in rows:
        assert len(r["ratios"]) == 6 and 1 <= r["calls"] <= 2 and r["target"] == 0.9
        assert r["lo"] <= r["ratio"] <= r["hi"] and r["verdict"] in bench.VERDICTS
    env = dict(cpu="cpu", cores=2, threads=2, torch="t", native_bf16=True, load_before=0.5)
    text = bench.render(rows, {"fp32": 1e9, "bf16": 1e9}, env, [case], 1.0, "", rounds=6, block_s=0.1)
    assert "| 95% interval | target | verdict |" in text and "MFU ours" in text
    assert "ranks [1, 6] (coverage 96.9%" in text
    r = rows[0]
    assert f"**{r['ratio']:.3f}** | [{r['lo']:.3f}, {r['hi']:.3f}] | 0.9 | {r['verdict']} |" in text
    counts = bench.verdict_counts(rows)
    assert sum(counts.values()) == 2
    assert f"Verdicts: {counts['meets']} meets, {counts['above']} above, {counts['inconclusive']} inconclusive" in text
