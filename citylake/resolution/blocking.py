"""Blocking: which pairs of records are compared at all.

Each rule of the configuration keys every record by a few Spark SQL expressions over its features
(a record with a null key, or failing the rule's ``when``, is left out of that rule); records with
the same key form a block and every pair inside a block is a candidate. A key is hashed to one
64-bit value (xxhash64), so the self-join is on a single long column.

Oversized blocks (more than ``max_block_size`` records, e.g. a very common surname and birth year)
are either dropped from that rule (``oversized: drop``) or split into sub-blocks of about
``max_block_size`` records by a hash of the record key (``oversized: split``: pairs across
sub-blocks are lost, the work stays bounded). The report counts both.

A pair found by several rules is generated once: rule k keeps a pair only when no earlier rule's
(capped) keys agree on it, so no distinct over the pairs is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from citylake.resolution.config import ResolutionConfig
from citylake.resolution.features import KEY, RID


BLOCK_KEYS = "__block_keys"  # every rule's key before the cap, in rule order (for the index)


def block_key(index: int) -> str:
    return f"__bk{index}"


def uncapped_keys(config: ResolutionConfig) -> Column:
    """An array of each rule's block key, before oversized blocks are capped (null: no key)."""
    return F.array(*[_key_expression(i, rule.keys, rule.when) for i, rule in enumerate(config.blocking.rules)])


def entries(frame: DataFrame, column: str = BLOCK_KEYS, *carried: str) -> DataFrame:
    """(``carried`` columns, rule, key) for each block key of a frame's array of block keys."""
    return frame.select(*carried, F.posexplode(column).alias("rule", "key")).where(F.col("key").isNotNull())


def block_sizes(keys: DataFrame) -> DataFrame:
    """(rule, key, count) from a frame of BLOCK_KEYS arrays."""
    return entries(keys).groupBy("rule", "key").count()


def parts(size: Column, config: ResolutionConfig) -> Column:
    """How a block of ``size`` records is cut by the cap: 1 (whole), n sub-blocks (``split``), or 0
    (``drop``). Two nights cut a block alike when this is equal."""
    cap = config.blocking.max_block_size
    cut = F.ceil(size / F.lit(cap)) if config.blocking.oversized == "split" else F.lit(0)
    return F.when(size > cap, cut).otherwise(F.lit(1))


def _key_expression(index: int, keys: list[str], when: str | None) -> Column:
    parts = [F.expr(key) for key in keys]
    present = reduce(lambda a, b: a & b, [part.isNotNull() for part in parts])
    if when:
        present = present & F.coalesce(F.expr(when), F.lit(False))
    return F.when(present, F.xxhash64(F.lit(index), *parts))


def with_block_keys(features: DataFrame, config: ResolutionConfig, sizes: DataFrame | None = None
                    ) -> tuple[DataFrame, list[dict]]:
    """The features with BLOCK_KEYS and one block key column per rule (capped as configured), and
    per-rule facts: blocks, largest block, oversized blocks and the records in them.

    ``sizes``: (rule, key, count) of the blocks the features' keys fall in, when the features are
    a part of the night's records (an incremental night): the caps are then those a full run
    would apply, and the facts are about those blocks only."""
    blocking = config.blocking
    rules = blocking.rules
    keyed = features.withColumn(BLOCK_KEYS, uncapped_keys(config))
    keyed = keyed.withColumns({block_key(i): F.col(BLOCK_KEYS)[i] for i in range(len(rules))})
    sizes = (block_sizes(keyed) if sizes is None else sizes).persist()
    cap = blocking.max_block_size
    facts = {row.rule: row for row in sizes.groupBy("rule").agg(
        F.count(F.lit(1)).alias("blocks"), F.max("count").alias("largest"),
        F.sum(F.when(F.col("count") > cap, 1).otherwise(0)).alias("oversized"),
        F.sum(F.when(F.col("count") > cap, F.col("count")).otherwise(0)).alias("in_oversized"),
        F.sum(F.col("count") * (F.col("count") - 1) / 2).alias("uncapped_pairs"),
    ).collect()}
    for index, rule in enumerate(rules):
        fact = facts.get(index)
        if fact is None or not fact.oversized:
            continue
        column = block_key(index)
        oversized = F.broadcast(sizes.where((F.col("rule") == index) & (F.col("count") > cap))
                                .select(F.col("key").alias("__oversized_key"), F.col("count").alias("__block_size")))
        keyed = keyed.join(oversized, F.col(column) == F.col("__oversized_key"), "left")
        if blocking.oversized == "drop":
            capped = F.when(F.col("__block_size").isNull(), F.col(column))
        else:
            capped = F.when(F.col("__block_size").isNull(), F.col(column)).otherwise(
                F.xxhash64(F.col(column), F.pmod(F.xxhash64(F.col(KEY)), parts(F.col("__block_size"), config))))
        keyed = keyed.withColumn(column, capped).drop("__oversized_key", "__block_size")
    sizes.unpersist()
    report = []
    for index, rule in enumerate(rules):
        fact = facts.get(index)
        report.append({
            "rule": rule.name,
            "blocks": int(fact.blocks) if fact else 0,
            "largest_block": int(fact.largest) if fact else 0,
            "oversized_blocks": int(fact.oversized) if fact else 0,
            "records_in_oversized_blocks": int(fact.in_oversized) if fact else 0,
            "pairs_before_cap": int(fact.uncapped_pairs) if fact else 0,
            "oversized_action": blocking.oversized,
        })
    return keyed, report


def pairs(keyed: DataFrame, rules: int, project: Callable[[int], list[Column]], *,
          left: DataFrame | None = None, order: Column | None = None) -> DataFrame:
    """Candidate pairs, each once, as ``project(rule)`` evaluated on the joined records (aliases
    ``l`` and ``r``). By default every pair of ``keyed`` with l's row id below r's; with ``left``
    (a subset of ``keyed``, e.g. tonight's new records) only the pairs with a left record, and
    ``order`` then decides which of two left records is on the left."""
    l_side = (left if left is not None else keyed).alias("l")
    r_side = keyed.alias("r")
    if order is None:
        order = F.col(f"l.{RID}") < F.col(f"r.{RID}")
    frames = []
    for k in range(rules):
        condition = (F.col(f"l.{block_key(k)}") == F.col(f"r.{block_key(k)}")) & order
        for j in range(k):
            condition = condition & ~F.coalesce(F.col(f"l.{block_key(j)}") == F.col(f"r.{block_key(j)}"),
                                                F.lit(False))
        frames.append(l_side.join(r_side, condition, "inner").select(*project(k)))
    return reduce(DataFrame.unionByName, frames)
