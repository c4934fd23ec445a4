"""Checkpoints whose size estimate stays bounded however many joins of checkpoints came before."""

import contextlib
import io
import re

import pytest
from pyspark.sql import functions as F

from citylake.checkpoint import UNKNOWN_SIZE, local_checkpoint

pytestmark = pytest.mark.spark

UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50, "EiB": 2**60}


def _estimate(frame) -> float:
    """The optimised plan's size estimate in bytes, as EXPLAIN COST prints it (Connect has no plan object)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        frame.explain(mode="cost")
    text = printed.getvalue()
    number, unit = re.search(r"Statistics\(sizeInBytes=([0-9.E+]+) ?([A-Za-z]*)", text).groups()
    return float(number) * UNITS.get(unit or "B", 1)


def _rounds(start, checkpoint, rounds: int):
    frame = start
    for _ in range(rounds):  # each round joins the last round's checkpoint with itself, as label propagation does
        frame = checkpoint(frame.join(frame.select("id", F.col("v").alias("w")), "id")
                           .select("id", ((F.col("v") + F.col("w")) % 7).alias("v")))
    return frame


def test_a_checkpoint_of_joined_checkpoints_keeps_a_bounded_estimate_and_its_rows(spark):
    start = spark.range(50).withColumn("v", F.col("id") % 7)
    plain = _rounds(start, lambda frame: frame.persist(), 6)  # no checkpoint: the plan's own estimate
    bounded = _rounds(start, local_checkpoint, 12)
    assert _estimate(plain) > 2.0**200  # Spark's own: the digits double every round
    assert _estimate(bounded) <= UNKNOWN_SIZE * 1.001  # printed rounded: 8.0 EiB
    assert sorted(tuple(row) for row in bounded.collect()) == [(i, (i % 7) * 2**12 % 7) for i in range(50)]


def test_a_small_checkpoint_keeps_its_small_estimate(spark):
    small = spark.range(10).transform(local_checkpoint)
    assert _estimate(small) < 10_000  # still a broadcast candidate
    assert small.count() == 10


def test_a_checkpoint_of_another_session_s_frame_stays_in_that_session(spark):
    from citylake.spark import own_session

    own = own_session(spark)  # a thread's session of its own (citylake/concurrency.py), not the active one
    checkpointed = own.range(5).transform(local_checkpoint)
    assert checkpointed.sparkSession is own
    assert checkpointed.join(own.range(3), "id").count() == 3
