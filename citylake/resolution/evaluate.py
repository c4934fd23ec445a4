"""Measuring resolution against a truth key (the generator's truth/<date>/<source>.csv).

All measures are aggregates over (predicted cluster, true key) cells, so no pair is enumerated:

- pairwise precision, recall, F1: over record pairs, a pair predicted when its two records share
  a cluster and true when they share a true key (TP = sum over cells of n(n-1)/2);
- cluster precision, recall, F1: a predicted cluster is right when it holds exactly the records of
  one true key (precision over predicted clusters, recall over true keys);
- blocking pair completeness: the share of true pairs that blocking makes candidates.

Records whose truth is null are left out.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def _pairs(n):
    return n * (n - 1) / 2


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None or precision + recall == 0:
        return None if precision is None or recall is None else 0.0
    return 2 * precision * recall / (precision + recall)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _cells(frame: DataFrame, predicted: str, truth: str) -> DataFrame:
    known = frame.where(F.col(truth).isNotNull()).select(F.col(predicted).alias("p"), F.col(truth).alias("t"))
    return known.groupBy("p", "t").agg(F.count(F.lit(1)).alias("n"))


def pairwise(frame: DataFrame, predicted: str, truth: str) -> dict:
    """Pairwise precision, recall and F1 of a clustering (``predicted``) against ``truth``."""
    cells = _cells(frame, predicted, truth).persist()
    row = cells.agg(F.sum(_pairs(F.col("n"))).alias("tp")).first()
    predicted_pairs = cells.groupBy("p").agg(F.sum("n").alias("s")).agg(F.sum(_pairs(F.col("s")))).first()[0]
    true_pairs = cells.groupBy("t").agg(F.sum("n").alias("s")).agg(F.sum(_pairs(F.col("s")))).first()[0]
    cells.unpersist()
    tp = float(row.tp or 0)
    precision = _ratio(tp, float(predicted_pairs or 0))
    recall = _ratio(tp, float(true_pairs or 0))
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
            "true_positive_pairs": int(tp), "predicted_pairs": int(predicted_pairs or 0),
            "true_pairs": int(true_pairs or 0)}


def cluster_scores(frame: DataFrame, predicted: str, truth: str) -> dict:
    """Cluster precision, recall and F1: clusters that equal a true entity exactly."""
    cells = _cells(frame, predicted, truth)
    sizes_p = cells.groupBy("p").agg(F.sum("n").alias("size_p"))
    sizes_t = cells.groupBy("t").agg(F.sum("n").alias("size_t"))
    row = (cells.join(sizes_p, "p").join(sizes_t, "t")
           .agg(F.sum(F.when((F.col("n") == F.col("size_p")) & (F.col("n") == F.col("size_t")), 1).otherwise(0))
                .alias("exact"),
                F.countDistinct("p").alias("clusters"), F.countDistinct("t").alias("entities")).first())
    precision = _ratio(row.exact, row.clusters)
    recall = _ratio(row.exact, row.entities)
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
            "exact_clusters": int(row.exact or 0), "predicted_clusters": int(row.clusters or 0),
            "true_entities": int(row.entities or 0)}


def scores(frame: DataFrame, predicted: str, truth: str) -> dict:
    """Pairwise and cluster scores together, rounded for reports."""
    def rounded(values: dict) -> dict:
        return {key: round(value, 6) if isinstance(value, float) else value for key, value in values.items()}

    return {"pairwise": rounded(pairwise(frame, predicted, truth)),
            "cluster": rounded(cluster_scores(frame, predicted, truth))}


def pair_completeness(pairs: DataFrame, records: DataFrame, *, left: str = "left_key", right: str = "right_key",
                      key: str = "record_key", truth: str = "truth") -> dict:
    """Blocking pair completeness: candidate ``pairs`` (two record keys) that are true pairs, over
    all true pairs of ``records`` (key, truth)."""
    truths = records.where(F.col(truth).isNotNull()).select(F.col(key).alias("__k"), F.col(truth).alias("__t"))
    kept = (pairs.join(truths.withColumnRenamed("__k", left).withColumnRenamed("__t", "__lt"), left)
            .join(truths.withColumnRenamed("__k", right).withColumnRenamed("__t", "__rt"), right)
            .where(F.col("__lt") == F.col("__rt")).count())
    total = truths.groupBy("__t").count().agg(F.sum(_pairs(F.col("count")))).first()[0] or 0
    return {"true_pairs": int(total), "true_pairs_kept": int(kept), "pair_completeness": _ratio(kept, total)}


def blocking_completeness_counts(frame: DataFrame) -> dict:
    """True pairs of a feature table (``__truth``, ``__anchor``): all, and those with at least one
    record without an anchor (the pairs blocking must find for scoring)."""
    from citylake.resolution.features import TRUTH
    from citylake.resolution.identifiers import ANCHOR

    row = (frame.where(F.col(TRUTH).isNotNull()).groupBy(TRUTH)
           .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col(ANCHOR).isNotNull().cast("int")).alias("a"))
           .agg(F.sum(_pairs(F.col("n"))).alias("all"),
                F.sum(_pairs(F.col("n")) - _pairs(F.col("a"))).alias("unanchored")).first())
    return {"true_pairs": int(row["all"] or 0), "true_pairs_with_unanchored": int(row["unanchored"] or 0)}


def pairwise_involving(frame: DataFrame, predicted: str, truth: str, subset: str) -> dict:
    """Pairwise precision, recall and F1 over the pairs with at least one record of ``subset`` (a
    boolean column), e.g. the records without a valid identifier: all pairs minus the pairs whose
    two records are both outside the subset (pair counts add up)."""
    everything = pairwise(frame, predicted, truth)
    outside = pairwise(frame.where(~F.col(subset)), predicted, truth)
    tp = everything["true_positive_pairs"] - outside["true_positive_pairs"]
    predicted_pairs = everything["predicted_pairs"] - outside["predicted_pairs"]
    true_pairs = everything["true_pairs"] - outside["true_pairs"]
    precision, recall = _ratio(tp, predicted_pairs), _ratio(tp, true_pairs)
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall), "true_positive_pairs": tp,
            "predicted_pairs": predicted_pairs, "true_pairs": true_pairs}
