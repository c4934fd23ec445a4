"""Incremental resolution: tonight's new and changed records against the resolved base.

Given last night's resolved records (record_key, content_hash, cluster and the id column, as
:func:`citylake.resolution.resolve` writes them), tonight's records and last night's model:

1. a record is new or changed when its (record key, content hash) was not there last night; a
   record key gone tonight is deleted;
2. only the new and changed records are scored, against every record of tonight (blocking as
   configured, the fitted model reused, so no EM);
3. the clusters they touch are those of their previous versions, of the deleted records, of the
   records they link to and of the records sharing their anchor (identifier);
4. those clusters' records, with the new and changed ones, are re-clustered (scored among
   themselves, anchors and conflicts as in a full run); every other cluster keeps its records,
   cluster and id untouched;
5. ids are carried over by overlap within the re-clustered part (merges and splits go to the
   history), new ids never take an id in use elsewhere.

Blocking caps and anchors are computed over the whole of tonight's table, so a re-clustered part
sees the same blocks and identifiers as a full run would.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from citylake.resolution import engine
from citylake.resolution.config import ResolutionConfig
from citylake.resolution.features import HASH, KEY, RID
from citylake.resolution.identifiers import ANCHOR
from citylake.resolution.model import Model
from citylake.timing import Phases

DELTA = "__delta"
PREVIOUS_ID = "__previous_id"


def resolve_incremental(previous: DataFrame, tonight: DataFrame, config: ResolutionConfig, model: Model, *,
                        salt: str = "", truth_column: str | None = None) -> engine.Resolution:
    """Resolves tonight's records, re-scoring only new and changed ones (see the module doc)."""
    phases = Phases()
    id_column = config.ids.column
    prepared = engine.prepare(tonight, config, truth_column)
    last = (previous.groupBy(F.col("record_key").alias(KEY))
            .agg(F.first("content_hash").alias("__previous_hash"), F.first(id_column).alias(PREVIOUS_ID),
                 F.first("cluster").alias("__previous_cluster")))
    keyed = (prepared.keyed.join(last, KEY, "left")
             .withColumn(DELTA, F.col("__previous_hash").isNull() | (F.col("__previous_hash") != F.col(HASH)))
             .localCheckpoint())
    phases.done("prepare_and_diff")
    delta = keyed.where(F.col(DELTA))
    tonight_keys = keyed.select(KEY).distinct()
    deleted = last.join(tonight_keys, KEY, "left_anti")

    # 1. score the new and changed records against everything
    order = (F.col(f"l.{RID}") != F.col(f"r.{RID}")) & (~F.col(f"r.{DELTA}") | (F.col(f"l.{RID}") < F.col(f"r.{RID}")))
    scored_delta, delta_scoring = engine.score(prepared, config, model, left=delta, order=order, keyed=keyed)
    linked = scored_delta.where(F.col("weight") >= F.lit(model.accept_weight))
    touched_rids = linked.select(F.col("l").alias(RID)).unionByName(linked.select(F.col("r").alias(RID)))

    # 2. the clusters they touch
    delta_anchors = delta.where(F.col(ANCHOR).isNotNull()).select(ANCHOR).distinct()
    phases.done("score_new_and_changed")
    touched = (keyed.where(F.col(DELTA)).select(PREVIOUS_ID)
               .unionByName(deleted.select(PREVIOUS_ID))
               .unionByName(keyed.join(touched_rids, RID).select(PREVIOUS_ID))
               .unionByName(keyed.join(delta_anchors, ANCHOR).select(PREVIOUS_ID))
               .where(F.col(PREVIOUS_ID).isNotNull()).distinct().localCheckpoint())
    subset = (keyed.join(touched.withColumn("__touched", F.lit(True)), PREVIOUS_ID, "left")
              .where(F.col(DELTA) | F.col("__touched").isNotNull()).drop("__touched").localCheckpoint())
    phases.done("touched_clusters")

    # 3. re-cluster the touched part
    scored, subset_scoring = engine.score(prepared, config, model, keyed=subset)
    finished = engine.finish(prepared, config, model, scored, keyed=subset)
    part = engine.Prepared(prepared.base.join(subset.select(RID), RID), subset, prepared.conflicts,
                           prepared.comparisons, prepared.facts)
    records = engine.records_out(part, finished["labels"], config)
    previous_of_part = (previous.select("record_key", id_column)
                        .join(touched.select(F.col(PREVIOUS_ID).alias(id_column)), id_column))
    untouched_ids = (previous.select(id_column).distinct()
                     .join(touched.select(F.col(PREVIOUS_ID).alias(id_column)), id_column, "left_anti"))
    records, history = engine.with_ids(records, previous_of_part, config, salt, reserved_ids=untouched_ids)
    phases.done("recluster")

    # 4. everything else as it was: last night's cluster value and id
    unchanged = keyed.join(subset.select(RID), RID, "left_anti")
    kept_labels = unchanged.select(RID, F.col("__previous_cluster").alias("__label"),
                                   F.col(PREVIOUS_ID).alias(id_column))
    kept_part = engine.Prepared(prepared.base.join(unchanged.select(RID), RID), keyed, prepared.conflicts,
                                prepared.comparisons, prepared.facts)
    kept = engine.records_out(kept_part, kept_labels, config, hashed=False, extra=(id_column,))
    columns = records.columns
    result = records.unionByName(kept.select(*columns)).localCheckpoint()
    phases.done("untouched_and_union")

    counts = keyed.agg(F.sum(F.col(DELTA).cast("int")).alias("delta"),
                       F.sum(F.col("__previous_hash").isNull().cast("int")).alias("new")).first()
    report = {
        "library": config.library, "mode": "incremental", "records": keyed.count(),
        "new_records": counts["new"], "changed_records": counts["delta"] - counts["new"],
        "deleted_records": deleted.count(), "touched_clusters": touched.count(),
        "records_reclustered": subset.count(),
        "scoring_new_and_changed": delta_scoring, "scoring_reclustered": subset_scoring,
        "links": {"accepted": finished["links_count"]}, "clustering": finished["clustering"],
        "seconds": {**phases.seconds, "total": phases.elapsed(), "prepare_steps": prepared.facts["prepare_seconds"]},
    }
    if truth_column is not None:
        from citylake.resolution import evaluate

        report["evaluation"] = evaluate.scores(
            result.select("cluster", F.col(f"`{truth_column}`").cast("string").alias("truth")), "cluster", "truth")
    return engine.Resolution(result, finished["links"], finished["review"], prepared.conflicts, history,
                             model, report)
