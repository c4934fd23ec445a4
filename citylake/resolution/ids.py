"""Persistent identifiers: the same person keeps the same person_id from night to night.

Tonight's clusters take last night's ids by overlap: the (cluster, previous id) pairs sharing
records are matched greedily, most shared records first (in rounds of mutual best choices; ties
to the smaller cluster label and id), so each previous id goes to at most one cluster and each
cluster keeps at most one previous id. A cluster left without one gets a new id,
``<prefix><16 hex digits>``, from a hash of the salt (the night) and the cluster's smallest record
key: the same input gives the same ids, and an id is never handed out twice (collisions with
previous or other new ids are re-hashed).

The history has one row per change, ``event, id, from_id, records``:

  new      a new cluster (no record of it had an id last night): id
  merge    from_id's records are now (partly) in id's cluster and from_id is retired
  split    part of from_id's cluster is now a new cluster with the new id
  move     records moved from from_id's cluster to id's (both ids live on)
  removed  none of from_id's records came tonight (id is null)
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from citylake import joins
from citylake.checkpoint import local_checkpoint

HISTORY_SCHEMA = "event string, id string, from_id string, records long"
MATCHING_ROUNDS = 10


def _new_id(prefix: str, salt: str, smallest_key, attempt) -> F.Column:
    digest = F.sha2(F.concat_ws("|", F.lit(salt), smallest_key, attempt.cast("string")), 256)
    return F.concat(F.lit(prefix), F.upper(F.substring(digest, 1, 16)))


def assign_ids(clusters: DataFrame, previous_ids: DataFrame | None, *, id_column: str = "cluster_id",
               prefix: str = "C", salt: str = "", key: str = "record_key", cluster: str = "cluster",
               reserved_ids: DataFrame | None = None) -> tuple[DataFrame, DataFrame]:
    """(``key``, ``cluster``, ``id_column`` per record, history of merges, splits and new ids).

    ``clusters``: one row per record (``key``, ``cluster``); ``previous_ids``: last night's record
    -> id map (``key``, ``id_column``), or None on the first night; ``reserved_ids``: ids in use
    elsewhere (a one-column frame, repeats allowed) that new ids must not take (an incremental run
    passes last night's ids: those of the clusters it does not touch are in use)."""
    spark = clusters.sparkSession
    records = (clusters.select(F.col(key).alias("key"), F.col(cluster).cast("string").alias("cluster"))
               .transform(local_checkpoint))
    kept = spark.createDataFrame([], "cluster string, id string")
    if previous_ids is None:
        previous = spark.createDataFrame([], "key string, id string")
        overlap = spark.createDataFrame([], "cluster string, id string, n long")
        rounds = 0  # nothing to carry over
    else:
        previous = previous_ids.select(F.col(key).cast("string").alias("key"), F.col(id_column).alias("id"))
        overlap = (records.join(previous, "key").groupBy("cluster", "id").agg(F.count(F.lit(1)).alias("n"))
                   .transform(local_checkpoint))
        rounds = MATCHING_ROUNDS

    # greedy matching by overlap, in rounds of mutual best choices
    remaining = overlap
    for _ in range(rounds):
        best_for_cluster = Window.partitionBy("cluster").orderBy(F.desc("n"), "id")
        best_for_id = Window.partitionBy("id").orderBy(F.desc("n"), "cluster")
        mutual = (remaining.withColumn("a", F.row_number().over(best_for_cluster))
                  .withColumn("b", F.row_number().over(best_for_id))
                  .where((F.col("a") == 1) & (F.col("b") == 1)).select("cluster", "id")).transform(local_checkpoint)
        if mutual.isEmpty():
            break
        kept = kept.unionByName(mutual).transform(local_checkpoint)
        remaining = (remaining.join(mutual.select("cluster"), "cluster", "left_anti")
                     .join(mutual.select("id"), "id", "left_anti")).transform(local_checkpoint)
        if remaining.isEmpty():
            break

    smallest = records.groupBy("cluster").agg(F.min("key").alias("smallest"), F.count(F.lit(1)).alias("size"))
    unassigned = smallest.join(kept, "cluster", "left_anti")
    taken = previous.select("id").distinct().unionByName(kept.select("id"))
    reserved = None if reserved_ids is None else reserved_ids.select(F.col(reserved_ids.columns[0]).alias("id"))
    fresh = spark.createDataFrame([], "cluster string, id string")
    attempt = 0
    while True:
        candidates = unassigned.select("cluster", _new_id(prefix, salt, F.col("smallest"), F.lit(attempt)).alias("id"))
        clash = Window.partitionBy("id")
        candidates = (candidates.withColumn("__same", F.count(F.lit(1)).over(clash)).where(F.col("__same") == 1)
                      .drop("__same").transform(local_checkpoint))
        if reserved is not None:  # few candidates looked up among the ids in use, not those shuffled
            asked = joins.small(candidates.select("id"), candidates.count())
            candidates = candidates.join(reserved.join(asked, "id", "left_semi"), "id", "left_anti")
        good = candidates.join(taken, "id", "left_anti").select("cluster", "id").transform(local_checkpoint)
        fresh = fresh.unionByName(good)
        unassigned = unassigned.join(good.select("cluster"), "cluster", "left_anti").transform(local_checkpoint)
        if unassigned.isEmpty():
            break
        taken = taken.unionByName(good.select("id"))
        attempt += 1
    fresh = fresh.transform(local_checkpoint)
    assigned = kept.unionByName(fresh)
    result = records.join(assigned, "cluster").select(
        F.col("key").alias(key), F.col("cluster").alias(cluster), F.col("id").alias(id_column))

    previous_set = previous.select(F.col("id").alias("from_id")).distinct()
    final = assigned.select(F.col("cluster").alias("cluster"), F.col("id").alias("final_id"))
    alive = assigned.select(F.col("id").alias("from_id")).withColumn("__alive", F.lit(True))
    new_ids = fresh.select(F.col("id").alias("final_id")).withColumn("__fresh", F.lit(True))
    moves = (overlap.join(final, "cluster").where(F.col("id") != F.col("final_id"))
             .withColumnRenamed("id", "from_id")
             .join(alive, "from_id", "left").join(new_ids, "final_id", "left")
             .select(F.when(F.col("__alive").isNull(), F.lit("merge"))
                     .when(F.col("__fresh").isNotNull(), F.lit("split"))
                     .otherwise(F.lit("move")).alias("event"),
                     F.col("final_id").alias("id"), "from_id", F.col("n").alias("records")))
    overlapping = overlap.select("cluster").distinct()
    created = (fresh.join(overlapping, "cluster", "left_anti").join(smallest, "cluster")
               .select(F.lit("new").alias("event"), "id", F.lit(None).cast("string").alias("from_id"),
                       F.col("size").alias("records")))
    removed = (previous_set.join(overlap.select(F.col("id").alias("from_id")).distinct(), "from_id", "left_anti")
               .select(F.lit("removed").alias("event"), F.lit(None).cast("string").alias("id"), "from_id",
                       F.lit(0).cast("long").alias("records")))
    history = created.unionByName(moves).unionByName(removed).select(
        "event", "id", "from_id", F.col("records").cast("long"))
    return result, history
