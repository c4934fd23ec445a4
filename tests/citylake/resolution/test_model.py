"""Fellegi-Sunter without labels: EM on pattern counts, u from random pairs, the thresholds."""

import math

import numpy as np
import pytest

from citylake.resolution import Model
from citylake.resolution import model as fs
from citylake.resolution.comparisons import Comparison, decode

NAME = Comparison("name", (("exact", "x"), ("pinyin", "x")), "n")  # levels exact, pinyin, else
DATE = Comparison("birth_date", (("exact", "x"),), "n")  # exact, else
SEX = Comparison("sex", (("exact", "x"),), "n")
COMPARISONS = [NAME, DATE, SEX]
TRUE_M = [[0.9, 0.08, 0.02], [0.95, 0.05], [0.98, 0.02]]
TRUE_U = [[0.01, 0.01, 0.98], [0.02, 0.98], [0.5, 0.5]]


def _code(levels: list[int]) -> int:
    code, scale = 0, 1
    for level, comparison in zip(levels, COMPARISONS):
        code += level * scale
        scale *= comparison.radix
    return code


def _simulate(matches: int, non_matches: int, seed: int = 1) -> dict[int, int]:
    """Pattern counts of pairs drawn from known m (matches) and u (non-matches)."""
    rng = np.random.default_rng(seed)
    counts: dict[int, int] = {}
    for n, table in ((matches, TRUE_M), (non_matches, TRUE_U)):
        draws = [rng.choice(len(p), size=n, p=p) + 1 for p in table]
        for levels in zip(*draws):
            code = _code(list(levels))
            counts[code] = counts.get(code, 0) + 1
    return counts


def test_decode_inverts_the_pattern_code():
    assert decode(_code([2, 1, 0]), COMPARISONS) == [2, 1, 0]
    assert decode(_code([0, 0, 0]), COMPARISONS) == [0, 0, 0]


def test_u_from_random_pairs_is_each_level_share_with_a_pseudo_pair():
    counts = {_code([3, 2, 1]): 98, _code([1, 1, 2]): 2}
    u = fs.u_from_random(counts, COMPARISONS)
    assert u[0] == pytest.approx([3 / 103, 1 / 103, 99 / 103])
    assert sum(u[1]) == pytest.approx(1)


def test_em_recovers_m_above_u_for_agreeing_levels():
    counts = _simulate(matches=3000, non_matches=30000)
    m, u, share, iterations, converged = fs.estimate(counts, COMPARISONS, TRUE_U, match_share=0.3, prior_pairs=0)
    assert converged
    assert share == pytest.approx(3000 / 33000, abs=0.01)
    for k in range(len(COMPARISONS)):
        assert m[k][0] > u[k][0]  # the first level favours a match
        assert m[k][-1] < u[k][-1]  # disagreement does not
        assert m[k] == pytest.approx(TRUE_M[k], abs=0.03)


def test_labelled_pairs_keep_their_label():
    """Pairs of two identified records are matches (same identifier) or not, whatever EM thinks."""
    counts = {(_code([1, 1, 1]), None): 100, (_code([3, 2, 2]), False): 1000, (_code([3, 1, 1]), True): 50}
    m, _, share, _, _ = fs.estimate(counts, COMPARISONS, TRUE_U, match_share=0.1, prior_pairs=0)
    # the labelled non-matches count for nothing in m; the labelled matches count fully
    assert m[0][2] == pytest.approx(50 / 150, abs=0.02)
    assert share == pytest.approx(150 / 1150, abs=0.01)


def test_a_blocking_rules_comparisons_are_left_out_for_its_unlabelled_pairs():
    """Rule 0 keys on the birth date: its pairs say nothing about the birth date's m."""
    counts = {(_code([3, 1, 1]), None, 0): 10_000, (_code([1, 1, 1]), True, 1): 100,
              (_code([1, 2, 1]), True, 1): 5}
    m, *_ = fs.estimate(counts, COMPARISONS, TRUE_U, blocked_on={0: {1}}, prior_pairs=0)
    assert m[1][0] == pytest.approx(100 / 105, abs=0.01)


def test_thresholds_come_from_the_posterior():
    accept, review = fs.thresholds(match_share=0.001, accept_probability=0.8, review_probability=0.2)
    prior = math.log2(0.001 / 0.999)
    assert accept == pytest.approx(math.log2(4) - prior)
    assert review == pytest.approx(math.log2(0.25) - prior)
    assert fs.thresholds(0.001, 0.8, 0.2, match_weight=7.5)[0] == 7.5


def test_fit_scales_the_prior_to_all_record_pairs():
    counts = {(key, None, 0): n for key, n in _simulate(matches=300, non_matches=3000).items()}
    random = _simulate(matches=0, non_matches=100_000, seed=2)
    model = fs.fit(counts, random, COMPARISONS, accept_probability=0.8, review_probability=0.2,
                   candidate_pairs=3300, record_pairs=10_000_000, prior_pairs=0)
    assert model.blocked_match_share == pytest.approx(300 / 3300, abs=0.02)
    assert model.match_share == pytest.approx(model.blocked_match_share * 3300 / 10_000_000)
    assert model.probability(model.accept_weight) == pytest.approx(0.8)
    name = model.comparison("name")
    assert name.weights[0] > 0 > name.weights[-1]


def test_a_model_round_trips_through_json():
    model = Model([fs.ComparisonModel("name", ["exact", "else"], [0.9, 0.1], [0.01, 0.99])], 0.001, 18.0, 12.0,
                  0.8, 0.2, 5, True, ["a note"], 0.4)
    again = Model.from_dict(model.to_dict())
    assert again == model
    assert again.comparison("name").weights == pytest.approx([math.log2(90), math.log2(0.1 / 0.99)])
