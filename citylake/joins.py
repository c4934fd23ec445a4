"""When a join sends one side to every task instead of shuffling both.

A set of keys (record keys, row hashes, ids) joined with a table many times its size is sent to
every task when it is small: the table is then read where it lies, nothing of it shuffled. Past
BROADCAST_ROWS the set is shuffled like the table (a broadcast that large costs the driver and
every executor its memory). One limit for all of citylake's such joins.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

BROADCAST_ROWS = 500_000  # keys up to this many rows are sent to every task rather than shuffled


def small(keys: DataFrame, rows: int | None = None) -> DataFrame:
    """``keys`` marked for a broadcast join when it has at most BROADCAST_ROWS rows (``rows``:
    its count, when the caller knows it; else it is counted, so pass a checkpointed frame)."""
    return F.broadcast(keys) if (keys.count() if rows is None else rows) <= BROADCAST_ROWS else keys
