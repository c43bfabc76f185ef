"""The shared verdict helper (DESIGN.md "Claims and verdicts"), on hand-computed cases."""
import math

import pytest

from shared import report
from shared.report import (at_least, at_most, binomial_target, compare, compare_binomial, equivalent, exact, judge,
                           noise_band, not_comparable, target, wilson, within_quantiles)


def test_t_quantiles_match_the_table_of_student_t():
    # Textbook values of t_{0.975}: df 2 -> 4.303, df 4 -> 2.776, df 10 -> 2.228; large df -> 1.96.
    assert report.t975(2) == 4.303 and report.t975(4) == 2.776 and report.t975(10) == 2.228
    assert report.t975(1000) == pytest.approx(1.96, abs=1e-3)


def test_paired_band_by_hand():
    # d = (1, 2, 3): mean 2, sd 1, se 1/sqrt(3), t_{0.975,2} = 4.303 -> half width 2.4843.
    diff, lo, hi = noise_band([2, 4, 6], [1, 2, 3], paired=True)
    assert diff == 2 and lo == pytest.approx(2 - 4.303 / math.sqrt(3)) and hi == pytest.approx(2 + 4.303 / math.sqrt(3))


def test_welch_band_by_hand():
    # a = (1, 2, 3), b = (4, 5, 6): var 1 each, se = sqrt(2/3), df = (2/3)^2 / (2 * (1/3)^2 / 2) = 4.
    diff, lo, hi = noise_band([1, 2, 3], [4, 5, 6])
    h = 2.776 * math.sqrt(2 / 3)
    assert diff == -3 and lo == pytest.approx(-3 - h) and hi == pytest.approx(-3 + h)


def test_compare_three_outcomes():
    assert judge(compare([10, 11, 12], [1, 2, 3], expect=">")) == "reproduced"
    assert judge(compare([10, 11, 12], [1, 2, 3], expect="<")) == "not reproduced"
    assert judge(compare([1, 5, 9], [2, 4, 8], expect=">")) == "inconclusive"
    # paired removes the shared seed effect: each seed's difference is exactly +1
    assert judge(compare([1, 5, 9], [0, 4, 8.1], expect=">", paired=True)) == "reproduced"


def test_compare_refuses_fewer_than_three_seeds():
    with pytest.raises(ValueError, match=">= 3 seeds per arm"):
        compare([1, 2], [3, 4, 5], expect=">")
    with pytest.raises(ValueError, match="expect"):
        compare([1, 2, 3], [3, 4, 5], expect="bigger")


def test_equivalence_two_sided():
    assert judge(equivalent([1.0, 1.1, 0.9], [1.0, 1.05, 0.95], margin=1.0, paired=True)) == "reproduced"
    assert judge(equivalent([10, 11, 12], [1, 2, 3], margin=1.0)) == "not reproduced"
    assert judge(equivalent([1, 5, 9], [2, 4, 8], margin=1.0)) == "inconclusive"


def test_binomial_intervals():
    # Wilson interval of 50/100: 0.5 ± 0.0962 (textbook: [0.4038, 0.5962]).
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    assert judge(binomial_target(50, 100, 0.55)) == "reproduced"
    assert judge(binomial_target(50, 100, 0.65)) == "not reproduced"
    # 0.80 vs 0.70 on 500 items: se = sqrt((0.16 + 0.21) / 500) = 0.0272, half width 0.0533 < 0.1
    assert judge(compare_binomial(0.80, 0.70, n=500, expect=">")) == "reproduced"
    assert judge(compare_binomial(0.72, 0.70, n=500, expect=">")) == "inconclusive"
    assert judge(compare_binomial(0.60, 0.70, n=500, expect=">")) == "not reproduced"


def test_scalar_criteria():
    assert judge(target(6.97, tol=1.0), 7.5) == "reproduced" and judge(target(6.97, tol=1.0), 8.5) == "not reproduced"
    assert judge(target(100, tol=0.05, relative=True), 104) == "reproduced"
    assert judge(target(100, tol=0.05, relative=True), 106) == "not reproduced"
    assert judge(at_most(1.9), 1.89) == "reproduced" and judge(at_most(1.9), 1.91) == "not reproduced"
    assert judge(at_least(25), 26) == "reproduced" and judge(at_least(25), 24) == "not reproduced"
    assert judge(exact(11689512), 11689512) == "reproduced" and judge(exact(True), False) == "not reproduced"
    assert judge(not_comparable("64k iterations on a GPU")) == "not comparable"


def test_quantile_criterion_uses_the_interquartile_range():
    s = list(range(1, 101))  # quartiles 25.75 and 75.25
    assert judge(within_quantiles(s, 50)) == "reproduced"
    assert judge(within_quantiles(s, 20)) == "not reproduced"  # inside the 10-90% range, outside the IQR
    assert judge(within_quantiles(s, 20, q=(0.1, 0.9))) == "reproduced"


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown criterion kind"):
        judge({"kind": "vibes"})
