"""The engine: records -> clusters, persistent ids, review lists and a report.

    features   normalise each field once per record (features.py), checkpointed
    anchors    valid identifiers link exactly; conflicts held out and flagged (identifiers.py)
    blocking   one block key per rule, oversized blocks capped (blocking.py)
    model      EM pass: the blocked pairs' comparison patterns counted in Spark, m/u/lambda fitted
               in the driver; u from random pairs (model.py)
    scoring    scoring pass: per pair, each comparison a CASE over precomputed columns giving its
               log2 weight, summed; pairs with at least one unanchored record only (two valid
               identifiers are already decided: the same links, different never does)
    clusters   label propagation over accepted links, anchors kept apart (clustering.py)
    ids        persistent ids by overlap with last night's (ids.py)
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from citylake.checkpoint import local_checkpoint
from citylake.resolution import blocking, clustering, features, identifiers
from citylake.resolution import model as fs
from citylake.resolution.comparisons import Comparison, built, names_in, pattern
from citylake.resolution.config import ConfigError, ResolutionConfig
from citylake.resolution.features import HASH, KEY, RID, TRUTH
from citylake.resolution.identifiers import ANCHOR, ANCHOR_TYPE, REVIEW
from citylake.resolution.ids import assign_ids
from citylake.spark import is_remote
from citylake.timing import Phases

OUTPUT_COLUMNS = ("record_key", "content_hash", "cluster", "resolved_by", "review_reason", "block_keys",
                  "identifiers")
INDEX_COLUMNS = ("block_keys", "identifiers")  # what the next night's incremental run finds records by


@dataclass
class Resolution:
    """What a run produces. ``records``: the input rows with record_key, content_hash, cluster,
    the configured id column, resolved_by (the anchoring identifier, ``linkage`` or ``alone``) and
    review_reason, and the index the next night's incremental run reads (block_keys: each
    blocking rule's key before the cap; identifiers: the valid identifiers); ``links``: accepted
    probabilistic links; ``review``: pairs for a clerk; ``conflicts``: identifier conflicts and
    ambiguous identifiers; ``history``: id changes; ``resolved_keys``: the record keys resolved
    tonight when an incremental run left the others as they were (links, review and conflicts are
    about these only), None when every record was; ``replaced_ids``: then, last night's ids (the
    id column) of the clusters resolved again, and ``resolved``: those records as in ``records``
    (checkpointed), every record of these ids and of the ids they have tonight. Every other id's
    records are tonight what they were last night (in every column but the configuration's
    ``provenance``), with the same id, resolved_by and review_reason. ``changed``: then, the
    records (as in ``records``) whose row differs from last night's in some column, the new ones
    among them; ``ended_keys``: the record keys whose last night's row does not hold tonight (it
    changed, or the record is gone). Every record of ``records`` not in ``changed`` is last
    night's row as it was."""

    records: DataFrame
    links: DataFrame
    review: DataFrame
    conflicts: DataFrame
    history: DataFrame
    model: fs.Model
    report: dict = field(default_factory=dict)
    resolved_keys: DataFrame | None = None
    replaced_ids: DataFrame | None = None
    resolved: DataFrame | None = None
    changed: DataFrame | None = None
    ended_keys: DataFrame | None = None


@dataclass
class Prepared:
    """Tonight's records made ready for pairing."""

    base: DataFrame  # the input with RID
    keyed: DataFrame  # features, anchors and block keys (checkpointed)
    conflicts: DataFrame
    comparisons: list[Comparison]
    facts: dict


def comparisons_of(config: ResolutionConfig) -> list[Comparison]:
    return [built(spec) for spec in config.comparisons]


def _check_sql(features_frame: DataFrame, config: ResolutionConfig, comparisons: list[Comparison]) -> None:
    """Every SQL snippet of the configuration resolves against the features (analysis only)."""
    pair = features_frame.alias("l").crossJoin(features_frame.alias("r"))
    checks: list[tuple[str, DataFrame, str]] = []
    for i, rule in enumerate(config.blocking.rules):
        checks += [(f"blocking.rules.{i}.keys.{j}", features_frame, key) for j, key in enumerate(rule.keys)]
        if rule.when:
            checks.append((f"blocking.rules.{i}.when", features_frame, rule.when))
    for i, comparison in enumerate(comparisons):
        for j, (_, condition) in enumerate(comparison.levels):
            checks.append((f"comparisons.{i}.levels.{j}", pair, condition))
        if comparison.null_when:
            checks.append((f"comparisons.{i}.null_when", pair, comparison.null_when))
    for i, expression in enumerate(config.conflicts.representative_order):
        checks.append((f"conflicts.representative_order.{i}", features_frame, expression))
    for location, frame, expression in checks:
        try:
            frame.select(F.expr(expression)).schema
        except (AnalysisException, Exception) as error:  # parse errors are not AnalysisExceptions
            message = str(error).splitlines()[0]
            raise ConfigError(f"{config.source}: {location}: {expression!r}: {message}") from None


def hashed_features(config: ResolutionConfig, comparisons: list[Comparison]) -> set[str]:
    """The text features whose 64-bit hash twin (<feature>_hash) the configuration compares."""
    texts = [text for comparison in comparisons for text in comparison.sql]
    texts += [key for rule in config.blocking.rules for key in rule.keys] + [rule.when or "" for rule in config.blocking.rules]
    return {name for text in texts for name in re.findall(r"\b(\w+)_hash\b", text)}


def prepare(records: DataFrame, config: ResolutionConfig, truth_column: str | None = None) -> Prepared:
    """Features, anchors and conflicts, block keys; ``facts["prepare_seconds"]`` times each step
    (each ends in a checkpoint, so each is its own work)."""
    base, delivered = features.deliver(records, config, truth_column)
    prepared = prepare_delivered(base, delivered, config)
    prepared.facts["missing_fields"] = features.missing_fields(config, records.columns)
    return prepared


def prepare_delivered(base: DataFrame, delivered: DataFrame, config: ResolutionConfig,
                      block_sizes: DataFrame | None = None) -> Prepared:
    """:func:`prepare` from delivered values (:func:`features.deliver`), which may be a part of the
    night's records; ``block_sizes``: the night's block sizes for that part's keys (see
    :func:`blocking.with_block_keys`)."""
    comparisons = comparisons_of(config)
    steps = Phases()
    featured, facts = features.normalise(delivered, config, hashed=hashed_features(config, comparisons))
    _check_sql(featured, config, comparisons)
    steps.done("features")
    anchored = identifiers.anchor(featured, config)
    anchored, conflict_rows = identifiers.conflicts(anchored, config, comparisons)
    anchored = anchored.transform(local_checkpoint)
    steps.done("anchors_and_conflicts")
    keyed, block_report = blocking.with_block_keys(anchored, config, block_sizes)
    keyed = keyed.transform(local_checkpoint)
    steps.done("block_keys")
    facts["blocking_rules"] = block_report
    facts["prepare_seconds"] = steps.seconds
    conflicts = conflict_rows.select("record_key", F.lit("identifier_conflict").alias("reason"),
                                     "representative_key", "identifier", "masked_identifier", "action")
    ambiguous = identifiers.ambiguous(keyed).select(
        "record_key", "reason", F.lit(None).cast("string").alias("representative_key"),
        F.lit(None).cast("string").alias("identifier"), F.lit(None).cast("string").alias("masked_identifier"),
        F.lit("flag").alias("action"))
    return Prepared(base, keyed, conflicts.unionByName(ambiguous), comparisons, facts)


def _unanchored(prefix_l: str = "l", prefix_r: str = "r") -> Column:
    return F.col(f"{prefix_l}.{ANCHOR}").isNull() | F.col(f"{prefix_r}.{ANCHOR}").isNull()


@dataclass(frozen=True)
class PairFacts:
    """One EM-pass row: a count of blocked pairs sharing all of these."""

    rule: int
    pattern: int
    scored: bool  # at least one record without an anchor
    same_anchor: bool | None  # both anchored: the same anchor or not; else None
    same_truth: bool | None
    count: int


def pattern_counts(prepared: Prepared, config: ResolutionConfig) -> list[PairFacts]:
    """EM pass: blocked pairs counted by (rule, pattern, scored, same anchor, same truth).

    The five are packed into one long per pair (a single-key aggregate, the fastest Spark has)
    and unpacked in the driver."""
    has_truth = TRUTH in prepared.keyed.columns
    comparisons = prepared.comparisons
    patterns = math.prod(comparison.radix for comparison in comparisons)
    both = F.col(f"l.{ANCHOR}").isNotNull() & F.col(f"r.{ANCHOR}").isNotNull()
    anchor_code = F.when(~both, 0).when(F.col(f"l.{ANCHOR}") == F.col(f"r.{ANCHOR}"), 1).otherwise(2)
    truth_code = (F.when(F.col(f"l.{TRUTH}") == F.col(f"r.{TRUTH}"), 1).when(F.col(f"l.{TRUTH}").isNotNull()
                  & F.col(f"r.{TRUTH}").isNotNull(), 2).otherwise(0) if has_truth else F.lit(0))

    def project(rule: int) -> list[Column]:
        flags = anchor_code + F.lit(3) * (_unanchored().cast("int") + F.lit(2) * (truth_code + F.lit(3 * rule)))
        return [(pattern(comparisons).cast("long") + F.lit(patterns).cast("long") * flags.cast("long")).alias("code")]

    candidate = blocking.pairs(prepared.keyed, len(config.blocking.rules), project)
    facts = []
    for row in candidate.groupBy("code").count().collect():
        code, flags = divmod(row.code, patterns)[1], row.code // patterns
        anchor, flags = flags % 3, flags // 3
        scored, flags = flags % 2, flags // 2
        truth, rule = flags % 3, flags // 3
        facts.append(PairFacts(rule, code, bool(scored), {0: None, 1: True, 2: False}[anchor],
                               {0: None, 1: True, 2: False}[truth], row["count"]))
    return facts


def random_pattern_counts(prepared: Prepared, config: ResolutionConfig, records: int) -> dict[int, int]:
    """Pattern counts over random pairs (for u): a sample's pairs, pairs sharing an anchor left out."""
    size = max(2, math.ceil(math.sqrt(2 * config.em.random_pairs)))
    fraction = min(1.0, 1.2 * size / max(records, 1))
    sample = prepared.keyed.sample(False, fraction, config.em.seed).limit(size)
    sample = sample.transform(local_checkpoint)
    joined = sample.alias("l").join(sample.alias("r"), (F.col(f"l.{RID}") < F.col(f"r.{RID}"))
                                    & ~F.coalesce(F.col(f"l.{ANCHOR}") == F.col(f"r.{ANCHOR}"), F.lit(False)))
    rows = joined.select(pattern(prepared.comparisons).alias("pattern")).groupBy("pattern").count().collect()
    return {row.pattern: row["count"] for row in rows}


def weight_of(comparisons: list[Comparison], model: fs.Model) -> Column:
    """The pair's match weight: each comparison's log2 weight (a CASE), summed."""
    total = None
    for comparison in comparisons:
        term = comparison.weight(model.comparison(comparison.name).weights)
        total = term if total is None else total + term
    return total


def score(prepared: Prepared, config: ResolutionConfig, model: fs.Model, *, left: DataFrame | None = None,
          order: Column | None = None, keyed: DataFrame | None = None, known_pairs: int | None = None
          ) -> tuple[DataFrame, dict]:
    """Scoring pass: pairs (l < r row ids, weight) at or above the review weight, checkpointed,
    and facts (pairs scored, seconds, pairs per second).

    The candidate pairs are scored where the blocking join makes them, in one generated stage
    (join, the comparisons' CASEs summed, the filter). ``known_pairs``: how many pairs that is,
    when the EM pass has counted them; otherwise they are counted on the way (an observation,
    which costs the stage a little)."""
    keyed = keyed if keyed is not None else prepared.keyed
    weight = weight_of(prepared.comparisons, model)
    base_order = (F.col(f"l.{RID}") < F.col(f"r.{RID}")) if order is None else order
    # spark_partition_id() is not deterministic, so the optimizer keeps the weight filter above
    # this projection: pushed into the join condition, the weight would be computed twice per
    # pair in one generated method, too big for the JIT to compile
    candidate = blocking.pairs(keyed, len(config.blocking.rules),
                               lambda rule: [F.col(f"l.{RID}").alias("l"), F.col(f"r.{RID}").alias("r"),
                                             weight.alias("weight"), F.spark_partition_id().alias("__part")],
                               left=left, order=base_order & _unanchored())
    observation = None
    if known_pairs is None:
        observation = Observation("scored")
        candidate = candidate.observe(observation, F.count(F.lit(1)).alias("pairs"))
    kept = candidate.where(F.col("weight") >= F.lit(model.review_weight)).drop("__part")
    if left is not None:  # a left record may sit on either side of the ordering
        kept = kept.select(F.least("l", "r").alias("l"), F.greatest("l", "r").alias("r"), "weight")
    started = time.perf_counter()
    if observation is not None and is_remote(kept.sparkSession):
        # a Spark Connect client hears a query's observed metrics from a query, not from a
        # checkpoint command: the pairs are counted into a cache, and checkpointed from it
        cached = kept.persist()
        cached.count()
        kept = cached.transform(local_checkpoint)
        cached.unpersist()
    else:
        kept = kept.transform(local_checkpoint)
    seconds = time.perf_counter() - started
    pairs = known_pairs if observation is None else int(observation.get["pairs"])
    return kept, {"pairs_scored": pairs, "seconds": round(seconds, 3),
                  "pairs_per_second": round(pairs / seconds) if seconds > 0 else None}


def _fields_named(text: str, config: ResolutionConfig, qualified: bool) -> set[str]:
    """The fields whose features a piece of SQL names (``l.name_pinyin`` -> name)."""
    names = set(re.findall(r"\b[lr]\.(\w+)", text)) if qualified else names_in(text)
    return {name_of_field for name_of_field in config.fields
            if any(name == name_of_field or name.startswith(name_of_field + "_") for name in names)}


def blocked_comparisons(config: ResolutionConfig, comparisons: list[Comparison]) -> dict[int, set[int]]:
    """Rule index -> the comparisons that read a field the rule's keys read."""
    used = []
    for spec, comparison in zip(config.comparisons, comparisons):
        if spec.field is not None:
            used.append({spec.field})
        else:
            text = " ".join(comparison.sql)
            used.append(_fields_named(text, config, qualified=True))
    result = {}
    for index, rule in enumerate(config.blocking.rules):
        fields = _fields_named(" ".join(rule.keys), config, qualified=False)
        result[index] = {k for k, comparison_fields in enumerate(used) if comparison_fields & fields}
    return result


def fit_model(prepared: Prepared, config: ResolutionConfig, records: int) -> tuple[fs.Model, dict]:
    """The EM pass and the random pairs -> the model, and the blocking facts they give."""
    rows = pattern_counts(prepared, config)
    counts: dict[tuple[int, bool | None], int] = {}
    per_rule = [0] * len(config.blocking.rules)
    scored = same_anchor = both_anchored = true_kept = true_kept_scored = 0
    for row in rows:
        n = row.count
        key = (row.pattern, row.same_anchor, row.rule)
        counts[key] = counts.get(key, 0) + n
        per_rule[row.rule] += n
        scored += n if row.scored else 0
        if row.same_anchor is not None:
            both_anchored += n
            same_anchor += n if row.same_anchor else 0
        if row.same_truth:
            true_kept += n
            true_kept_scored += n if row.scored else 0
    initial_share = same_anchor / both_anchored if both_anchored and same_anchor else 0.01
    random_counts = random_pattern_counts(prepared, config, records)
    identifier_fields = set(config.identifiers)
    own = tuple(index for index, spec in enumerate(config.comparisons)
                if spec.type == "identifier" and spec.field in identifier_fields)
    candidates = sum(per_rule)
    model = fs.fit(counts, random_counts, prepared.comparisons,
                   accept_probability=config.thresholds.accept_probability,
                   review_probability=config.thresholds.review_probability,
                   match_weight=config.thresholds.match_weight, initial_match_share=initial_share,
                   candidate_pairs=candidates, record_pairs=records * (records - 1) // 2,
                   fix_u=config.em.fix_u, max_iterations=config.em.max_iterations, tolerance=config.em.tolerance,
                   unlabelled_only=own, prior_pairs=config.em.prior_pairs,
                   blocked_on=blocked_comparisons(config, prepared.comparisons))
    facts = {
        "candidate_pairs": candidates, "pairs_per_rule": per_rule, "pairs_to_score": scored,
        "pairs_labelled_by_identifiers": both_anchored,
        "random_pairs": sum(random_counts.values()), "patterns": len({key[0] for key in counts}),
        "true_pairs_kept": true_kept, "true_pairs_kept_scored": true_kept_scored,
    }
    return model, facts


def cluster_label(label: Column) -> Column:
    """The cluster column: a hash of the propagation label (which may hold an identifier)."""
    return F.upper(F.substring(F.sha2(label, 256), 1, 16))


def finish(prepared: Prepared, config: ResolutionConfig, model: fs.Model, scored: DataFrame,
           keyed: DataFrame | None = None) -> dict:
    """Links, review pairs and clusters from the scored pairs."""
    keyed = keyed if keyed is not None else prepared.keyed
    links = scored.where(F.col("weight") >= F.lit(model.accept_weight)).transform(local_checkpoint)
    labels, facts = clustering.cluster(keyed.select(RID, KEY, ANCHOR), links, config.clustering.max_iterations)
    labels = labels.transform(local_checkpoint)
    broken = clustering.broken_links(links, labels)
    keys = keyed.select(RID, KEY)
    prior = math.log2(model.match_share / (1 - model.match_share))
    probability = 1 / (1 + F.pow(F.lit(2.0), -(F.col("weight") + F.lit(prior))))

    def with_keys(pairs: DataFrame) -> DataFrame:
        return (pairs.join(keys.select(F.col(RID).alias("l"), F.col(KEY).alias("left_key")), "l")
                .join(keys.select(F.col(RID).alias("r"), F.col(KEY).alias("right_key")), "r"))

    review = with_keys(scored.where(F.col("weight") < F.lit(model.accept_weight))).select(
        "left_key", "right_key", "weight", probability.alias("probability"), F.lit("probable_match").alias("reason"))
    review = review.unionByName(with_keys(broken).select(
        "left_key", "right_key", "weight", probability.alias("probability"),
        F.lit("links_two_identified_clusters").alias("reason")))
    accepted = with_keys(links).select("left_key", "right_key", "weight", probability.alias("probability"))
    review = review.transform(local_checkpoint)  # counted for the report, then written: joined with the keys once
    return {"labels": labels, "links": accepted, "review": review, "clustering": facts,
            "links_count": links.count()}


def records_out(prepared: Prepared, labels: DataFrame, config: ResolutionConfig) -> DataFrame:
    """Input rows with record_key, content_hash, cluster, resolved_by, review_reason and the index
    (block_keys, identifiers). ``labels``: RID and the propagation label (hashed into the cluster
    value)."""
    meta = prepared.keyed.select(RID, KEY, HASH, ANCHOR_TYPE, REVIEW, blocking.BLOCK_KEYS, identifiers.IDENTIFIER_KEYS)
    sizes = labels.groupBy(clustering.LABEL).agg(F.count(F.lit(1)).alias("__size"))
    labelled = labels.join(sizes, clustering.LABEL)
    reserved = set(OUTPUT_COLUMNS) | {config.ids.column}
    kept = [F.col(f"`{name}`") for name in prepared.base.columns if name != RID and name not in reserved]
    return prepared.base.join(meta, RID).join(labelled, RID).select(
        *kept,
        F.col(KEY).alias("record_key"), F.col(HASH).alias("content_hash"),
        cluster_label(F.col(clustering.LABEL)).alias("cluster"),
        F.coalesce(F.col(ANCHOR_TYPE), F.when(F.col("__size") > 1, F.lit("linkage")).otherwise(F.lit("alone")))
        .alias("resolved_by"),
        F.col(REVIEW).alias("review_reason"),
        F.col(blocking.BLOCK_KEYS).alias("block_keys"), F.col(identifiers.IDENTIFIER_KEYS).alias("identifiers"),
    )


def with_ids(records: DataFrame, previous_ids: DataFrame | None, config: ResolutionConfig, salt: str,
             reserved_ids: DataFrame | None = None) -> tuple[DataFrame, DataFrame]:
    clusters = records.select("record_key", "cluster").distinct()
    ids, history = assign_ids(clusters, previous_ids, id_column=config.ids.column, prefix=config.ids.prefix,
                              salt=salt, reserved_ids=reserved_ids)
    return records.join(ids, ["record_key", "cluster"]), history


def resolve(records: DataFrame, config: ResolutionConfig, *, previous_ids: DataFrame | None = None,
            truth_column: str | None = None, model: fs.Model | None = None, salt: str = "") -> Resolution:
    """Resolves a table of records (persons, organisations, ...) as the configuration says.

    ``previous_ids``: last night's ``record_key`` -> id column map, so ids persist; ``model``: a
    fitted model to reuse (skips EM); ``truth_column``: true keys, to report blocking pair
    completeness and pairwise and cluster F1; ``salt``: mixed into new ids (the night)."""
    phases = Phases()
    prepared = prepare(records, config, truth_column)
    total = prepared.keyed.count()
    phases.done("prepare")

    em_facts: dict = {}
    if model is None:
        model, em_facts = fit_model(prepared, config, total)
    phases.done("model")

    scored, scoring = score(prepared, config, model, known_pairs=em_facts.get("pairs_to_score"))
    phases.done("scoring")

    finished = finish(prepared, config, model, scored)
    out = records_out(prepared, finished["labels"], config).transform(local_checkpoint)
    out, history = with_ids(out, previous_ids, config, salt)
    out = out.transform(local_checkpoint)
    phases.done("clustering_and_ids")

    report = _report(prepared, config, model, total, em_facts, scoring, finished, out, truth_column)
    report["seconds"] = {**phases.seconds, "total": phases.elapsed(),
                         "prepare_steps": prepared.facts["prepare_seconds"]}
    return Resolution(out, finished["links"], finished["review"], prepared.conflicts, history, model, report)


def _report(prepared: Prepared, config: ResolutionConfig, model: fs.Model, total: int, em_facts: dict,
            scoring: dict, finished: dict, out: DataFrame, truth_column: str | None) -> dict:
    from citylake.resolution import evaluate

    counts = out.agg(
        F.countDistinct("cluster").alias("clusters"),
        F.sum(F.when(F.col("resolved_by") == "linkage", 1).otherwise(0)).alias("linked"),
        F.sum(F.when(F.col("resolved_by") == "alone", 1).otherwise(0)).alias("alone"),
        F.sum(F.when(F.col("review_reason").isNotNull(), 1).otherwise(0)).alias("flagged"),
    ).first()
    anchored = {row[ANCHOR_TYPE]: row["count"] for row in
                prepared.keyed.where(F.col(ANCHOR_TYPE).isNotNull()).groupBy(ANCHOR_TYPE).count().collect()}
    blocking_report: dict = {"rules": prepared.facts["blocking_rules"],
                             "max_block_size": config.blocking.max_block_size}
    if em_facts:
        for rule, pairs in zip(blocking_report["rules"], em_facts["pairs_per_rule"]):
            rule["pairs"] = pairs
        blocking_report |= {
            "candidate_pairs": em_facts["candidate_pairs"],
            "candidate_pairs_per_record": round(em_facts["candidate_pairs"] / max(total, 1), 3),
            "pairs_to_score": em_facts["pairs_to_score"],
            "pairs_labelled_by_identifiers": em_facts["pairs_labelled_by_identifiers"],
        }
    report = {
        "library": config.library,
        "config": config.source,
        "records": total,
        "missing_fields": prepared.facts["missing_fields"],
        "pinyin_characters": prepared.facts["pinyin_characters"],
        "anchored_records": anchored,
        "blocking": blocking_report,
        "model": model.report() | {"random_pairs": em_facts.get("random_pairs"), "patterns": em_facts.get("patterns")},
        "thresholds": {
            "accept_probability": model.accept_probability, "accept_weight": round(model.accept_weight, 3),
            "review_probability": model.review_probability, "review_weight": round(model.review_weight, 3),
            "how": "match_weight from the configuration" if config.thresholds.match_weight is not None
                   else "posterior probability under the EM match share (no labels)",
        },
        "scoring": scoring,
        "links": {"accepted": finished["links_count"]},
        "clustering": finished["clustering"],
        "clusters": counts["clusters"],
        "records_linked_without_identifier": counts["linked"],
        "records_alone": counts["alone"],
        "records_flagged": counts["flagged"],
        "conflicts": prepared.conflicts.count(),
        "review_pairs": finished["review"].count(),
    }
    if truth_column is not None:
        truth = out.select("cluster", F.col(f"`{truth_column}`").cast("string").alias("truth"))
        report["evaluation"] = evaluate.scores(truth, "cluster", "truth")
        if em_facts:
            completeness = evaluate.blocking_completeness_counts(prepared.keyed.select(TRUTH, ANCHOR))
            report["blocking"]["pair_completeness"] = _share(em_facts["true_pairs_kept"], completeness["true_pairs"])
            report["blocking"]["pair_completeness_unanchored"] = _share(
                em_facts["true_pairs_kept_scored"], completeness["true_pairs_with_unanchored"])
            report["blocking"]["true_pairs"] = completeness["true_pairs"]
    return report


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None
