"""Checkpoints whose size estimate stays bounded however many joins of checkpoints came before."""

import sys

import pytest
from pyspark.sql import functions as F

from citylake.checkpoint import UNKNOWN_SIZE, local_checkpoint

pytestmark = pytest.mark.spark


def _estimate(frame) -> int:
    return frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()


def _rounds(start, checkpoint, rounds: int):
    frame = start
    for _ in range(rounds):  # each round joins the last round's checkpoint with itself, as label propagation does
        frame = checkpoint(frame.join(frame.select("id", F.col("v").alias("w")), "id")
                           .select("id", ((F.col("v") + F.col("w")) % 7).alias("v")))
    return frame


def test_a_checkpoint_of_joined_checkpoints_keeps_a_bounded_estimate_and_its_rows(spark):
    start = spark.range(50).withColumn("v", F.col("id") % 7)
    plain = _rounds(start, lambda frame: frame.localCheckpoint(), 8)
    bounded = _rounds(start, local_checkpoint, 8)
    digits = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        assert _estimate(plain).bit_length() > 1000  # Spark's own: the digits double every round
    finally:
        sys.set_int_max_str_digits(digits)
    assert _estimate(bounded) <= UNKNOWN_SIZE
    assert sorted(bounded.collect()) == sorted(plain.collect())


def test_a_small_checkpoint_keeps_its_small_estimate(spark):
    small = spark.range(10).transform(local_checkpoint)
    assert _estimate(small) < 10_000  # still a broadcast candidate
    assert small.count() == 10
