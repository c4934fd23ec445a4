"""Incremental resolution: tonight's new and changed records against the resolved base.

Given last night's resolved records (as :func:`citylake.resolution.resolve` writes them: record
key, content hash, cluster, the id column, and the index: each record's block keys and valid
identifiers), tonight's records and last night's model:

1. the diff: tonight's records' record keys and content hashes (computed where the records lie,
   nothing normalised) are joined once to last night's records by record key (full outer,
   checkpointed; narrow: the key, the hash, last night's cluster, id and index); a record is new
   or changed when its (record key, content hash) was not there last night, a record key gone
   tonight is deleted, and every later step reads this one join;
2. the new and changed records are normalised and keyed for blocking;
3. the clusters they touch are found in last night's index: the clusters of their previous
   versions and of the deleted records; of the records in a block a record joined or left when
   the cap now cuts it differently (into other sub-blocks, dropped or no longer dropped); of the
   block-mates they may link to (the unchanged records sharing a block key with them are
   normalised, those only, and each pair a full run would compare, under tonight's caps, is
   scored with last night's model: a pair at the review weight or above touches the block-mate's
   cluster, whatever the two records' anchors); and of the records sharing a valid identifier
   with them or with a deleted record; then, until nothing is added, the clusters of records
   sharing an identifier with a touched cluster's records (so every anchor, and every conflict
   check, sees all of its records). The block-mates are scored last, those of clusters not
   touched otherwise only. A block-mate's cluster no pair reaches keeps its links: its records'
   pairs are those of last night;
4. the touched clusters' records and the new and changed ones, only those (the new and changed
   as delivered tonight, the others as written last night: the same content), are normalised,
   anchored, checked for conflicts and keyed (oversized blocks capped by tonight's block sizes, as a
   full run would), scored among themselves with last night's model (no EM) and re-clustered;
5. ids are carried over by overlap within the re-clustered part (merges and splits go to the
   history), new ids never take an id in use elsewhere; every other record is last night's row as
   it was written (cluster, id, flags, index and provenance: the configuration's ``provenance``
   columns say where it was delivered with the content it still has);
6. the rows that differ from last night's (``Resolution.changed``: new and changed records, and
   those of the part given another id, cluster, way of resolving, flag or index) and the keys whose
   row of last night no longer holds (``Resolution.ended_keys``) are given apart, so a caller
   keeping the records in versions writes only these.

So a night's work is one read of tonight's records (checkpointed with their keys and hashes where
they lie), one narrow join of every record key with last night's, plus resolving the part it
touches. When the records are hashed by what they are made of (the configuration's ``content``)
and the caller can make a few of them cheaply (``fetch``), that read is narrow: the key, the
content columns and provenance of every record; only the new and changed records are made whole.
No whole record is shuffled (tonight's records must hold one row per record key, which
:func:`citylake.base.latest_per_record` gives without a shuffle of every record), and the
untouched ones are copied from last night's records. Review pairs and conflicts
are those of the re-resolved part (``Resolution.resolved_keys``); a caller keeps last night's for
the rest. The resolved records are returned unmaterialised: the caller's write computes them
once.

A caller that knows which records may differ from last night's gives only those
(:class:`TonightChanges`: their keys, and tonight's records of them): then no record is read
but those, step 1 is one narrow read of last night's records (each given key marked new, changed
or deleted, every other record as it was), and a given key whose content is as it was is resolved
again all the same (citylake gives the keys whose standard rows changed:
:func:`citylake.base.night_changes`).

When last night's records carry no index (written before it existed) or lack a column tonight's
have, the night is resolved in full, with ids carried over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from citylake import joins
from citylake.checkpoint import local_checkpoint
from citylake.resolution import blocking, engine, features
from citylake.resolution.config import ResolutionConfig
from citylake.resolution.features import HASH, KEY, RID
from citylake.resolution.identifiers import identifier_keys
from citylake.resolution.model import Model
from citylake.timing import Phases

DELTA = "__delta"
PREVIOUS = {"content_hash": "__previous_hash", "cluster": "__previous_cluster", "resolved_by": "__previous_resolved_by",
            "review_reason": "__previous_review_reason", "block_keys": "__previous_block_keys",
            "identifiers": "__previous_identifiers"}
PREVIOUS_ID = "__previous_id"


@dataclass(frozen=True)
class TonightChanges:
    """Tonight's records given by what changed (a caller that knows which records may differ
    from last night's, such as citylake's from the standard rows that changed,
    :func:`citylake.base.night_changes`): ``keys`` (record_key) of every record that may differ,
    ``records``: tonight's records of those keys (one per key, every column tonight's records
    have; a key without one is gone). Every other record is tonight what it was last night."""

    keys: DataFrame
    records: DataFrame


def resolve_incremental(previous: DataFrame, tonight: DataFrame | TonightChanges, config: ResolutionConfig,
                        model: Model, *, salt: str = "", truth_column: str | None = None,
                        fetch: Callable[[DataFrame], DataFrame] | None = None) -> engine.Resolution:
    """Resolves tonight's records, re-resolving only the part new, changed and deleted records
    touch (see the module doc).

    ``fetch``: for records hashed by the configuration's ``content`` columns, a cheaper way to
    get a few of tonight's records than making them all: given some records' ``content``
    columns, a frame (tonight's columns) holding those records, and maybe others; their
    provenance is taken from tonight's. Tonight's records are then read narrow (key, content
    and provenance columns) and only the new and changed ones whole (citylake: from the standard
    rows with their hashes, :func:`citylake.base.rows_by_hash`).

    ``tonight`` as :class:`TonightChanges`: only the records of its keys are read, and last night's
    records once, narrow (no join of every key; the night's diff is the caller's); refused when
    the night must be resolved in full (last night's records without the index, or lacking a
    column tonight's have: see :func:`needs_every_record`)."""
    id_column = config.ids.column
    changes = tonight if isinstance(tonight, TonightChanges) else None
    if changes is not None:
        tonight = changes.records
    why_full = needs_every_record(previous, tonight.columns)
    if why_full is not None and changes is not None:  # a full run needs every record, not the changed ones
        raise ValueError(f"{config.source}: {why_full}: the night is resolved in full, so give every record of "
                         f"tonight, not only those that changed")
    if why_full is not None:
        result = engine.resolve(tonight, config, previous_ids=previous.select("record_key", id_column),
                                truth_column=truth_column, model=model, salt=salt)
        result.report["mode"] = "full"
        result.report["why_full"] = why_full
        return result
    phases = Phases()
    # tonight's records are read once, checkpointed with their keys and hashes where they lie;
    # one join of the keys and hashes with last night's (a deleted record has no row id)
    columns = tonight.columns
    types = {field.name: field.dataType for field in tonight.schema}
    delivery = features.delivery(tonight, config, truth_column)
    narrow = fetch is not None and changes is None and features.made_of(config, columns)
    if narrow:  # what the records are made of, not the records
        provenance = [name for name in config.provenance if name in columns]
        tonight = tonight.select(delivery[KEY].alias(KEY), delivery[HASH].alias(HASH), *config.content,
                                 *provenance).transform(local_checkpoint)
    else:
        tonight = tonight.withColumns({KEY: delivery[KEY], HASH: delivery[HASH]}).transform(local_checkpoint)
    phases.done("read_tonight")
    last = previous.select(F.col("record_key").alias(KEY), F.col(id_column).alias(PREVIOUS_ID),
                           *[F.col(name).alias(alias) for name, alias in PREVIOUS.items()])
    night = _joined(tonight, last) if changes is None else _changed(tonight, changes.keys, last)
    if changes is None and not night.groupBy(KEY).count().where(F.col("count") > 1).isEmpty():  # one narrow check
        repeated = tonight.groupBy(KEY).count().where(F.col("count") > 1).count()
        if repeated:
            raise ValueError(f"{config.source}: tonight's records hold {repeated} record keys more than once: an "
                             f"incremental run needs one row per record key (the latest delivery of each)")
        last = last.dropDuplicates([KEY])  # last night's written twice: one of each
        previous = previous.dropDuplicates(["record_key"])
        night = _joined(tonight, last)
    present = night.where(F.col(RID).isNotNull())
    keys = present.select(RID, KEY, HASH, DELTA, PREVIOUS_ID, *PREVIOUS.values())
    deleted = night.where(F.col(RID).isNull()).select(KEY, PREVIOUS_ID, *PREVIOUS.values())

    def delivered(rows: DataFrame) -> DataFrame:
        return rows.select(RID, *[(F.col(name) if name in (KEY, HASH) else column).alias(name)
                                  for name, column in delivery.items()])
    phases.done("diff")

    # the new and changed records' block keys and identifiers, from their features only
    delta = keys.where(F.col(DELTA))
    hashed = engine.hashed_features(config, engine.comparisons_of(config))
    if narrow:
        wanted = tonight.join(joins.small(delta.select(KEY, RID)), KEY)
        made = fetch(wanted.select(*config.content))
        delta_rows = (made.withColumns({KEY: delivery[KEY], HASH: delivery[HASH]}).drop(*provenance)
                      .join(wanted.select(KEY, HASH, RID, *provenance), [KEY, HASH]))
        delta_rows = (delta_rows.select(*[F.col(f"`{name}`") for name in columns], KEY, HASH, RID)
                      .transform(local_checkpoint))
        fetched, asked = delta_rows.count(), delta.count()
        if fetched != asked:  # fetch broke its promise: resolving without them would lose records
            raise RuntimeError(f"{config.source}: {asked} new and changed records, but fetch gave {fetched} of them "
                               f"(with the key and content hash the night's records have)")
    else:
        delta_rows = _rows_of(tonight, delta).transform(local_checkpoint)
    delta_features, _ = features.normalise(delivered(delta_rows), config, hashed)
    delta_index = delta_features.select(RID, blocking.uncapped_keys(config).alias(blocking.BLOCK_KEYS),
                                        identifier_keys(config).alias("__identifiers")).transform(local_checkpoint)
    phases.done("new_and_changed")

    def as_written(wanted: DataFrame, rows: int | None = None) -> DataFrame:
        """Last night's records of ``wanted``'s keys (KEY, RID) as written, with KEY, HASH and RID:
        unchanged records, so tonight's content too (their provenance says where it was delivered)."""
        return (previous.withColumns({KEY: F.col("record_key"), HASH: F.col("content_hash")})
                .join(joins.small(wanted.select(KEY, RID), rows), KEY)
                .select(*[F.col(f"`{name}`").cast(types[name]).alias(name) for name in columns], KEY, HASH, RID))

    touched, mates_scored = _touched_ids(keys, deleted, delta, delta_features, delta_index, config, model,
                                         lambda wanted, rows: delivered(as_written(wanted, rows)), hashed)
    subset = (keys.join(F.broadcast(touched.withColumn("__touched", F.lit(True))), PREVIOUS_ID, "left")
              .where(F.col(DELTA) | F.col("__touched").isNotNull()).drop("__touched").transform(local_checkpoint))
    phases.done("touched_clusters")

    # tonight's sizes of the blocks the part falls in, so the caps are a full run's
    new_blocks = blocking.entries(delta_index)
    tonight_blocks = blocking.entries(keys.where(~F.col(DELTA)), PREVIOUS["block_keys"]).unionByName(new_blocks)
    part_blocks = (blocking.entries(subset.where(~F.col(DELTA)), PREVIOUS["block_keys"]).unionByName(new_blocks)
                   .distinct())
    sizes = (tonight_blocks.join(F.broadcast(part_blocks), ["rule", "key"], "left_semi")
             .groupBy("rule", "key").count().transform(local_checkpoint))
    # the part: the new and changed rows as delivered tonight, the unchanged ones as written last night
    unchanged_rows = as_written(subset.where(~F.col(DELTA)))
    part = delta_rows.select(*[F.col(f"`{name}`") for name in columns], KEY, HASH, RID).unionByName(
        unchanged_rows).transform(local_checkpoint)
    prepared = engine.prepare_delivered(part.select(*[F.col(f"`{name}`") for name in columns], RID),
                                        delivered(part), config, sizes)
    prepared.facts["missing_fields"] = features.missing_fields(config, columns)
    phases.done("prepare_part")

    scored, scoring = engine.score(prepared, config, model)
    finished = engine.finish(prepared, config, model, scored)
    records = engine.records_out(prepared, finished["labels"], config)
    last_ids = night.select(F.col(KEY).alias("record_key"), F.col(PREVIOUS_ID).alias(id_column)).where(
        F.col(id_column).isNotNull())
    touched_ids = F.broadcast(touched.select(F.col(PREVIOUS_ID).alias(id_column)))
    previous_of_part = last_ids.join(touched_ids, id_column, "left_semi")
    # new ids take none of last night's (those of the untouched clusters stay in use)
    records, history = engine.with_ids(records, previous_of_part, config, salt, reserved_ids=last_ids.select(id_column))
    records = records.transform(local_checkpoint)  # the part, for the write and for the golden records of its ids
    phases.done("recluster")

    # every other record as it was written last night (its provenance too: where it was delivered
    # with the content it still has)
    gone = subset.select(KEY).unionByName(deleted.select(KEY)).withColumnRenamed(KEY, "record_key")
    as_before = previous.join(joins.small(gone), "record_key", "left_anti")
    result = records.unionByName(as_before.select(*records.columns))

    # the rows that differ from last night's: new and changed records, and those given another id,
    # cluster, way of resolving or flag (a re-clustered record is mostly as it was)
    previous_of = subset.select(F.col(KEY).alias("record_key"), DELTA, PREVIOUS_ID, *PREVIOUS.values())
    same = ~F.col(DELTA) & F.col(id_column).eqNullSafe(F.col(PREVIOUS_ID))
    for name, alias in PREVIOUS.items():
        if name != "content_hash":
            same = same & F.col(name).eqNullSafe(F.col(alias))
    compared = records.join(previous_of, "record_key", "left").withColumn("__same", F.coalesce(same, F.lit(False)))
    changed = compared.where(~F.col("__same")).select(*records.columns)
    ended_keys = (compared.where(~F.col("__same") & F.col(PREVIOUS["content_hash"]).isNotNull()).select("record_key")
                  .unionByName(deleted.select(F.col(KEY).alias("record_key"))))

    counts = keys.agg(F.count(F.lit(1)).alias("records"), F.sum(F.col(DELTA).cast("int")).alias("delta"),
                      F.sum(F.col(PREVIOUS["content_hash"]).isNull().cast("int")).alias("new")).first()
    part_size = subset.count()
    report = {
        "library": config.library, "mode": "incremental", "records": counts["records"],
        "tonight_read": "changes" if changes is not None else "narrow" if narrow else "whole",
        "new_records": counts["new"] or 0, "changed_records": (counts["delta"] or 0) - (counts["new"] or 0),
        "deleted_records": deleted.count(), "block_mates_scored": mates_scored, "touched_clusters": touched.count(),
        "records_reclustered": part_size, "records_prepared": part_size,
        "scoring_reclustered": scoring,
        "links": {"accepted": finished["links_count"]}, "clustering": finished["clustering"],
        "conflicts": prepared.conflicts.count(), "review_pairs": finished["review"].count(),
        "seconds": {**phases.seconds, "total": phases.elapsed(), "prepare_steps": prepared.facts["prepare_seconds"]},
    }
    if truth_column is not None:
        from citylake.resolution import evaluate

        report["evaluation"] = evaluate.scores(
            result.select("cluster", F.col(f"`{truth_column}`").cast("string").alias("truth")), "cluster", "truth")
    return engine.Resolution(result, finished["links"], finished["review"], prepared.conflicts, history,
                             model, report, resolved_keys=subset.select(F.col(KEY).alias("record_key")),
                             replaced_ids=touched.select(F.col(PREVIOUS_ID).alias(id_column)), resolved=records,
                             changed=changed, ended_keys=ended_keys)


def needs_every_record(previous: DataFrame, columns: list[str]) -> str | None:
    """Why a night whose records have ``columns`` is resolved in full against ``previous`` (last
    night's records), or None when it can be incremental."""
    lacking = sorted(set(columns) - set(previous.columns))
    if not set(engine.INDEX_COLUMNS) <= set(previous.columns):
        return "last night's records carry no index (block keys, identifiers)"
    if lacking:
        return f"last night's records lack columns tonight's have: {', '.join(lacking)}"
    return None


def _joined(tonight: DataFrame, last: DataFrame) -> DataFrame:
    """Tonight's record keys and hashes joined with last night's (full outer, checkpointed), with
    tonight's row ids (RID; a deleted record has none) and whether a record is new or changed
    (DELTA)."""
    return (tonight.select(KEY, HASH).join(last, KEY, "full_outer")
            .withColumn(RID, F.when(F.col(HASH).isNotNull(), F.monotonically_increasing_id()))
            .withColumn(DELTA, F.col(PREVIOUS["content_hash"]).isNull()
                        | (F.col(PREVIOUS["content_hash"]) != F.col(HASH)))
            .transform(local_checkpoint))


def _changed(tonight: DataFrame, keys: DataFrame, last: DataFrame) -> DataFrame:
    """As :func:`_joined`, when only ``keys``' records may differ (``tonight``: theirs, with KEY
    and HASH, checkpointed): last night's records read once, narrow, each of those keys given
    tonight's hash (none when gone, so no row id) and marked changed (DELTA: its rows changed, so
    its record is resolved again even when its content is as it was), every other one as it was;
    the keys new tonight added (their row ids negative, apart from those of last night's keys)."""
    hit = (keys.select(F.col("record_key").alias(KEY)).distinct()
           .join(tonight.select(KEY, F.col(HASH).alias("__tonight")), KEY, "left")
           .withColumn("__hit", F.lit(True)).transform(local_checkpoint))
    hit_rows = hit.count()
    before = (last.join(joins.small(hit, hit_rows), KEY, "left")
              .withColumn(HASH, F.when(F.col("__hit"), F.col("__tonight")).otherwise(F.col(PREVIOUS["content_hash"])))
              .withColumn(RID, F.when(F.col(HASH).isNotNull(), F.monotonically_increasing_id()))
              .withColumn(DELTA, F.coalesce(F.col("__hit"), F.lit(False)) & F.col(HASH).isNotNull())
              .drop("__hit", "__tonight").transform(local_checkpoint))
    found = before.join(joins.small(hit, hit_rows), KEY, "left_semi").select(KEY)
    new = (hit.where(F.col("__tonight").isNotNull()).join(found, KEY, "left_anti")
           .select(KEY, F.col("__tonight").alias(HASH)).withColumn(RID, -1 - F.monotonically_increasing_id())
           .withColumn(DELTA, F.lit(True)))
    return before.unionByName(new.transform(local_checkpoint), allowMissingColumns=True)


def _rows_of(tonight: DataFrame, keys: DataFrame) -> DataFrame:
    """Tonight's rows (with KEY) of the record keys in ``keys``, with their row id (RID): read
    where they lie when the keys are few, so the night's other records are not shuffled."""
    return tonight.join(joins.small(keys.select(KEY, RID)), KEY)


def _touched_ids(keys: DataFrame, deleted: DataFrame, delta: DataFrame, delta_features: DataFrame,
                 delta_index: DataFrame, config: ResolutionConfig, model: Model,
                 written: Callable[[DataFrame, int], DataFrame], hashed: set[str]) -> tuple[DataFrame, int]:
    """Last night's ids (clusters) that tonight's new, changed and deleted records touch (step 3 of
    the module doc), checkpointed, and how many block-mates were scored to find them."""
    unchanged = keys.where(~F.col(DELTA))
    blocks = blocking.entries(delta_index).distinct()
    # a block left (by a deleted record, or a changed one's old version) or joined changes no other
    # cluster by itself, unless the cap now cuts it differently (into other sub-blocks, dropped or
    # no longer dropped): then its every record is compared anew
    was = (blocking.entries(keys.where(F.col(DELTA)), PREVIOUS["block_keys"])
           .unionByName(blocking.entries(deleted, PREVIOUS["block_keys"])))
    left = was.distinct().join(blocks, ["rule", "key"], "left_anti")
    every = blocks.unionByName(left).transform(local_checkpoint)
    every_rows = every.count()
    # the unchanged records' entries in those blocks, read once: both nights' sizes of the blocks
    # (theirs, with the changed and deleted records' of last night or the new and changed ones'
    # of tonight) and the block-mates come from them
    held = (blocking.entries(unchanged, PREVIOUS["block_keys"], RID, KEY, PREVIOUS_ID)
            .join(joins.small(every, every_rows), ["rule", "key"], "left_semi").transform(local_checkpoint))
    counts = {"__held": held, "__was": was, "__new": blocking.entries(delta_index)}  # all in ``every``
    sized = every
    for name, entries in counts.items():
        sized = sized.join(entries.groupBy("rule", "key").agg(F.count(F.lit(1)).alias(name)), ["rule", "key"], "left")
    held_size, was_size, new_size = [F.coalesce(F.col(name), F.lit(0)) for name in counts]
    cut = (sized.select("rule", "key", (held_size + was_size).alias("__before"),
                        (held_size + new_size).alias("__after"))
           .withColumn("__recut", blocking.parts(F.col("__before"), config) != blocking.parts(F.col("__after"), config))
           .transform(local_checkpoint))
    # the unchanged records in the blocks tonight's records join (their block-mates), and in those cut anew
    joined = cut.join(blocks, ["rule", "key"], "left_semi")
    wanted = joined.unionByName(cut.where("__recut")).distinct()
    found = (held.join(F.broadcast(wanted.select("rule", "key", "__recut")), ["rule", "key"])
             .groupBy(RID, KEY, PREVIOUS_ID).agg(F.max("__recut").alias("__recut")).transform(local_checkpoint))
    identifiers = (delta_index.select(F.explode("__identifiers").alias("identifier"))
                   .unionByName(deleted.select(F.explode(PREVIOUS["identifiers"]).alias("identifier"))))
    # every (id, identifier) of tonight's unchanged records, for the closure
    carried = (unchanged.select(PREVIOUS_ID, F.explode(PREVIOUS["identifiers"]).alias("identifier"))
               .transform(local_checkpoint))
    touched = _closed(delta.select(PREVIOUS_ID).unionByName(deleted.select(PREVIOUS_ID))
                      .unionByName(found.where("__recut").select(PREVIOUS_ID))
                      .unionByName(carried.join(F.broadcast(identifiers.distinct()), "identifier", "left_semi")
                                   .select(PREVIOUS_ID))
                      .where(F.col(PREVIOUS_ID).isNotNull()).distinct().transform(local_checkpoint), carried)
    # a block-mate's cluster is touched when a record of tonight's may link to it: their pair, as
    # a full run would block and score it (tonight's caps; the ordering of the part), at the review
    # weight or above, whatever their anchors (pairs of two anchors are decided by the identifiers);
    # the block-mates of clusters touched already are not scored
    mates = (found.where(~F.col("__recut")).select(RID, KEY, PREVIOUS_ID)
             .join(F.broadcast(touched), PREVIOUS_ID, "left_anti").transform(local_checkpoint))
    mate_count = mates.count()
    sizes = joined.select("rule", "key", F.col("__after").alias("count")).transform(local_checkpoint)
    linked = (_linked_mates(mates, written(mates, mate_count), delta_features, sizes, config, model, hashed)
              .select(PREVIOUS_ID).distinct().transform(local_checkpoint))
    if not linked.isEmpty():
        touched = _closed(touched.unionByName(linked).transform(local_checkpoint), carried, linked)
    return touched, mate_count


def _closed(touched: DataFrame, carried: DataFrame, fresh: DataFrame | None = None) -> DataFrame:
    """``touched`` (PREVIOUS_ID, checkpointed) with, until nothing is added, the clusters whose
    unchanged records (``carried``: their ids and identifiers) share an identifier with a touched
    cluster's; ``fresh``: the touched clusters not yet followed (all when None)."""
    fresh = touched if fresh is None else fresh
    while True:  # each round adds a cluster at least, or stops
        reached = carried.join(F.broadcast(fresh), PREVIOUS_ID, "left_semi").select("identifier").distinct()
        fresh = (carried.join(F.broadcast(reached), "identifier", "left_semi").select(PREVIOUS_ID).distinct()
                 .join(touched, PREVIOUS_ID, "left_anti").transform(local_checkpoint))
        if fresh.isEmpty():
            return touched
        touched = touched.unionByName(fresh).transform(local_checkpoint)


def _linked_mates(mates: DataFrame, mate_rows: DataFrame, delta_features: DataFrame, sizes: DataFrame,
                  config: ResolutionConfig, model: Model, hashed: set[str]) -> DataFrame:
    """The block-mates (``mates``: RID, KEY, PREVIOUS_ID; ``mate_rows``: their records as written)
    a record of tonight's (``delta_features``, normalised) may link to: a pair a full run would
    block (the blocks' tonight's ``sizes`` capping them, the part's ordering) and score at the
    review weight or above with last night's model, whatever the two records' anchors."""
    # read out of last night's records once: normalising reads its input twice (the names'
    # characters for the pinyin table, then the features)
    mate_features, _ = features.normalise(mate_rows.transform(local_checkpoint), config, hashed)
    mates_keyed = blocking.with_block_keys(mate_features, config, sizes)[0].transform(local_checkpoint)
    delta_keyed = blocking.with_block_keys(delta_features, config, sizes)[0].transform(local_checkpoint)
    weight = engine.weight_of(engine.comparisons_of(config), model)
    rules = len(config.blocking.rules)
    order = F.col(f"l.{RID}") < F.col(f"r.{RID}")
    scored = (blocking.pairs(mates_keyed, rules, lambda rule: [F.col(f"r.{RID}").alias(RID), weight.alias("weight")],
                             left=delta_keyed, order=order)
              .unionByName(blocking.pairs(delta_keyed, rules,
                                          lambda rule: [F.col(f"l.{RID}").alias(RID), weight.alias("weight")],
                                          left=mates_keyed, order=order)))
    return mates.join(scored.where(F.col("weight") >= F.lit(model.review_weight)).select(RID).distinct(), RID)
