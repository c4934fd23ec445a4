"""Clustering: connected components of accepted links, never two different identifiers in one."""

import pytest

from citylake.resolution import clustering
from citylake.resolution.features import KEY, RID
from citylake.resolution.identifiers import ANCHOR

pytestmark = pytest.mark.spark


def _clusters(spark, nodes: list[tuple[int, str | None]], links: list[tuple[int, int, float]]):
    frame = spark.createDataFrame([(rid, f"k{rid}", anchor) for rid, anchor in nodes],
                                  f"{RID} long, {KEY} string, {ANCHOR} string")
    edges = spark.createDataFrame(links, "l long, r long, weight double")
    labels, facts = clustering.cluster(frame, edges)
    by_label: dict[str, set[int]] = {}
    for row in labels.collect():
        by_label.setdefault(row[clustering.LABEL], set()).add(row[RID])
    return sorted(by_label.values(), key=min), facts, labels, edges


def test_connected_components(spark):
    groups, facts, _, _ = _clusters(spark, [(i, None) for i in range(1, 8)],
                                    [(1, 2, 20.0), (2, 3, 20.0), (3, 4, 20.0), (5, 6, 20.0)])
    assert groups == [{1, 2, 3, 4}, {5, 6}, {7}]
    assert facts["converged"]


def test_records_sharing_an_anchor_stay_together_without_links(spark):
    groups, _, _, _ = _clusters(spark, [(1, "identity_number:X"), (2, "identity_number:X"), (3, None)], [])
    assert groups == [{1, 2}, {3}]


def test_two_different_identifiers_are_never_joined_even_through_a_chain(spark):
    """X - u1 - u2 - Y: each unidentified record joins the identifier it reaches by the
    strongest path; X and Y stay apart, and the weak link between them is reported."""
    nodes = [(1, "identity_number:X"), (2, None), (3, None), (4, "identity_number:Y")]
    groups, _, labels, edges = _clusters(spark, nodes, [(1, 2, 30.0), (2, 3, 19.0), (3, 4, 25.0)])
    assert groups == [{1, 2}, {3, 4}]
    broken = clustering.broken_links(edges, labels).collect()
    assert [(row.l, row.r) for row in broken] == [(2, 3)]


def test_an_unidentified_record_matching_two_people_joins_the_better_one(spark):
    nodes = [(1, "identity_number:X"), (2, None), (3, "identity_number:Y")]
    groups, _, _, _ = _clusters(spark, nodes, [(1, 2, 20.0), (2, 3, 26.0)])
    assert groups == [{1}, {2, 3}]


def test_a_direct_link_between_two_identifiers_changes_nothing(spark):
    nodes = [(1, "identity_number:X"), (2, "identity_number:Y")]
    groups, _, _, _ = _clusters(spark, nodes, [(1, 2, 40.0)])
    assert groups == [{1}, {2}]
