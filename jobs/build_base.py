"""Base libraries: who is who across departments, resolved and kept night to night.

    spark-submit jobs/build_base.py --library population legal_entity credit --run-date 2026-11-23

The nightly run builds the three in one application (the DAG citylake_base_libraries), each after
those it reads: legal_entity links its representatives to the population, credit links to both.
The legal entities' resolution reads no population table, so it runs alongside the population's
build, and the representatives are linked once the population is published; credit is linked
meanwhile, and written once the legal entities are published (build_libraries).
One library can be built alone (``--library credit``), once those it reads are built.

population, legal_entity: the night's person (organisation) records of every source
(citylake/population.py, citylake/legal_entity.py) are resolved with resolution/<config>.yaml.
The first night is a full resolution; later nights are incremental against the previous night's
resolution and model (only the clusters that new, changed and deleted records touch are resolved
again, found through the previous night's index; ids persist, merges and splits go to the id
history). A record is changed when the standard rows it is delivered in (their ``_row_hash``) or
the mapping that makes it are: an incremental night compares each source's rows with those of the
batch last night read (narrow sets of row ids) and makes only the records of the keys whose rows
changed (citylake/base.py: night_changes); when a mapping changed (the code that makes records
of rows), it reads every record narrow and makes only the new and changed ones whole
(citylake/base.py: rows_by_hash).
Written, per night so a rerun replaces its own night:

  base/<library>_records        every record with its person_id/entity_id, how it was resolved,
                                why it is flagged, and the index the next night reads (block keys,
                                valid identifiers), in versions: a row holds from the night it was
                                written (night) until another replaced it or the record left
                                (valid_to); an incremental night writes only the records not as
                                they were (lake.write_versions: one MERGE, deletion vectors), and
                                a night's records are read with base.records_as_of. Nights are
                                built in order: a night is refused under a later one built
  base/<library>_id_history     new ids, merges, splits, moves, removals
  base/resolution_review        conflicts (one identifier, clearly different people or names)
                                and probable matches for a clerk; never merged silently (an
                                incremental night keeps last night's rows about the records it
                                did not resolve again)
  base/resolution_models        the fitted model, reused by the next night's incremental run
and, after the gate expectations/base.<library>.json passes, the golden records base/<library>
and their SCD type 2 history base/<library>_history. On an incremental night only the golden
records of the persons (entities) the resolution resolved again are built again; every other one
is last night's, read from the commit that night tagged (golden_records, citylake/base.py:
refreshed); and only those persons' rows are written, to the golden records and their history
(publish: one MERGE each, lake.write_changes, tagged with the night, against the commits last
night tagged; a rerun restores those first). The resolution's report (counts, timings,
model; no personal data) goes to reports/<date>/resolution/<library>.json, the seconds of each
phase of the build (sources, resolve, golden, gate, writes, history) to reports/<date>/build/.

credit: citylake/credit.py: base/credit (every credit record linked to a person or entity),
the unlinked ones in ops/quarantine (stage credit_linkage, with the reason), base/credit_profile_
entity, base/credit_profile_person and base/joint_punishment.

Reads each source's last published night (citylake/ledger.py): a night rejected, only landed or
failed at its gate is never what a library reads, and the build report's freshness lines say
which night was read when tonight's was not published. Refuses to build from stale sources: the
library's anchor source (household registration, the enterprise registry) must have been
published, and every source it reads at most its contract's freshness_days old.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import NamedTuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import base, contracts, credit, job, joins, lake, quality
from citylake import ledger as landing_ledger
from citylake import legal_entity, population
from citylake.checkpoint import local_checkpoint
from citylake.concurrency import concurrently
from citylake.contracts import Contract
from citylake.legal_entity import ENTITY_SOURCES, entity_records, entity_survivors, with_representative
from citylake.metrics import freshness_check
from citylake.population import PERSON_SOURCES, golden_population, person_records
from citylake.resolution import Model, ResolutionConfig, TonightChanges, load_config, resolve, resolve_incremental
from citylake.resolution.engine import Resolution
from citylake.resolution.features import content_hash
from citylake.resolution.incremental import needs_every_record
from citylake.settings import PROJECT_ROOT, Settings
from citylake.spark import own_session
from citylake.standardise import ROW_HASH, content_columns
from citylake.timing import Phases

log = logging.getLogger("citylake.build_base")

LIBRARIES = base.LIBRARIES
SOURCES = {"population": PERSON_SOURCES, "legal_entity": ENTITY_SOURCES, "credit": credit.CREDIT_SOURCES}
ANCHOR_SOURCES = {"population": ["household_registration"], "legal_entity": ["enterprise_registry"],
                  "credit": []}
CONFIGS = {"population": "person.yaml", "legal_entity": "legal_entity.yaml"}
TRACKED = {
    "population": ["identity_number", "name", "sex", "birth_date", "ethnicity", "address", "division_code",
                   "death_date"],
    "legal_entity": ["credit_code", "entity_name", "legal_representative_name", "legal_representative_person_id",
                     "registered_address", "division_code", "status"],
}
KEYS = {"population": "person_id", "legal_entity": "entity_id"}
GOLDEN_INPUTS = {"population": population.GOLDEN_INPUTS, "legal_entity": legal_entity.GOLDEN_INPUTS}
# Change it with the survivorship rules (citylake/population.py, citylake/legal_entity.py): the
# next night then builds every golden record again instead of keeping last night's.
SURVIVORSHIP_RULES = "2026-12-02"
CREDIT_STAGE = "credit_linkage"


def landed_nights(spark: SparkSession, settings: Settings) -> dict[str, list[date]]:
    """Each source's nights with a published batch, oldest first (citylake/ledger.py): the ledger
    read once (a build asks for several nights' sources: tonight's, last night's). A night that
    was rejected, is only landed, or failed its gate is not among them: the libraries read a
    source's last published night instead."""
    return landing_ledger.published_nights(spark, settings)


def latest_landed(spark: SparkSession, settings: Settings, run_date: str,
                  landed: dict[str, list[date]] | None = None) -> dict[str, date]:
    """Each source's newest published batch date, up to the night being processed (``landed``:
    the ledger's nights, :func:`landed_nights`, when already read)."""
    landed = landed_nights(spark, settings) if landed is None else landed
    night = date.fromisoformat(run_date)
    return {source: max(earlier) for source, nights in landed.items()
            if (earlier := [found for found in nights if found <= night])}


def standard_tables(spark: SparkSession, settings: Settings, library: str, run_date: str,
                    ledger: dict[str, list[date]] | None = None) -> tuple[dict[str, DataFrame], list[str]]:
    """The library's sources' standard tables, each its latest batch up to tonight (a night's
    extract is the department's whole current set, so a record missing from it is gone), after the
    freshness check (``ledger``: :func:`landed_nights`, when already read)."""
    declared = base.feeding_sources(contracts.load_all().values(), SOURCES[library])
    landed = latest_landed(spark, settings, run_date, ledger)
    night = date.fromisoformat(run_date)
    checks = [freshness_check(c.name, landed.get(c.name), night, c.freshness_days)
              for c in declared if c.name in landed or c.name in ANCHOR_SOURCES[library]]
    tonight = landing_ledger.statuses_of(spark, settings, night.isoformat())
    checks = [dataclasses.replace(check, tonight=tonight.get(check.source)) for check in checks]
    stale = [check.describe() for check in checks if not check.passed]
    if stale:
        raise quality.GateFailed(f"{library}: not built, stale sources: {'; '.join(stale)}")
    standards = {}
    for contract in declared:
        path = lake.path(settings, lake.STANDARD, contract.name)
        if contract.name in landed and lake.exists(spark, path):
            # each night's extract is the department's whole current set: its latest batch
            latest_batch = lake.batch_id(contract.name, landed[contract.name].isoformat())
            standards[contract.name] = lake.read(spark, path).filter(f"_batch_id = {lake.sql_literal(latest_batch)}")
    if not standards:
        raise RuntimeError(f"{library}: no standardised source yet (sources: {', '.join(SOURCES[library])})")
    return with_row_hashes(standards), [check.describe() for check in checks]


def with_row_hashes(batches: dict[str, DataFrame]) -> dict[str, DataFrame]:
    """Standard batches, by source, whose every row has its ``_row_hash`` (what its records'
    content is a function of, citylake/base.py): as standardised, or made now over the contract's
    columns the table has where a row has none (a batch standardised before the hash existed).
    Checked in one Spark job for all the batches, on the one narrow column, so a batch that has
    them all is read as it is (and narrow where only the hash is read: a hash made where it lacks
    reads every column). Delta's file statistics (``_row_hash``'s null count) skip every file
    whose rows all have one, so the check reads no rows (measured at 1M residents: no file read, a
    count 0.5 s warm); what a profile gives it is the first read of each table's log."""
    hashed = [source for source, batch in batches.items() if ROW_HASH in batch.columns]
    lacking = set(batches) - set(hashed)
    if hashed:
        probe = base.union_all([batches[source].where(F.col(ROW_HASH).isNull()).limit(1).select(
            F.lit(source).alias("source")) for source in hashed])
        lacking |= {row.source for row in probe.collect()}
    declared = contracts.load_all() if lacking else {}
    return {source: batch if source not in lacking else _with_row_hash_made(batch, declared[source])
            for source, batch in batches.items()}


def _with_row_hash_made(batch: DataFrame, contract: Contract) -> DataFrame:
    made = content_hash([F.col(f"`{name}`") for name in content_columns(contract) if name in batch.columns])
    return batch.withColumn(ROW_HASH, F.coalesce(F.col(ROW_HASH), made) if ROW_HASH in batch.columns else made)


def _night_table(spark: SparkSession, settings: Settings, name: str, before: str, library: str | None = None
                 ) -> tuple[DataFrame | None, str | None]:
    """A per-night table's latest night before ``before`` (and that night), or (None, None)."""
    path = lake.path(settings, lake.BASE, name)
    if not lake.exists(spark, path):
        return None, None
    table = lake.read(spark, path).where(F.col("night") < F.lit(before).cast("date"))
    if library is not None:
        table = table.where(F.col("library") == library)
    latest = table.agg(F.max("night")).first()[0]
    if latest is None:
        return None, None
    return table.where(F.col("night") == F.lit(latest)), str(latest)


def _records(spark: SparkSession, settings: Settings, library: str, night: str) -> DataFrame:
    """The library's resolution records as they were on ``night`` (base/<library>_records keeps
    each record's versions, citylake/base.py: records_as_of)."""
    return base.records_as_of(lake.read(spark, lake.path(settings, lake.BASE, f"{library}_records")), night)


def _write_records(spark: SparkSession, settings: Settings, library: str, result: Resolution, run_date: str,
                   previous_night: str | None) -> None:
    """Tonight's resolution records into base/<library>_records: on an incremental night only the
    records whose row differs from last night's get a new version (and their old one, and a gone
    record's, ends), so a night writes what changed, not every record again. A full night, or a
    table still in the older layout (a copy of every record per night), writes every record."""
    path = lake.path(settings, lake.BASE, f"{library}_records")
    if lake.exists(spark, path) and base.VERSION_TO not in lake.read(spark, path).columns:
        log.warning("%s: base/%s_records is in the older layout (a copy per night): written anew, every "
                    "record holding from %s (earlier nights' copies stay readable by time travel)", library,
                    library, run_date)
        lake.overwrite(result.records.withColumns({base.VERSION_FROM: F.lit(run_date).cast("date"),
                                                   base.VERSION_TO: F.lit(None).cast("date")}), path)
        return
    incremental = result.changed is not None and result.ended_keys is not None
    lake.write_versions(spark, path, result.changed if incremental else result.records,
                        result.ended_keys if incremental else None, "record_key", run_date, previous_night)


def _refuse_if_later_built(spark: SparkSession, settings: Settings, library: str, run_date: str) -> None:
    """A night is built after the nights before it, never under a later one already built: its
    records would be undone (base/<library>_records holds each record's versions night after
    night)."""
    path = lake.path(settings, lake.BASE, "resolution_models")
    if not lake.exists(spark, path):
        return
    later = (lake.read(spark, path).where((F.col("library") == library) & (F.col("night") > F.lit(run_date).cast("date")))
             .agg(F.max("night")).first()[0])
    if later is not None:
        raise RuntimeError(f"{library}: night {run_date} not built: a later night ({later}) is built already; "
                           f"nights are built in order (run the latest night again instead)")


def _write_night(frame: DataFrame, settings: Settings, name: str, run_date: str, library: str | None = None) -> None:
    predicate = f"night = DATE {lake.sql_literal(run_date)}"
    frame = frame.withColumn("night", F.lit(run_date).cast("date"))
    if library is not None:
        predicate += f" AND library = {lake.sql_literal(library)}"
        frame = frame.withColumn("library", F.lit(library))
    lake.replace_where(frame, lake.path(settings, lake.BASE, name), predicate)


class Resolved(NamedTuple):
    """Tonight's resolved records as written and, on an incremental night, last night's night,
    last night's ids of the clusters resolved again and the records resolved again (every record
    of those ids and of the ids they have tonight, :class:`citylake.resolution.Resolution`)."""

    records: DataFrame
    previous_night: str | None = None
    replaced_ids: DataFrame | None = None
    again: DataFrame | None = None


def resolve_library(spark: SparkSession, settings: Settings, library: str, make: Callable[..., DataFrame],
                    standards: dict[str, DataFrame], run_date: str, mode: str, phases: Phases,
                    ledger: dict[str, list[date]] | None = None) -> Resolved:
    """Resolves tonight's records (``make`` over the ``standards``, full or incremental), writes
    the per-night tables, returns the resolved records as written (and, on an incremental night,
    last night's). An incremental night makes only the records of the keys whose rows changed
    (:func:`tonight_changes`), or, when it cannot tell, reads every record narrow and makes only
    the new and changed ones whole (:func:`citylake.base.rows_by_hash`)."""
    config = load_config(PROJECT_ROOT / "resolution" / CONFIGS[library])
    _check_content(config, library)
    models, previous_night = _night_table(spark, settings, "resolution_models", run_date, library)
    _refuse_if_later_built(spark, settings, library, run_date)
    has_records = lake.exists(spark, lake.path(settings, lake.BASE, f"{library}_records"))
    previous = _records(spark, settings, library, previous_night) if previous_night and has_records else None
    incremental = mode == "incremental" or (mode == "auto" and previous is not None and models is not None)
    if incremental:
        if previous is None or models is None:
            raise RuntimeError(f"{library}: --mode incremental needs an earlier night's resolution")
        model = Model.from_dict(json.loads(models.first()["model"]))
        changes = tonight_changes(spark, settings, library, make, standards, previous, previous_night, run_date,
                                  ledger)
        result = resolve_incremental(previous, make(standards) if changes is None else changes, config, model,
                                     salt=run_date, fetch=base.rows_by_hash(standards, make))
    else:
        previous_ids = None if previous is None else previous.select("record_key", config.ids.column)
        result = resolve(make(standards), config, previous_ids=previous_ids, salt=run_date)
    phases.done("resolve")
    report = result.report | {"mode": "incremental" if incremental else "full", "previous_night": previous_night}
    folder = settings.reports_dir / run_date / "resolution"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{library}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))

    review = (result.conflicts.select(F.lit("identifier_conflict").alias("kind"), "record_key",
                                      F.col("representative_key").alias("other_key"), "masked_identifier",
                                      F.lit(None).cast("double").alias("probability"))
              .unionByName(result.review.select(F.col("reason").alias("kind"), F.col("left_key").alias("record_key"),
                                                F.col("right_key").alias("other_key"),
                                                F.lit(None).cast("string").alias("masked_identifier"),
                                                "probability")))
    if result.resolved_keys is not None:  # an incremental night: last night's review of the rest stands
        review = review.unionByName(_review_kept(spark, settings, library, run_date,
                                                 result.resolved_keys.unionByName(result.ended_keys)))
    # three tables, none read by another's write: written side by side (citylake/concurrency.py);
    # the model last, once they all are (a night with a model is a resolved night: the next one
    # resolves against its records)
    concurrently(lambda write: write(), [
        lambda: _write_records(spark, settings, library, result, run_date, previous_night),
        lambda: _write_night(result.history, settings, f"{library}_id_history", run_date),
        lambda: _write_night(review, settings, "resolution_review", run_date, library)])
    model_row = spark.createDataFrame([(json.dumps(result.model.to_dict(), sort_keys=True),)], "model string")
    _write_night(model_row, settings, "resolution_models", run_date, library)
    phases.done("write_resolution")
    written = _records(spark, settings, library, run_date)
    log.info("%s: %s resolution of %d records into %d clusters (%s conflicts, %s review pairs)", library,
             report["mode"], report.get("records", 0), report.get("clusters", 0), report.get("conflicts"),
             report.get("review_pairs"))
    if not incremental or result.replaced_ids is None:
        return Resolved(written)
    return Resolved(written, previous_night, result.replaced_ids, result.resolved)


def tonight_changes(spark: SparkSession, settings: Settings, library: str, make: Callable[..., DataFrame],
                    standards: dict[str, DataFrame], previous: DataFrame, previous_night: str, run_date: str,
                    ledger: dict[str, list[date]] | None = None) -> TonightChanges | None:
    """Tonight's records by what changed since ``previous_night`` (:func:`citylake.base.
    night_changes`: the rows of each source whose batch is not last night's, against last
    night's batch), or None when a record could differ with no row changed: a mapping from rows
    to records is not last night's (the code changed), so every record of it is made and compared;
    or when the night is resolved in full (last night's records lack the index or a column)."""
    read = _nights(spark, settings, library, previous_night, ledger)
    tonight = _nights(spark, settings, library, run_date, ledger)
    last_night, changed = {}, {}
    for source, batch in standards.items():
        if read.get(source) is not None and read.get(source) == tonight.get(source):
            continue  # last night's batch, read again: its rows are as they were
        changed[source] = batch
        if source in read:
            batch_id = lake.batch_id(source, read[source].isoformat())
            last_night[source] = lake.read(spark, lake.path(settings, lake.STANDARD, source)).filter(
                f"_batch_id = {lake.sql_literal(batch_id)}")
    last_night = with_row_hashes(last_night)
    if not changed:  # every batch last night's: each compared with itself all the same, for its mappings
        changed, last_night = standards, dict(standards)
    keys, records, mappings = base.night_changes(changed, last_night, make)
    why_full = needs_every_record(previous, records.columns)
    if why_full is not None:
        log.info("%s: %s: every record made", library, why_full)
        return None
    unchanged = {source: batch for source, batch in standards.items() if source not in changed}
    if unchanged:
        mappings |= base.mapping_ids(make(unchanged, every_delivery=True))
    before = base.mapping_ids(previous)
    if mappings != before:
        log.info("%s: how records are made of rows is not as on %s (%s): every record made and compared", library,
                 previous_night, ", ".join(sorted({source for source, _ in mappings ^ before})))
        return None
    return TonightChanges(keys, records)


class Golden(NamedTuple):
    """Tonight's golden records and how they were made; on an incremental night also the keys
    built again (``changed``, checkpointed, and how many: ``changed_rows``) and their golden
    records (``rebuilt``, checkpointed; a changed key without one is gone): every other one is
    last night's, that is the table's version ``since`` (``commits``: the table's commits, read
    once, :func:`citylake.lake.commits`)."""

    records: DataFrame
    made: dict
    changed: DataFrame | None = None
    rebuilt: DataFrame | None = None
    changed_rows: int | None = None
    since: int | None = None
    commits: list | None = None


def golden_records(spark: SparkSession, settings: Settings, library: str, resolved: Resolved, run_date: str,
                   build: Callable[[DataFrame], DataFrame], ledger: dict[str, list[date]] | None = None) -> Golden:
    """Tonight's golden records (``build`` over the resolved records). On an incremental night,
    last night's golden records (the library's commit tagged with that night and these
    survivorship rules) are kept for every person (entity) the resolution left as it was: its
    records, in every column but the configuration's ``provenance`` (none of which survivorship
    reads), its id, how they were resolved and flagged, are last night's. The ids of the clusters
    resolved again, last night's and tonight's, are built again, from the records resolved again
    (which are all of those ids' records: the records of every other id kept it, and no id in use
    elsewhere is given to one resolved again); those are checkpointed, the kept ones are read where
    they lie (from last night's commit, when the gate reads them: only the ones built again are
    written). All are built, and checkpointed, on a full night, when the sources' nights changed
    order (the latest source for an address may be another), or when last night's version cannot
    be read (vacuumed). ``ledger``: the landing ledger's nights (:func:`landed_nights`), when the
    build read it already."""
    key = KEYS[library]
    path = lake.path(settings, lake.BASE, library)
    commits = None if resolved.replaced_ids is None else lake.commits(spark, path)
    version = None if commits is None else lake.tagged_version(spark, path, _golden_tag(resolved.previous_night),
                                                                commits)
    ledger = landed_nights(spark, settings) if ledger is None and version is not None else ledger
    order = (base.same_night_order(_nights(spark, settings, library, resolved.previous_night, ledger),
                                   _nights(spark, settings, library, run_date, ledger)) if version is not None else None)
    if version is not None and order:
        try:
            # every record of a changed id was resolved again: built from those, not from all
            changed = (resolved.replaced_ids.select(key).unionByName(resolved.again.select(key))
                       .where(F.col(key).isNotNull()).distinct().transform(local_checkpoint))
            changed_rows = changed.count()
            golden, rebuilt, kept = base.refreshed(lake.read(spark, path, version), resolved.again, key, changed,
                                                   lambda records: build(records).transform(local_checkpoint),
                                                   changed_rows)
            made = {"mode": "incremental", "from_version": version, "rebuilt": changed_rows,
                    "kept": kept.count()}  # last night's files read: they are there
            return Golden(golden, made, changed, rebuilt, changed_rows, version, commits)
        except Exception as error:  # noqa: BLE001 - last night's files gone: build them all
            log.warning("%s: last night's golden records (version %d) unreadable, building all: %s", library,
                        version, str(error).splitlines()[0])
    made = {"mode": "full"} | ({"why_full": "the sources' nights changed order"} if order is False else {})
    return Golden(build(resolved.records).transform(local_checkpoint), made)


def _nights(spark: SparkSession, settings: Settings, library: str, night: str,
            ledger: dict[str, list[date]] | None = None) -> dict[str, date]:
    """The night of each of the library's sources' batch that a build of ``night`` reads."""
    return {source: landed for source, landed in latest_landed(spark, settings, night, ledger).items()
            if source in SOURCES[library]}


def _check_content(config: ResolutionConfig, library: str) -> None:
    """Keeping a golden record (:func:`golden_records`) is exact only if the resolution's content
    hash covers what survivorship reads: the hash covers every column but the configuration's
    ``provenance`` (or the row and mapping each record is made of, which make all of them), so
    none of it may be read."""
    read = sorted(set(GOLDEN_INPUTS[library]) & set(config.provenance))
    if read:
        raise ValueError(f"resolution/{CONFIGS[library]}: provenance: {', '.join(read)} is read by the {library} "
                         f"golden records, so a change in it must make a record changed: remove it from provenance")


def _golden_tag(night: str | None) -> dict[str, str]:
    return {"night": str(night), "survivorship_rules": SURVIVORSHIP_RULES}


def _review_kept(spark: SparkSession, settings: Settings, library: str, run_date: str, redone: DataFrame
                 ) -> DataFrame:
    """Last night's review rows about records tonight's incremental run left as they were: neither
    record is among ``redone`` (the records it resolved again and those gone tonight: when few,
    sent to every task, so last night's review is not joined with every record's key)."""
    last, _ = _night_table(spark, settings, "resolution_review", run_date, library)
    if last is None:
        return spark.createDataFrame([], "kind string, record_key string, other_key string, "
                                         "masked_identifier string, probability double")
    redone = joins.small(redone.select(F.col("record_key").alias("__key")).distinct().transform(local_checkpoint))
    kept = (last.select("kind", "record_key", "other_key", "masked_identifier", "probability")
            .join(redone, F.col("record_key") == F.col("__key"), "left_anti"))
    return kept.join(redone, F.col("other_key") == F.col("__key"), "left_anti")


def publish(spark: SparkSession, settings: Settings, library: str, made: Golden, run_date: str, run_id: str,
            freshness: list[str], phases: Phases, previous_night: str | None = None) -> int:
    """Gate, then write base/<library> (tagged with the night, see :func:`golden_records`) and
    its SCD2 history (tagged so too). ``made.records``: every golden record; ``made.changed``:
    when only these keys' golden records may differ from last night's (``previous_night``'s, the
    table's version ``made.since``; ``made.rebuilt``: theirs, see :func:`golden_records`), only
    their rows are written (:func:`citylake.lake.write_changes`, on the tables as that night left
    them), else the table is replaced and the history compares every key."""
    golden, changed, rebuilt = made.records, made.changed, made.rebuilt
    report = quality.run_gate(golden, f"base.{library}", run_id, settings.reports_dir / "gx")
    phases.done("gate")
    quality.write_report(settings.reports_dir, run_date, report, freshness=freshness)
    if not report.passed:
        raise quality.GateFailed(f"{library}: not published: {report.summary()}")
    path = lake.path(settings, lake.BASE, library)
    key, tag = KEYS.get(library), _golden_tag(run_date)
    only = None if changed is None else joins.small(changed.select(key), made.changed_rows)
    since = made.since if only is not None else None
    rows = golden if only is None else rebuilt if rebuilt is not None else golden.join(only, key, "left_semi")
    if since is not None and lake.same_columns(spark, path, golden):
        ended = changed.select(F.col(key).alias(lake.ENDS))
        lake.write_changes(spark, path, rows.withColumn(lake.ENDS, F.lit(None).cast("string"))
                           .unionByName(ended, allowMissingColumns=True), key, tag, since, history=made.commits)
    else:
        lake.overwrite(golden, path, tag if key else None, deletion_vectors=library in TRACKED)
    phases.done("write_golden")
    if library in TRACKED:
        history_path = lake.path(settings, lake.BASE, f"{library}_history")
        commits = lake.commits(spark, history_path) if only is not None and previous_night is not None else None
        since = None if commits is None else lake.tagged_version(spark, history_path, _golden_tag(previous_night),
                                                                 commits)
        changes = None if since is None else _history_changes(spark, history_path, since, only, rows, key,
                                                              TRACKED[library], run_date)
        if changes is not None and lake.same_columns(spark, history_path, changes.drop(lake.ENDS)):
            lake.write_changes(spark, history_path, changes, key, tag, since, held="t.is_current",
                               ended={"valid_to": f"DATE{lake.sql_literal(run_date)}", "is_current": "false"},
                               history=commits)
        else:
            previous = (lake.read(spark, history_path).transform(local_checkpoint)
                        if lake.exists(spark, history_path) else None)
            lake.overwrite(base.history(previous, golden, key, TRACKED[library], run_date, changed), history_path,
                           tag, deletion_vectors=True)
        phases.done("history")
    return lake.read(spark, path).count()


def _history_changes(spark: SparkSession, path: str, since: int, keys: DataFrame, golden: DataFrame, key: str,
                     tracked: list[str], night: str) -> DataFrame | None:
    """The night's changes to the history (:func:`citylake.base.history_changes`) of the ``keys``
    built again (``golden``: theirs), against its version ``since``; None when that version
    cannot be read (vacuumed): the history is then compared in full."""
    try:
        return base.history_changes(lake.read(spark, path, since).where("is_current").join(keys, key, "left_semi"),
                                    golden, key, tracked, night).transform(local_checkpoint)
    except Exception as error:  # noqa: BLE001 - last night's files gone
        log.warning("%s: version %d unreadable, the history compared in full: %s", path, since,
                    str(error).splitlines()[0])
        return None


class CreditLinked(NamedTuple):
    """The credit night linked (:func:`link_credit`), not yet written: its phases so far, the
    freshness checks of its sources, the linked records and the unlinked ones (with the reason),
    both checkpointed."""

    phases: Phases
    freshness: list[str]
    linked: DataFrame
    unlinked: DataFrame


def link_credit(spark: SparkSession, settings: Settings, run_date: str, ledger: dict[str, list[date]] | None = None,
                entities: DataFrame | None = None) -> CreditLinked:
    """Tonight's credit records linked to tonight's published population and to ``entities``' (the
    legal entities' golden records, or only their entity_id; when None, the published ones):
    nothing is written, so this may run while the legal entities' golden records are being
    published (the representatives add columns, never an entity)."""
    phases, standards, freshness = _sources(spark, settings, "credit", run_date, ledger)
    population = lake.read(spark, lake.path(settings, lake.BASE, "population"))
    if entities is None:
        entities = lake.read(spark, lake.path(settings, lake.BASE, "legal_entity"))
    records = credit.credit_records(standards)
    # a credit record's party is one of the resolution records of its own source
    person_links, entity_links = [_records(spark, settings, name, run_date).where(
        F.col("source").isin(*credit.CREDIT_SOURCES)) for name in ("population", "legal_entity")]
    linked, unlinked = credit.split(credit.linkage(records, person_links, entity_links, population, entities)
                                    .transform(local_checkpoint))
    phases.done("link")
    return CreditLinked(phases, freshness, linked, unlinked)


def publish_credit(spark: SparkSession, settings: Settings, made: CreditLinked, run_date: str, run_id: str) -> int:
    """The credit night linked (:func:`link_credit`) written, once the libraries it links to are
    published: the unlinked records to the quarantine, the linked ones to base/credit (gated), then
    the profiles and the joint-punishment list; the build report. The credit records published."""
    phases, unlinked = made.phases, made.unlinked
    quarantined = unlinked.select(
        lake.quarantine_id_col(F.col("_batch_id"), F.lit(CREDIT_STAGE), F.col("_line_number")).alias("quarantine_id"),
        F.lit("open").alias("status"), F.col("source"), F.col("_batch_id").alias("batch_id"),
        F.lit(run_id).alias("run_id"), F.lit(CREDIT_STAGE).alias("stage"),
        F.concat(F.lit("CR-LINK-"), F.col("reason")).alias("rule_id"), F.col("reason"),
        F.lit(None).cast("string").alias("file"), F.col("_line_number").cast("int").alias("line_number"),
        F.to_json(F.struct("record_key", "record_type", "party_kind", "reference")).alias("record"),
        F.current_timestamp().alias("quarantined_at"))
    lake.replace_where(quarantined, lake.path(settings, *lake.QUARANTINE),
                       f"stage = {lake.sql_literal(CREDIT_STAGE)}")
    phases.done("write_quarantine")
    rows = publish(spark, settings, "credit", Golden(made.linked, {}), run_date, run_id, made.freshness, phases)
    population = lake.read(spark, lake.path(settings, lake.BASE, "population"))
    legal_entity = lake.read(spark, lake.path(settings, lake.BASE, "legal_entity"))
    linked = lake.read(spark, lake.path(settings, lake.BASE, "credit"))
    profiles = {"credit_profile_entity": credit.entity_profiles(legal_entity, linked),
                "credit_profile_person": credit.person_profiles(population, linked),
                "joint_punishment": credit.joint_punishment(legal_entity, linked)}
    concurrently(lambda name: lake.overwrite(profiles[name], lake.path(settings, lake.BASE, name)), profiles)
    phases.done("profiles")
    log.info("credit: %d records linked, %d quarantined", rows, unlinked.count())
    write_build_report(phases, settings, "credit", run_date)
    return rows


def _sources(spark: SparkSession, settings: Settings, library: str, run_date: str,
             ledger: dict[str, list[date]] | None) -> tuple[Phases, dict[str, DataFrame], list[str]]:
    """A library's night begun: its phases (the first, ``sources``, done), its standard tables and
    their freshness checks (:func:`standard_tables`; ``ledger``: the landing ledger's nights, when
    read already)."""
    phases = Phases()
    standards, freshness = standard_tables(spark, settings, library, run_date,
                                           landed_nights(spark, settings) if ledger is None else ledger)
    phases.done("sources")
    return phases, standards, freshness


def write_build_report(phases: Phases, settings: Settings, library: str, run_date: str, **facts) -> None:
    """reports/<date>/build/<library>.json: the seconds of each phase of the library's build (and
    ``facts``: how its golden records were made)."""
    folder = settings.reports_dir / run_date / "build"
    folder.mkdir(parents=True, exist_ok=True)
    total = round(sum(phases.seconds.values()), 2)
    (folder / f"{library}.json").write_text(json.dumps({"library": library, "seconds": phases.seconds,
                                                        "total": total, **facts}, indent=2))
    log.info("%s: built in %.1f s (%s)", library, total,
             ", ".join(f"{name} {value:.1f}" for name, value in phases.seconds.items()))


class Underway(NamedTuple):
    """A library's night built as far as it can be without another library's: its phases so far,
    the freshness checks of its sources, last night's night and its golden records before the
    legal representatives (the legal entities': :func:`publish_legal_entities`)."""

    phases: Phases
    freshness: list[str]
    previous_night: str | None
    golden: Golden


def build(spark: SparkSession, settings: Settings, library: str, run_date: str, run_id: str,
          mode: str = "auto", ledger: dict[str, list[date]] | None = None) -> int:
    """Builds one library's night (the libraries it reads built already: :func:`build_libraries`).
    ``ledger``: the landing ledger's nights (:func:`landed_nights`), when read already."""
    if library == "credit":
        return publish_credit(spark, settings, link_credit(spark, settings, run_date, ledger), run_date, run_id)
    underway = resolve_and_survive(spark, settings, library, run_date, mode, ledger)
    if library == "legal_entity":
        return publish_legal_entities(spark, settings, underway, run_date, run_id)
    return _published(spark, settings, library, underway, underway.golden, run_date, run_id)


def resolve_and_survive(spark: SparkSession, settings: Settings, library: str, run_date: str, mode: str = "auto",
                        ledger: dict[str, list[date]] | None = None) -> Underway:
    """The population's or the legal entities' night up to the golden records: sources, resolution
    (written), survivorship. Of the legal entities', none of it reads a population table."""
    ledger = landed_nights(spark, settings) if ledger is None else ledger
    phases, standards, freshness = _sources(spark, settings, library, run_date, ledger)
    if library == "population":
        resolved = resolve_library(spark, settings, library, person_records, standards, run_date, mode, phases, ledger)
        survivorship = partial(golden_population, source_nights=_nights(spark, settings, library, run_date, ledger))
        golden = golden_records(spark, settings, library, resolved, run_date, survivorship, ledger)
    else:
        resolved = resolve_library(spark, settings, library, entity_records, standards, run_date, mode, phases, ledger)
        golden = golden_records(spark, settings, library, resolved, run_date, entity_survivors, ledger)
    phases.done("golden")
    return Underway(phases, freshness, resolved.previous_night, golden)


def publish_legal_entities(spark: SparkSession, settings: Settings, underway: Underway, run_date: str,
                           run_id: str) -> int:
    """The legal entities' night, resolved (:func:`resolve_and_survive`), finished once the
    population's is published: each entity's legal representative linked to tonight's population."""
    survivors = underway.golden
    # any entity's representative may be another person tonight: all are written, the history compares all
    # (writing only those built again or whose representative moved, as MERGEs, was measured no faster
    # at 1M residents' 100k entities: 17.8 s against 13.9 s of actions, 2026-12-05)
    golden = Golden(with_representative(survivors.records, _representatives(
        spark, settings, survivors.records, run_date)).transform(local_checkpoint), survivors.made)
    underway.phases.done("representatives")
    return _published(spark, settings, "legal_entity", underway, golden, run_date, run_id)


def _published(spark: SparkSession, settings: Settings, library: str, underway: Underway, golden: Golden,
               run_date: str, run_id: str) -> int:
    log.info("%s: golden records %s", library, golden.made)
    rows = publish(spark, settings, library, golden, run_date, run_id, underway.freshness, underway.phases,
                   underway.previous_night)
    write_build_report(underway.phases, settings, library, run_date, golden=golden.made)
    return rows


def build_libraries(spark: SparkSession, settings: Settings, libraries: list[str], run_date: str, run_id: str,
                    mode: str = "auto") -> dict[str, int]:
    """Builds the ``libraries``' night in one application, each after the libraries it reads
    (LIBRARIES' order: the legal entities link their representatives to the population, credit
    links to both); the rows each published. The legal entities' resolution and survivorship read
    no population table, so they run alongside the population's build (citylake/concurrency.py), on
    a session of their own (citylake/spark.py: own_session); their representatives are linked once
    the population is published (the wait is the phase ``waiting_for_population`` of their build
    report). Credit is linked meanwhile, on their session (it writes nothing until they are
    published: ``waiting_for_legal_entity`` in its report)."""
    unknown = sorted(set(libraries) - set(LIBRARIES))
    if unknown:
        raise ValueError(f"no library {', '.join(unknown)} (the libraries: {', '.join(LIBRARIES)})")
    ledger = landed_nights(spark, settings)
    rows = {}
    if "population" in libraries and "legal_entity" in libraries:
        entities = own_session(spark)
        population, underway = concurrently(lambda work: work(), [
            lambda: build(spark, settings, "population", run_date, run_id, mode, ledger),
            lambda: resolve_and_survive(entities, settings, "legal_entity", run_date, mode, ledger)])
        underway.phases.done("waiting_for_population")
        rows["population"] = population
        if "credit" not in libraries:
            rows["legal_entity"] = publish_legal_entities(entities, settings, underway, run_date, run_id)
        else:  # credit linked while the entities' representatives are: it reads only their entity ids
            rows["legal_entity"], linked = concurrently(lambda work: work(), [
                lambda: publish_legal_entities(entities, settings, underway, run_date, run_id),
                lambda: link_credit(entities, settings, run_date, ledger, underway.golden.records.select("entity_id"))])
            linked.phases.done("waiting_for_legal_entity")
            rows["credit"] = publish_credit(entities, settings, linked, run_date, run_id)
    for library in LIBRARIES:
        if library in libraries and library not in rows:
            rows[library] = build(spark, settings, library, run_date, run_id, mode, ledger)
    return rows


def _representatives(spark: SparkSession, settings: Settings, entities: DataFrame, run_date: str) -> DataFrame:
    """Tonight's population records that may be a legal representative of ``entities``: those
    carrying one of their representatives' identity numbers (few, picked first) and of a golden
    person (a representative links to a golden person only, never to one known from credit alone)."""
    people_path = lake.path(settings, lake.BASE, "population_records")
    population_path = lake.path(settings, lake.BASE, "population")
    if not (lake.exists(spark, people_path) and lake.exists(spark, population_path)):
        return spark.createDataFrame([], "identity_number string, person_id string, resolved_by string")
    numbers = joins.small(entities.select(F.col("legal_representative_identity_number").alias("identity_number"))
                          .where(F.col("identity_number").isNotNull()).distinct().transform(local_checkpoint))
    return (_records(spark, settings, "population", run_date)
            .select("identity_number", "person_id", "resolved_by").join(numbers, "identity_number", "left_semi")
            .join(lake.read(spark, population_path).select("person_id"), "person_id", "left_semi"))


def main(argv: list[str] | None = None) -> int:
    arguments = job.parser(__doc__)
    arguments.add_argument("--library", required=True, nargs="+", choices=LIBRARIES,
                           help="one or more, built in this order: population, legal_entity, credit")
    arguments.add_argument("--mode", choices=("auto", "full", "incremental"), default="auto",
                           help="auto: incremental when an earlier night's resolution exists")
    args = arguments.parse_args(argv)
    settings, spark = job.start(f"base-{'-'.join(args.library)}")
    rows = build_libraries(spark, settings, args.library, args.run_date, job.run_id(args), args.mode)
    for library, count in rows.items():
        log.info("base/%s: %d records", library, count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
