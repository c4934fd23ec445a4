"""Persistent ids: carried over by overlap from night to night, merges and splits in the history."""

import pytest

from citylake.resolution import assign_ids

pytestmark = pytest.mark.spark


def _clusters(spark, groups: dict[str, str]):
    return spark.createDataFrame([(key, cluster) for cluster, keys in groups.items() for key in keys],
                                 "record_key string, cluster string")


def _ids(frame) -> dict[str, str]:
    return {row.record_key: row.person_id for row in frame.collect()}


@pytest.fixture(scope="module")
def two_nights(spark):
    first = _clusters(spark, {"c1": "ab", "c2": "cd", "c3": "efg", "c4": "h"})
    ids1, history1 = assign_ids(first, None, id_column="person_id", prefix="P", salt="2026-11-23")
    ids1 = ids1.localCheckpoint()
    # the night after: c1 and c2 are one person, g was not the same person as e and f, h is gone,
    # i is new
    second = _clusters(spark, {"x": "abcd", "y": "ef", "z": "g", "w": "i"})
    ids2, history2 = assign_ids(second, ids1.select("record_key", "person_id"), id_column="person_id", prefix="P",
                                salt="2026-11-24")
    return _ids(ids1), history1.collect(), _ids(ids2), history2.collect(), second, ids1


def test_the_first_night_gives_every_cluster_a_new_id(two_nights):
    ids1, history1, *_ = two_nights
    assert ids1["a"] == ids1["b"] != ids1["c"] == ids1["d"]
    assert len(set(ids1.values())) == 4
    assert all(value.startswith("P") and len(value) == 17 for value in ids1.values())
    assert sorted((row.event, row.records) for row in history1) == [("new", 1), ("new", 2), ("new", 2), ("new", 3)]


def test_ids_persist_and_a_merge_keeps_one_of_them(two_nights):
    ids1, _, ids2, history2, *_ = two_nights
    survivor = min(ids1["a"], ids1["c"])  # equal overlap: the smaller id stays
    retired = max(ids1["a"], ids1["c"])
    assert {ids2[key] for key in "abcd"} == {survivor}
    assert ids2["e"] == ids2["f"] == ids1["e"]  # most of c3 stays c3
    merges = [row for row in history2 if row.event == "merge"]
    assert [(row.id, row.from_id, row.records) for row in merges] == [(survivor, retired, 2)]


def test_a_split_gets_a_new_id_and_is_recorded(two_nights):
    ids1, _, ids2, history2, *_ = two_nights
    assert ids2["g"] not in ids1.values()
    splits = [row for row in history2 if row.event == "split"]
    assert [(row.id, row.from_id, row.records) for row in splits] == [(ids2["g"], ids1["e"], 1)]


def test_new_and_removed_clusters_are_recorded(two_nights):
    ids1, _, ids2, history2, *_ = two_nights
    assert [(row.id, row.records) for row in history2 if row.event == "new"] == [(ids2["i"], 1)]
    assert [row.from_id for row in history2 if row.event == "removed"] == [ids1["h"]]
    assert not [row for row in history2 if row.event == "move"]


def test_the_same_input_gives_the_same_ids(spark, two_nights):
    *_, ids2, _, second, ids1 = two_nights
    again, _ = assign_ids(second, ids1.select("record_key", "person_id"), id_column="person_id", prefix="P",
                          salt="2026-11-24")
    assert _ids(again) == ids2


def test_new_ids_avoid_ids_in_use(spark):
    clusters = _clusters(spark, {"c": "a"})
    first, _ = assign_ids(clusters, None, id_column="person_id", prefix="P", salt="s")
    taken = _ids(first)["a"]
    reserved = spark.createDataFrame([(taken,)], "person_id string")
    other, _ = assign_ids(clusters, None, id_column="person_id", prefix="P", salt="s", reserved_ids=reserved)
    assert _ids(other)["a"] != taken
