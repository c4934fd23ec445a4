"""Clustering: connected components of the accepted links, never joining two different anchors.

Iterative label propagation with joins. Every record starts with its own label: its anchor (a
valid identifier) or, unanchored, ``k:<record key>`` (records sharing a key are one record
delivered twice, and share a cluster). Each round, every record offers its label to its
neighbours over the accepted links, and each record keeps the best label it holds or is offered:

  1. an anchor before any unanchored label;
  2. among anchors, the one reached over the strongest path (the path's weakest link weight, so
     an unidentified record between two identified people joins the one it matches better);
  3. then the smallest label (plain min-label propagation for components without an anchor).

An anchored record never gives up its own anchor (it is offered nothing better), so a component
never holds two anchors, even through a chain of unidentified records. Rounds stop when no label
changes; each round's labels are checkpointed locally, so the plan does not grow with the rounds.
Accepted links whose two records end in different clusters are reported for review.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from citylake.checkpoint import local_checkpoint
from citylake.resolution.features import KEY, RID
from citylake.resolution.identifiers import ANCHOR

LABEL = "__label"
INFINITY = float("inf")


def _own_label():
    # from the record key, not the row id: labels then mean the same from one night to the next
    return F.coalesce(F.col(ANCHOR), F.concat(F.lit("k:"), F.col(KEY)))


def _initial(nodes: DataFrame) -> DataFrame:
    anchored = F.col(ANCHOR).isNotNull()
    return nodes.select(
        RID,
        F.when(anchored, F.lit(0)).otherwise(F.lit(1)).alias("rank"),
        F.when(anchored, F.lit(INFINITY)).otherwise(F.lit(0.0)).alias("strength"),
        _own_label().alias(LABEL),
    )


def cluster(nodes: DataFrame, links: DataFrame, max_iterations: int = 50) -> tuple[DataFrame, dict]:
    """(RID, LABEL) for every node, and facts (rounds, whether it converged).

    ``nodes``: RID, KEY and ANCHOR of every record; ``links``: accepted links ``l``, ``r`` (row ids)
    and ``weight``."""
    edges = links.select(F.col("l").alias("src"), F.col("r").alias("dst"), "weight").unionByName(
        links.select(F.col("r").alias("src"), F.col("l").alias("dst"), "weight")).transform(local_checkpoint)
    linked = edges.select(F.col("src").alias(RID)).distinct()
    state = _initial(nodes.join(linked, RID)).transform(local_checkpoint)
    rounds, converged = 0, False
    for rounds in range(1, max_iterations + 1):
        offers = edges.join(state, F.col("src") == F.col(RID)).select(
            F.col("dst").alias(RID), "rank",
            F.when(F.col("rank") == 0, F.least(F.col("strength"), F.col("weight"))).otherwise(F.lit(0.0)).alias("strength"),
            LABEL)
        best = (state.unionByName(offers).groupBy(RID)
                .agg(F.min(F.struct("rank", (-F.col("strength")).alias("neg"), LABEL)).alias("b"))
                .select(RID, F.col("b.rank").alias("rank"), (-F.col("b.neg")).alias("strength"),
                        F.col(f"b.{LABEL}").alias(LABEL))).transform(local_checkpoint)
        changed = (best.alias("n").join(state.alias("o"), RID)
                   .where((F.col(f"n.{LABEL}") != F.col(f"o.{LABEL}")) | (F.col("n.strength") != F.col("o.strength")))
                   .count())
        state = best
        if changed == 0:
            converged = True
            break
    labels = (nodes.join(state.select(RID, LABEL), RID, "left")
              .select(RID, F.coalesce(F.col(LABEL), _own_label()).alias(LABEL)))
    return labels, {"rounds": rounds, "converged": converged}


def broken_links(links: DataFrame, labels: DataFrame) -> DataFrame:
    """Accepted links whose records ended in different clusters (an unidentified record that
    matches two identified entities): ``l``, ``r``, ``weight``."""
    left = labels.select(F.col(RID).alias("l"), F.col(LABEL).alias("__l_label"))
    right = labels.select(F.col(RID).alias("r"), F.col(LABEL).alias("__r_label"))
    return (links.join(left, "l").join(right, "r").where(F.col("__l_label") != F.col("__r_label"))
            .select("l", "r", "weight"))
