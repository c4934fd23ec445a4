import pytest

from citylake import joins
from tests.conftest import explained

pytestmark = pytest.mark.spark


def _hinted(frame) -> bool:
    parsed = explained(frame).split("== Analyzed Logical Plan ==")[0]
    return "broadcast" in parsed.lower()


def test_a_small_set_of_keys_is_broadcast_and_a_large_one_shuffled(spark, monkeypatch):
    keys = spark.createDataFrame([(str(n),) for n in range(5)], "record_key string")
    assert _hinted(joins.small(keys))
    monkeypatch.setattr(joins, "BROADCAST_ROWS", 4)
    assert not _hinted(joins.small(keys))
    assert _hinted(joins.small(keys, rows=4))  # the caller's count is taken as given
