"""Independent Spark work submitted side by side from one driver.

A night's incremental build is many small Spark jobs (seconds each: planning, reading a Delta log,
a last task running alone), one after another: over a 1M residents' population night, vmstat
found the two cores a third idle. Spark runs the jobs several driver threads submit at once, its
scheduler filling the cores with the tasks of all of them (PySpark pins each Python thread to a JVM
thread of its own). So work that no other work reads is submitted from a few threads: each
source's diff of an incremental night (citylake/base.py: night_changes), the resolution's tables
(jobs/build_base.py: records, id history and review), the credit profiles. Writes that set a
session setting for their commit (citylake/lake.py: write_changes' commit metadata) are not among
them, and hold a lock besides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# threads submitting Spark jobs at once (a 1M residents' population night's diff of eight sources:
# 95 s one at a time, 73 s with two or three at once, 2026-12-05)
WORKERS = 3


def concurrently(work: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> list[R]:
    """``[work(item) for item in items]``, up to ``workers`` (WORKERS) at once; the results in the
    order of ``items``. The first failure (in that order) is raised once every item is done, so no
    thread is left writing when the caller goes on."""
    items = list(items)
    workers = WORKERS if workers is None else workers
    if workers <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="citylake-spark") as pool:
        futures = [pool.submit(work, item) for item in items]
    return [future.result() for future in futures]
