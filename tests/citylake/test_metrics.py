from datetime import date

import pytest

from citylake.metrics import freshness_check, volume_check


@pytest.mark.parametrize("history", [[], [3000], [3000, 3010]])
def test_cold_start_passes_and_says_so(history):
    check = volume_check(history, 12, min_history=3)
    assert check.status == "cold_start" and check.passed
    assert check.describe() == f"volume 12 rows: cold start ({len(history)} earlier nights)"


def test_ordinary_night_is_within_range():
    check = volume_check([3000, 3020, 2990, 3010, 3005], 3100)
    assert check.status == "ok"
    assert check.low == pytest.approx(3005 - 0.3 * 3005) and check.high == pytest.approx(3005 + 0.3 * 3005)


@pytest.mark.parametrize("current", [150, 9000])
def test_collapse_or_explosion_is_an_anomaly(current):
    check = volume_check([3000, 3020, 2990, 3010, 3005], current)
    assert check.status == "anomaly" and not check.passed
    assert "OUTSIDE the expected 2104-3906 from 5 earlier nights" in check.describe()


def test_noisy_source_gets_a_wider_range():
    history = [1000, 3000, 1500, 2800, 2000, 1200, 2600]
    assert volume_check(history, 4500).status == "ok"  # 5 robust deviations is wide here
    assert volume_check(history, 20000).status == "anomaly"


def test_only_the_recent_window_counts():
    history = [10] * 20 + [3000] * 14
    assert volume_check(history, 3000, window=14).status == "ok"


def test_freshness():
    night = date(2026, 11, 23)
    assert freshness_check("hr", date(2026, 11, 23), night).passed
    stale = freshness_check("hr", date(2026, 11, 20), night, max_age_days=1)
    assert not stale.passed and stale.describe() == "hr: latest published batch 2026-11-20 is 3 day(s) old (at most 1 allowed)"
    assert not freshness_check("hr", None, night).passed
