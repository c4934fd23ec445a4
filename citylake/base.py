"""What the three base libraries share: resolution records from standard tables, survivorship,
and history of changes (SCD type 2).

The base libraries are built in order (jobs/build_base.py):

  population     citylake/population.py: every person record of every source (the population
                 sources, and natural-person parties of credit records) resolved by
                 resolution/person.yaml; one golden record per person that a population source
                 knows
  legal_entity   citylake/legal_entity.py: every organisation record (the registry, social
                 organisations, organisation parties of credit records, taxpayers) resolved by
                 resolution/legal_entity.yaml; one golden record per entity the registry or the
                 social organisations know; the legal representative linked to the population
  credit         citylake/credit.py: every licence, penalty, debtor record and tax rating linked
                 to a person_id or an entity_id through the resolutions, or quarantined with the
                 reason; credit profiles and the joint-punishment list

A resolution record is one delivered record's view of a person or organisation, under the
standard field names the resolution configurations read, with a record key that is stable from
night to night (the source and a hash of the contract's key columns, so no identity number shows
in it) and the delivered record's provenance (source, batch, line). Pure DataFrame -> DataFrame
functions; jobs/build_base.py does the reading, resolving and writing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from citylake import joins, lake
from citylake.checkpoint import local_checkpoint
from citylake.concurrency import concurrently
from citylake.contracts import Contract
from citylake.resolution.features import content_hash
from citylake.standardise import ROW_HASH

PROVENANCE = ["source", "_batch_id", "_line_number"]
LIBRARIES = ("population", "legal_entity", "credit")


def record_key(source: str, keys: list[str], role: str | None = None) -> Column:
    """``<source>:<24 hex digits of the key columns' hash>[:<role>]``: stable across nights."""
    digest = F.substring(F.sha2(F.concat_ws("|", *[F.coalesce(F.col(k).cast("string"), F.lit("")) for k in keys]),
                                256), 1, 24)
    parts = [F.lit(source), digest] + ([F.lit(role)] if role else [])
    return F.concat_ws(":", *parts)


MAPPING = "_mapping"  # a fingerprint of how a record is made from its row (as_records)


def as_records(standard: DataFrame, source: str, keys: list[str], columns: dict[str, Column | str | None],
               schema: dict[str, str], *, where: Column | None = None, role: str | None = None) -> DataFrame:
    """A standard table's rows as resolution records: ``schema``'s columns (field -> Spark type)
    taken from ``columns`` (a column name, an expression, or None for a null), plus record_key,
    provenance and what the record's content is a function of: its row's hash (``_row_hash``) and a
    fingerprint of this mapping (the source, keys, role, filter and every column's expression), so
    a record whose row and mapping are as they were is as it was, without comparing its values.
    A standard table without ``_row_hash`` (rows made before it existed, a test's literal rows)
    gets one over its columns that do not start with an underscore."""
    frame = standard if where is None else standard.where(where)
    selected = []
    for field, spark_type in schema.items():
        value = columns.get(field)
        column = F.lit(None) if value is None else (F.col(value) if isinstance(value, str) else value)
        selected.append(column.cast(spark_type).alias(field))
    fingerprint = mapping_fingerprint(source, keys, role, where, selected)
    return with_row_hash(frame).select(
        record_key(source, keys, role).alias("record_key"), F.lit(source).alias("source"), *selected,
        F.col("_batch_id"), F.col("_line_number").cast("long").alias("_line_number"),
        F.col(ROW_HASH), F.lit(fingerprint).alias(MAPPING),
    )


def with_row_hash(standard: DataFrame) -> DataFrame:
    """``standard`` with its ``_row_hash`` column, made over its columns that do not start with an
    underscore where it has none (see :func:`as_records`)."""
    if ROW_HASH in standard.columns:
        return standard
    return standard.withColumn(
        ROW_HASH, content_hash([F.col(f"`{name}`") for name in standard.columns if not name.startswith("_")]))


def mapping_fingerprint(*parts: object) -> str:
    """16 hex digits naming ``parts`` (text, Spark columns: their expressions as Spark prints them),
    the same in every run: a change of a mapping changes it, and so every record it makes."""
    text = repr([str(part) for part in parts])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def rows_by_hash(standards: dict[str, DataFrame], make: Callable[[dict[str, DataFrame]], DataFrame]
                 ) -> Callable[[DataFrame], DataFrame]:
    """For an incremental night (:func:`citylake.resolution.resolve_incremental`'s ``fetch``):
    given some of tonight's records (their ``_row_hash``), the records ``make`` makes of only the
    standard rows with those hashes, so the night's other rows are not mapped (a row's records are
    all made from it; the caller keeps the records it asked for). Each standard table is scanned
    once: the rows found are checkpointed before ``make`` reads them (more than once: the latest
    delivery of each record is picked among them)."""
    def fetch(wanted: DataFrame) -> DataFrame:
        hashes = joins.small(wanted.select(ROW_HASH).distinct().transform(local_checkpoint))
        return make({name: with_row_hash(standard).join(hashes, ROW_HASH, "left_semi").transform(local_checkpoint)
                     for name, standard in standards.items()})
    return fetch


def night_changes(tonight: dict[str, DataFrame], last_night: dict[str, DataFrame],
                  make: Callable[..., DataFrame]) -> tuple[DataFrame, DataFrame, set[tuple[str, int]]]:
    """What an incremental night needs of tonight's records when most rows are last night's
    (:class:`citylake.resolution.TonightChanges`): the record keys whose records may differ from
    last night's, and tonight's records of those keys (checkpointed; a key without one is gone),
    found from the standard rows that changed, without making every record.

    ``tonight``, ``last_night``: the standard batches read tonight and last night, by source
    (those whose batch differs; a source's rows in both as they were give nothing); ``make``: the
    library's standard rows -> records (:func:`latest_per_record` included), and with
    ``every_delivery=True`` every delivery's record, none picked.

    Per source (the sources side by side, citylake/concurrency.py): tonight's deliveries' record
    keys and row ids (:func:`row_id`), narrow; last night's row ids; new rows are tonight's whose
    id last night lacks and gone rows the reverse (sets of longs, the other side sent to every
    task). The keys whose records may differ are those of the new rows and of the gone ones (made
    from last night's few gone rows); each such key's deliveries tonight are then made whole and
    picked again (the pick depends on what was delivered, not on the order, so a key none of whose
    rows changed keeps its record).

    Also gives the mappings (:func:`mapping_ids`) tonight's deliveries were made by: when one is
    not last night's, every record it made may differ without a row changing."""
    def changes_of(source: str) -> tuple[DataFrame, DataFrame | None, set[tuple[str, int]]]:
        now, before = tonight.get(source), last_night.get(source)
        delivered = None if now is None else make({source: now}, every_delivery=True).select(
            "record_key", row_id().alias(ROW_ID), mapping_id().alias("__mapping")).transform(local_checkpoint)
        mappings = (set() if delivered is None
                    else {(source, row[0]) for row in delivered.select("__mapping").distinct().collect()})
        before_ids = (None if before is None
                      else with_row_hash(before).select(row_id().alias(ROW_ID)).transform(local_checkpoint))
        found = []
        if delivered is not None:
            new = delivered if before_ids is None else delivered.join(F.broadcast(before_ids), ROW_ID, "left_anti")
            found.append(new.select("record_key"))
        if before is not None:
            gone = before_ids if delivered is None else before_ids.join(
                F.broadcast(delivered.select(ROW_ID)), ROW_ID, "left_anti")
            gone_rows = with_row_hash(before).join(F.broadcast(gone.distinct()), row_id() == F.col(ROW_ID), "left_semi")
            found.append(make({source: gone_rows}, every_delivery=True).select("record_key"))
        affected = union_all(found).distinct().transform(local_checkpoint)
        rows = None
        if delivered is not None:  # every delivery tonight of those keys, made whole
            wanted = delivered.join(joins.small(affected), "record_key", "left_semi").select(ROW_ID).distinct()
            rows = with_row_hash(now).join(F.broadcast(wanted), row_id() == F.col(ROW_ID),
                                           "left_semi").transform(local_checkpoint)  # read whole once
        return affected, rows, mappings

    keys, rows, mappings = [], {}, set()
    sources = sorted(set(tonight) | set(last_night))
    for source, (affected, found_rows, found_mappings) in zip(sources, concurrently(changes_of, sources)):
        keys.append(affected)
        mappings |= found_mappings
        if found_rows is not None:
            rows[source] = found_rows
    keys = union_all(keys).transform(local_checkpoint)
    if not rows:  # nothing read tonight: no record is there (the columns from last night's batches)
        rows = {source: batch.limit(0) for source, batch in last_night.items()}
    records = make(rows).join(joins.small(keys), "record_key", "left_semi").transform(local_checkpoint)
    return keys, records, mappings


def mapping_id() -> Column:
    """A record's mapping (``_mapping``, :func:`as_records`) as one long (a literal per mapping:
    computed once, not per record)."""
    return F.xxhash64(F.col(MAPPING))


def mapping_ids(records: DataFrame) -> set[tuple[str, int]]:
    """The (source, :func:`mapping_id`) pairs of ``records``."""
    return {(row[0], row[1]) for row in records.select("source", mapping_id()).distinct().collect()}


# up to this many record keys delivered more than once are looked up by every task (below): a
# million keys with their latest delivery are about 100 MB
REPEATED_KEYS_LOOKUP = 2_000_000
ROW_ID = "__row_id"


def row_id(column: str = ROW_HASH) -> Column:
    """A standard row's content as one long: the 64-bit xxhash of its ``_row_hash``, so sets of
    rows are compared as sets of longs (a night's rows against last night's, sent to every task).
    Two of a source's rows with other content share one with a chance of about 2^-64 per pair."""
    return F.xxhash64(F.col(column))


def latest_per_record(records: DataFrame) -> DataFrame:
    """One row per record key: its latest delivery (the later batch; within a batch, an extract
    being a set and not a sequence, the delivery whose row's content ranks first,
    :func:`delivery_order`, so the pick depends on what was delivered, not on where in the file:
    a night whose rows are last night's, reordered, gives last night's records, which an
    incremental night relies on, :func:`night_changes`), with how many deliveries it had (re-sent
    copies, an enrolment delivered once per insurance period). Among identical copies the one
    kept is the one Spark meets last (their content is one; only the line differs).

    The keys delivered more than once, their count and latest delivery, are found from those
    narrow columns alone, in one hash aggregation (a delivery's place is one number, so Spark
    aggregates it in a hash map instead of sorting every record, as it must for the greatest of a
    pair: at 1M residents, 5.5M delivered person records, 16 s against 24 s). When they are not
    too many (REPEATED_KEYS_LOOKUP; a million at 1M residents: social insurance delivers most
    enrolments several times) every task looks a row up among them and keeps it when it is its
    key's latest: no record is shuffled or sorted. Past that, the records are joined with them by
    key."""
    order = delivery_order(records)
    line = F.coalesce(F.col("_line_number").cast("long"), F.lit(-1))
    repeated = (records.groupBy("record_key")
                .agg(F.count(F.lit(1)).alias("deliveries"), F.max(order).alias("__newest"),
                     F.max_by(line, order).alias("__newest_line"))
                .where(F.col("deliveries") > 1)
                .select(F.col("record_key").alias("__key"), "deliveries", "__newest", "__newest_line")
                .transform(local_checkpoint))
    if repeated.count() <= REPEATED_KEYS_LOOKUP:
        repeated = F.broadcast(repeated)
    latest = F.col("__key").isNull() | ((order == F.col("__newest")) & (line == F.col("__newest_line")))
    return (records.join(repeated, F.col("record_key") == F.col("__key"), "left").where(latest)
            .withColumn("deliveries", F.coalesce(F.col("deliveries"), F.lit(1).cast("long")))
            .drop("__key", "__newest", "__newest_line"))


CONTENT_BITS = 55  # a delivery's place: its batch's rank above these bits, its row's content in them


def delivery_order(records: DataFrame) -> Column:
    """A record's place among its key's deliveries as one long: the rank of its batch among the
    batches ``records`` come from (a night's records come from a batch per source: few, collected
    once; a missing batch first), then its row's content (55 bits of :func:`row_id`)."""
    batches = sorted(row[0] for row in records.select("_batch_id").distinct().collect() if row[0] is not None)
    if len(batches) >= 1 << (63 - CONTENT_BITS):
        raise ValueError(f"records from {len(batches)} batches: at most {(1 << (63 - CONTENT_BITS)) - 1} are ranked "
                         f"(a night reads one batch per source)")
    rank = F.coalesce(F.array_position(F.array(*[F.lit(batch) for batch in batches]), F.col("_batch_id")),
                      F.lit(0)) if batches else F.lit(0)
    return F.shiftleft(rank.cast("long"), CONTENT_BITS).bitwiseOR(row_id().bitwiseAND(F.lit((1 << CONTENT_BITS) - 1)))


def union_all(frames: Iterable[DataFrame]) -> DataFrame:
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)


@dataclass(frozen=True)
class Pick:
    """A golden field by survivorship: of a key's records that have a value (and meet ``where``),
    the value of the one that ``first`` ranks first. ``first``: columns compared in order, the
    greatest first (a later batch, a higher line, a source's negated :func:`priority`); the greater
    record key wins a tie, so a rerun picks the same record."""

    value: str
    first: tuple[Column, ...]
    where: Column | None = None


def survivors(records: DataFrame, key: str, picks: list[Pick], facts: tuple[Column, ...] = ()) -> DataFrame:
    """Per key: each pick's value and the record it came from (``<value>_record``), and the
    ``facts`` (aggregate columns), in one aggregation (one shuffle for every field)."""
    chosen = []
    for pick in picks:
        eligible = F.col(pick.value).isNotNull()
        if pick.where is not None:
            eligible = eligible & F.coalesce(pick.where, F.lit(False))
        ranking = F.when(eligible, F.struct(*pick.first, F.col("record_key")))  # max_by skips null rankings
        winner = F.struct(F.col(pick.value).alias("value"), F.col("record_key").alias("record"))
        chosen.append(F.max_by(winner, ranking).alias(f"__pick_{pick.value}"))
    grouped = records.groupBy(key).agg(*chosen, *facts)
    values = [column for pick in picks for column in (F.col(f"__pick_{pick.value}.value").alias(pick.value),
                                                      F.col(f"__pick_{pick.value}.record").alias(f"{pick.value}_record"))]
    return grouped.select(key, *values, *[name for name in grouped.columns if name != key
                                          and not name.startswith("__pick_")])


def same_night_order(before: dict[str, date], after: dict[str, date]) -> bool:
    """Whether the sources both maps have (source -> the night of its batch read) come in the same
    order of nights, ties included: then a record that is as it was keeps its place among the
    others in "the latest source" (a source delivering late would move every record of it)."""
    common = sorted(set(before) & set(after))
    return all((before[a] < before[b]) == (after[a] < after[b]) and (before[a] == before[b]) == (after[a] == after[b])
               for a in common for b in common)


def refreshed(previous: DataFrame, records: DataFrame, key: str, changed: DataFrame,
              build: Callable[[DataFrame], DataFrame], changed_rows: int | None = None
              ) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Tonight's golden records from last night's (``previous``: at least the columns ``build``
    gives): those of the ``changed`` keys built again by ``build`` from their records, every other
    one as it was. Equal to ``build(records)`` when every other key's records are what they were
    last night in all ``build`` reads (and ``build`` ranks records by what they hold, not by where
    they sit in an extract). Gives them all, those built again and those kept (unmaterialised: a
    caller may write the ones built again only). ``changed_rows``: how many ``changed`` holds,
    when the caller counted them."""
    only = joins.small(changed.select(key), changed_rows)  # a night's changed keys: few, sent to every task
    built = build(records.join(only, key, "left_semi"))
    kept = previous.join(only, key, "left_anti").select(*built.columns)
    return kept.unionByName(built), built, kept


def priority(source: Column, ranking: list[str]) -> Column:
    """A sort key: the sources in ``ranking`` first, in that order, then every other source."""
    expression = F.lit(len(ranking))
    for position, name in reversed(list(enumerate(ranking))):
        expression = F.when(source == name, F.lit(position)).otherwise(expression)
    return expression


def night_of(batch: Column) -> Column:
    """A batch id's night (``<source>/<yyyy-mm-dd>``)."""
    return F.to_date(F.regexp_extract(batch, r"(\d{4}-\d{2}-\d{2})$", 1))


def history(previous: DataFrame | None, current: DataFrame, key: str, tracked: list[str], night: str,
            changed: DataFrame | None = None) -> DataFrame:
    """SCD type 2: the library's history after ``night``.

    ``previous``: the history table so far (``tracked`` columns, key, valid_from, valid_to,
    is_current) or None; ``current``: tonight's golden records. A key whose tracked values changed
    closes its current version (valid_to = night) and opens a new one (valid_from = night); a key
    gone tonight is closed; unchanged keys keep their version. Versions opened on or after
    ``night`` are dropped first, so rerunning a night gives the same history. ``changed``: when
    given, the only keys whose golden record may differ from last night's (:func:`refreshed`);
    every other key's open version is kept without comparing it."""
    tonight = F.lit(night).cast("date")
    columns = [key, *tracked, "valid_from", "valid_to", "is_current"]
    if previous is None:
        return current.select(key, *tracked, tonight.alias("valid_from"), F.lit(None).cast("date").alias("valid_to"),
                              F.lit(True).alias("is_current"))
    # undo tonight (a rerun): drop versions opened tonight or later, reopen those closed then
    kept = (previous.where(F.col("valid_from") < tonight)
            .withColumn("valid_to", F.when(F.col("valid_to") >= tonight, F.lit(None).cast("date"))
                        .otherwise(F.col("valid_to")))
            .withColumn("is_current", F.col("valid_to").isNull()))
    as_they_were = kept.where(~F.col("is_current")).select(*columns)  # closed before tonight
    # each key's open version against tonight's values, in one join: kept open, closed, or closed
    # and followed by tonight's version; a key new tonight opens one
    current_versions = kept.where("is_current")
    if changed is not None:  # the rest are as they were: kept without a join
        only = joins.small(changed.select(key))
        as_they_were = as_they_were.unionByName(current_versions.join(only, key, "left_anti").select(*columns))
        current_versions, current = current_versions.join(only, key, "left_semi"), current.join(only, key, "left_semi")
    compared = _compared(current_versions, current, key, tracked)
    was, now, unchanged = F.col("__was"), F.col("__now"), F.col(UNCHANGED)
    still_open = F.lit(None).cast("date")
    versions = F.when(unchanged, F.array(_version(tracked, was, F.col("valid_from"), still_open))).otherwise(
        F.filter(F.array(F.when(was.isNotNull(), _version(tracked, was, F.col("valid_from"), tonight)),
                         F.when(now.isNotNull(), _version(tracked, now, tonight, still_open))),
                         lambda row: row.isNotNull()))
    opened = compared.select(key, F.explode(versions).alias("__version")).select(key, "__version.*")
    return as_they_were.unionByName(opened.select(*columns))


def history_changes(open_versions: DataFrame, current: DataFrame, key: str, tracked: list[str], night: str
                    ) -> DataFrame:
    """A night's changes to the SCD type 2 history (:func:`history`), for
    :func:`citylake.lake.write_changes`: ``open_versions`` are the current versions of some keys
    (the history's rows with is_current), ``current`` tonight's golden records of those keys. A key
    whose tracked values changed, or that is gone, ends its open version (a row with lake.ENDS, the
    key); a key changed or new opens tonight's version (a row to insert). Unchanged keys give
    nothing."""
    tonight = F.lit(night).cast("date")
    compared = _compared(open_versions, current, key, tracked)
    was, now = F.col("__was"), F.col("__now")
    differs = compared.where(~F.col(UNCHANGED))
    opened = (differs.where(now.isNotNull())
              .select(key, _version(tracked, now, tonight, F.lit(None).cast("date")).alias("__version"))
              .select(key, "__version.*", F.lit(None).cast("string").alias(lake.ENDS)))
    return opened.unionByName(differs.where(was.isNotNull()).select(F.col(key).alias(lake.ENDS)),
                              allowMissingColumns=True)


UNCHANGED = "__unchanged"


def _compared(open_versions: DataFrame, current: DataFrame, key: str, tracked: list[str]) -> DataFrame:
    """Each key's open version (``__was``, its tracked values, and valid_from) against tonight's
    values (``__now``), in one full outer join: either is null for a key new or gone; UNCHANGED
    when the key has both and they are equal (its open version stands)."""
    was, now = F.col("__was"), F.col("__now")
    return (open_versions.select(key, F.struct(*tracked).alias("__was"), "valid_from")
            .join(current.select(key, F.struct(*tracked).alias("__now")), key, "full_outer")
            .withColumn(UNCHANGED, was.isNotNull() & now.isNotNull() & was.eqNullSafe(now)))


def _version(tracked: list[str], values: Column, valid_from: Column, valid_to: Column) -> Column:
    return F.struct(*[values[name].alias(name) for name in tracked], valid_from.alias("valid_from"),
                    valid_to.alias("valid_to"), valid_to.isNull().alias("is_current"))


# A versioned table (base/<library>_records): each row is a version of a record, written on its
# ``night`` and holding until ``valid_to`` (the night a later version replaced it or the record
# left; null while it holds). A night adds the versions that differ from the night before only.
VERSION_FROM, VERSION_TO = "night", "valid_to"


def records_as_of(table: DataFrame, night: str) -> DataFrame:
    """A versioned table's rows as they were on ``night`` (the versions written that night or before
    and still holding then), without the version columns. A table in the older layout (every
    record copied into each night, no ``valid_to``) gives that night's copy."""
    on = F.lit(night).cast("date")
    held = ((F.col(VERSION_FROM) <= on) & (F.col(VERSION_TO).isNull() | (F.col(VERSION_TO) > on))
            if VERSION_TO in table.columns else F.col(VERSION_FROM) == on)
    return table.where(held).drop(VERSION_FROM, VERSION_TO)


def feeding_sources(all_contracts: Iterable[Contract], sources: Iterable[str]) -> list[Contract]:
    """The contracts of ``sources`` that are declared, in the order given."""
    declared = {contract.name: contract for contract in all_contracts}
    return [declared[name] for name in sources if name in declared]
