"""Identifier first: records with a valid identifier link exactly, and conflicts are held for review.

Anchors. The configuration lists identifiers in precedence order (legal entities: credit code,
organisation code, registration number). A record with a valid first identifier is anchored to
it. A record without one is anchored through the next identifier it has: to the anchor of the
records that carry both (a registration number the registry lists beside a credit code), or, when
no anchored record carries it, to that identifier itself. An identifier found beside two
different anchors is ambiguous: the record is not anchored and is flagged for review
(``ambiguous_<identifier>``). Records sharing an anchor are one entity; two different anchors are
never one (clustering keeps them apart, even through unidentified records).

Conflicts. Within an anchor, a record whose ``conflicts.disagree_on`` comparisons all disagree
(their last level, ``else``) with the anchor's representative record is a conflict: one identity
number carried by clearly different people, one credit code under two unrelated names. The
representative is, of the anchor's first records by ``representative_order`` (then record key),
the one that disagrees with the fewest others. Records alike in every column the ``disagree_on``
comparisons read never disagree (a comparison finds identical values equal), so an anchor whose
records are all alike is not checked. A conflicting record is never merged silently:
with ``action: hold_out`` it loses its anchor (and its identifiers are not used in comparisons),
is resolved like an unidentified record and is flagged ``identifier_conflict``; with
``action: flag`` it stays anchored and is flagged.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from citylake import identity
from citylake.checkpoint import local_checkpoint
from citylake.resolution.comparisons import Comparison, names_in
from citylake.resolution.config import ResolutionConfig
from citylake.resolution.features import KEY, RID

ANCHOR = "__anchor"  # "<identifier>:<value>" or null
ANCHOR_TYPE = "__anchor_type"  # the identifier that anchors the record
REVIEW = "__review"  # why a record needs a clerk's look, or null
IDENTIFIER_KEYS = "__identifier_keys"  # the record's valid identifiers, "<identifier>:<value>" (for the index)
REPRESENTATIVE_CANDIDATES = 20


def anchor(features: DataFrame, config: ResolutionConfig) -> DataFrame:
    """The features with ANCHOR, ANCHOR_TYPE, REVIEW and IDENTIFIER_KEYS."""
    frame = features.withColumns({ANCHOR: F.lit(None).cast("string"), ANCHOR_TYPE: F.lit(None).cast("string"),
                                  REVIEW: F.lit(None).cast("string"), IDENTIFIER_KEYS: identifier_keys(config)})
    for index, name in enumerate(config.identifiers):
        value = F.when(F.col(f"{name}_valid"), F.col(name))
        own = F.concat(F.lit(f"{name}:"), value)
        if index == 0:
            frame = frame.withColumns({ANCHOR: own, ANCHOR_TYPE: F.when(value.isNotNull(), F.lit(name))})
            continue
        links = (frame.where(value.isNotNull() & F.col(ANCHOR).isNotNull())
                 .groupBy(value.alias("__value"))
                 .agg(F.countDistinct(ANCHOR).alias("__anchors"), F.min(ANCHOR).alias("__linked")))
        frame = frame.join(links, value == F.col("__value"), "left")
        unanchored = F.col(ANCHOR).isNull() & value.isNotNull()
        ambiguous = F.coalesce(F.col("__anchors") > 1, F.lit(False))
        frame = frame.withColumns({
            ANCHOR: F.when(~unanchored, F.col(ANCHOR))
                     .when(F.col("__anchors") == 1, F.col("__linked"))
                     .when(F.col("__anchors").isNull(), own),
            ANCHOR_TYPE: F.when(~unanchored, F.col(ANCHOR_TYPE))
                          .when(~ambiguous, F.lit(name)),
            REVIEW: F.coalesce(F.col(REVIEW), F.when(value.isNotNull() & ambiguous, F.lit(f"ambiguous_{name}"))),
        }).drop("__value", "__anchors", "__linked")
    return frame


def identifier_keys(config: ResolutionConfig) -> Column:
    """The record's valid identifiers as "<identifier>:<value>" strings: an incremental night finds
    the records whose anchors a new or changed record can change through them."""
    values = [F.when(F.col(f"{name}_valid"), F.concat(F.lit(f"{name}:"), F.col(name))) for name in config.identifiers]
    return F.filter(F.array(*values), lambda value: value.isNotNull())


def conflicts(anchored: DataFrame, config: ResolutionConfig, comparisons: list[Comparison]
              ) -> tuple[DataFrame, DataFrame]:
    """(the anchored features with conflicts applied, one row per conflicting record).

    The conflict rows carry record keys and the masked identifier only."""
    by_name = {comparison.name: comparison for comparison in comparisons}
    checked = [by_name[name] for name in config.conflicts.disagree_on]
    empty = anchored.sparkSession.createDataFrame(
        [], "record_key string, representative_key string, identifier string, masked_identifier string, "
            "action string")
    if not checked:
        return anchored, empty
    # only the columns the check reads travel through its windows and self-join
    compared = set().union(*[names_in(text) for comparison in checked for text in comparison.sql])
    named = compared.union(*map(names_in, config.conflicts.representative_order))
    read = [name for name in anchored.columns if name in named and name not in (RID, KEY, ANCHOR)]
    members = anchored.where(F.col(ANCHOR).isNotNull()).select(RID, KEY, ANCHOR, *read)
    # records alike in every column the comparisons read cannot disagree: only anchors whose
    # records vary go through the windows and the self-join (most anchors are one person's
    # records from several departments, alike)
    alike_on = [name for name in read if name in compared]
    if alike_on:
        varied = (members.groupBy(ANCHOR).agg(F.count_distinct(F.struct(*alike_on)).alias("__variants"))
                  .where(F.col("__variants") > 1).select(ANCHOR))
        members = members.join(varied, ANCHOR, "left_semi")
    group = Window.partitionBy(ANCHOR)
    order = [F.expr(expression).asc_nulls_last() for expression in config.conflicts.representative_order]
    ranked = (members.withColumn("__group_size", F.count(F.lit(1)).over(group))
              .where(F.col("__group_size") > 1)
              .withColumn("__rank", F.row_number().over(group.orderBy(*order, F.col(KEY), F.col(RID)))))
    candidates = ranked.where(F.col("__rank") <= REPRESENTATIVE_CANDIDATES)
    disagree = None
    for comparison in checked:
        level = comparison.level()
        this = level == F.lit(len(comparison.levels) + 1)
        disagree = this if disagree is None else disagree & this
    joined = (candidates.alias("l").join(ranked.alias("r"), (F.col(f"l.{ANCHOR}") == F.col(f"r.{ANCHOR}"))
                                          & (F.col(f"l.{RID}") != F.col(f"r.{RID}")))
              .select(F.col(f"l.{ANCHOR}").alias("anchor"), F.col(f"l.{RID}").alias("candidate"),
                      F.col(f"l.{KEY}").alias("candidate_key"), F.col("l.__rank").alias("rank"),
                      F.col(f"r.{RID}").alias("member"), F.col(f"r.{KEY}").alias("member_key"),
                      disagree.alias("disagree"))).persist()
    representative = (joined.groupBy("anchor", "candidate", "candidate_key", "rank")
                      .agg(F.sum(F.col("disagree").cast("int")).alias("disagreements"))
                      .withColumn("__pick", F.row_number().over(
                          Window.partitionBy("anchor").orderBy("disagreements", "rank")))
                      .where(F.col("__pick") == 1).select("anchor", "candidate"))
    conflicting = (joined.join(representative, ["anchor", "candidate"]).where(F.col("disagree"))
                   .select(F.col("member").alias("__conflict_rid"), F.col("candidate_key").alias("representative_key"),
                           "member_key", "anchor")).transform(local_checkpoint)
    joined.unpersist()
    action = config.conflicts.action
    marked = anchored.join(F.broadcast(conflicting.select("__conflict_rid")),
                           F.col(RID) == F.col("__conflict_rid"), "left")
    hit = F.col("__conflict_rid").isNotNull()
    updates = {REVIEW: F.when(hit, F.lit("identifier_conflict")).otherwise(F.col(REVIEW))}
    if action == "hold_out":
        updates[ANCHOR] = F.when(hit, F.lit(None).cast("string")).otherwise(F.col(ANCHOR))
        updates[ANCHOR_TYPE] = F.when(hit, F.lit(None).cast("string")).otherwise(F.col(ANCHOR_TYPE))
        for name in config.identifiers:  # its identifiers say nothing in comparisons any more
            for column in (name, f"{name}_head", f"{name}_tail"):
                updates[column] = F.when(hit, F.lit(None).cast("string")).otherwise(F.col(column))
            updates[f"{name}_valid"] = F.when(hit, F.lit(False)).otherwise(F.col(f"{name}_valid"))
    result = marked.withColumns(updates).drop("__conflict_rid")
    identifier = F.substring_index(F.col("anchor"), ":", 1)
    rows = conflicting.select(
        F.col("member_key").alias("record_key"), "representative_key", identifier.alias("identifier"),
        identity.mask_col(F.substring(F.col("anchor"), F.length(identifier) + 2, 100)).alias("masked_identifier"),
        F.lit(action).alias("action"))
    return result, rows


def ambiguous(anchored: DataFrame) -> DataFrame:
    """Records whose secondary identifier sits beside two different anchors (for the review list)."""
    return anchored.where(F.col(REVIEW).startswith("ambiguous_")).select(
        F.col(KEY).alias("record_key"), F.col(REVIEW).alias("reason"))
