"""Metrics history and the gates that read it: volume anomaly and freshness.

Each run appends its metrics (rows in, published, quarantined, per-rule violations) to the Delta
table ops/metrics_history. A source's row count is judged against its own recent nights:

- cold start: with fewer than ``min_history`` earlier nights there is nothing to compare with;
  the check records ``cold_start`` and passes.
- otherwise the expected range is the median of the last ``window`` nights, plus or minus the
  larger of ``k`` robust deviations (1.4826 x MAD) and ``floor`` x median, so a source that is
  very steady still tolerates ordinary growth. A count outside it is an anomaly and fails.

Freshness: the newest landed batch of a source may be at most ``max_age_days`` older than the
night being processed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class VolumeCheck:
    status: str  # ok | cold_start | anomaly
    current: int
    history: int  # nights compared with
    low: float | None = None
    high: float | None = None

    @property
    def passed(self) -> bool:
        return self.status != "anomaly"

    def describe(self) -> str:
        if self.status == "cold_start":
            return f"volume {self.current} rows: cold start ({self.history} earlier nights)"
        return (
            f"volume {self.current} rows {'within' if self.passed else 'OUTSIDE'} the expected "
            f"{self.low:.0f}-{self.high:.0f} from {self.history} earlier nights"
        )


def volume_check(
    history: list[int],
    current: int,
    *,
    min_history: int = 3,
    window: int = 14,
    k: float = 5.0,
    floor: float = 0.3,
) -> VolumeCheck:
    """Judges tonight's row count against the earlier nights (oldest first)."""
    recent = history[-window:]
    if len(recent) < min_history:
        return VolumeCheck("cold_start", current, len(recent))
    middle = statistics.median(recent)
    mad = statistics.median(abs(count - middle) for count in recent)
    spread = max(k * 1.4826 * mad, floor * middle)
    low, high = middle - spread, middle + spread
    status = "ok" if low <= current <= high else "anomaly"
    return VolumeCheck(status, current, len(recent), low, high)


@dataclass(frozen=True)
class FreshnessCheck:
    source: str
    latest: date | None
    run_date: date
    max_age_days: int
    tonight: str | None = None  # the ledger status of the source's batch of run_date, if any

    @property
    def age_days(self) -> int | None:
        return None if self.latest is None else (self.run_date - self.latest).days

    @property
    def passed(self) -> bool:
        return self.age_days is not None and self.age_days <= self.max_age_days

    def describe(self) -> str:
        tonight = ("" if self.tonight is None or self.latest == self.run_date
                   else f"; tonight's batch is {self.tonight}, not published, so {self.latest or 'no night'} is read")
        if self.latest is None:
            return f"{self.source}: never published{tonight}"
        return (
            f"{self.source}: latest published batch {self.latest} is {self.age_days} day(s) old "
            f"(at most {self.max_age_days} allowed){tonight}"
        )


def freshness_check(source: str, latest: date | None, run_date: date, max_age_days: int = 1) -> FreshnessCheck:
    return FreshnessCheck(source, latest, run_date, max_age_days)
