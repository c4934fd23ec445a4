"""Incremental resolution on literal rows: a second night that scores only its new and changed
records resolves as a full run of that night would, and persons keep their ids."""

import hashlib

import pytest
from pyspark.sql import functions as F

from citylake.resolution import TonightChanges, resolve, resolve_incremental
from tests.citylake.resolution.conftest import PERSON_COLUMNS, number

pytestmark = pytest.mark.spark

A, B = number("42030219800101123"), number("42030219900202456")
NIGHT1 = [
    ("hr-a", A, "张伟", "1980-01-01", "1", "420302", "北京路1号"),
    ("ss-a", A, "张伟", None, None, None, None),
    ("bc-b", None, "李娜", "1990-02-02", "2", "420302", "人民路9号"),
    ("hr-b", B, "李娜", "1990-02-02", "2", "420302", "人民路9号"),
    ("hr-c", number("42030319700303789"), "王强", "1970-03-03", "1", "420303", "朝阳路3号"),
]
NIGHT2 = [row for row in NIGHT1 if row[0] != "ss-a"] + [
    ("cr-a", "4203**********" + A[-4:], "张伟", "1980-01-01", "1", "420302", None),  # masked, new
    ("ss-b", B, "王芳", "1970-07-07", "2", "420303", None),  # B's number under another person
    ("bc-d", None, "赵敏", "2026-11-20", "2", "420302", "北京路1号"),  # a newborn
]


def _resolved(result) -> dict[str, tuple]:
    return {row.record_key: (row.person_id, row.resolved_by, row.review_reason) for row in result.records.collect()}


@pytest.fixture(scope="module")
def nights(spark, person_config, person_model):
    first = resolve(spark.createDataFrame(NIGHT1, PERSON_COLUMNS), person_config, model=person_model, salt="n1")
    previous = first.records.localCheckpoint()
    tonight = spark.createDataFrame(NIGHT2, PERSON_COLUMNS)
    incremental = resolve_incremental(previous, tonight, person_config, person_model, salt="n2")
    full = resolve(tonight, person_config, model=person_model, salt="n2",
                   previous_ids=previous.select("record_key", "person_id"))
    return _resolved(first), _resolved(incremental), _resolved(full), incremental.report


def test_the_incremental_night_resolves_as_a_full_run_would(nights):
    _, incremental, full, _ = nights
    assert incremental == full


def test_persons_keep_their_ids_and_new_records_join_them(nights):
    first, incremental, _, _ = nights
    assert incremental["hr-a"][0] == first["hr-a"][0] == incremental["cr-a"][0]  # the masked number joins A
    assert incremental["hr-b"][0] == first["hr-b"][0] == incremental["bc-b"][0]
    assert incremental["hr-c"][0] == first["hr-c"][0]  # untouched
    assert incremental["bc-d"][0] not in {first[key][0] for key in first}  # a new person, a new id


def test_a_number_under_another_person_is_held_out_and_flagged(nights):
    _, incremental, _, _ = nights
    assert incremental["ss-b"][2] == "identifier_conflict"
    assert incremental["ss-b"][0] != incremental["hr-b"][0]


def test_the_rows_that_differ_from_last_night_s_are_given_apart_to_write_as_new_versions(
        spark, person_config, person_model):
    previous = resolve(spark.createDataFrame(NIGHT1, PERSON_COLUMNS), person_config, model=person_model,
                       salt="n1").records.localCheckpoint()
    result = resolve_incremental(previous, spark.createDataFrame(NIGHT2, PERSON_COLUMNS), person_config,
                                 person_model, salt="n2")
    tonight = result.records.localCheckpoint()
    columns = sorted(tonight.columns)
    differing = tonight.select(columns).exceptAll(previous.select(columns))
    # exactly the rows not as they were last night: the new records, and those the night changed
    assert ({row.record_key: row.asDict() for row in result.changed.select(columns).collect()}
            == {row.record_key: row.asDict() for row in differing.collect()})
    assert {row.record_key for row in differing.collect()} >= {"cr-a", "ss-b", "bc-d"}
    assert "hr-c" not in {row.record_key for row in differing.collect()}  # re-clustered or not, as it was
    # and the keys whose row of last night no longer holds: changed, or gone (ss-a)
    gone_or_changed = previous.select(columns).exceptAll(tonight.select(columns)).select("record_key")
    assert sorted(row.record_key for row in result.ended_keys.collect()) == sorted(
        row.record_key for row in gone_or_changed.collect())
    assert "ss-a" in {row.record_key for row in result.ended_keys.collect()}


def test_only_new_changed_and_deleted_records_are_counted_as_the_night_s_work(nights):
    *_, report = nights
    assert (report["new_records"], report["changed_records"], report["deleted_records"]) == (3, 0, 1)
    assert report["records_reclustered"] < len(NIGHT2)  # hr-c's cluster is left as it was


def test_only_the_touched_part_is_normalised_and_the_rest_keeps_last_night_s_index(nights):
    first, incremental, _, report = nights
    assert report["records_prepared"] == report["records_reclustered"] < report["records"]
    assert incremental["hr-c"] == first["hr-c"]


def test_every_record_carries_the_index_the_next_night_reads(spark, person_config, person_model):
    records = resolve(spark.createDataFrame(NIGHT1, PERSON_COLUMNS), person_config, model=person_model).records
    rows = {row.record_key: row for row in records.select("record_key", "block_keys", "identifiers").collect()}
    assert rows["hr-a"].identifiers == [f"identity_number:{A}"]
    assert rows["bc-b"].identifiers == []
    assert len(rows["hr-a"].block_keys) == len(person_config.blocking.rules)
    # the same name, birth date and division: the same key under a rule that reads those
    shared = [a for a, b in zip(rows["hr-b"].block_keys, rows["bc-b"].block_keys) if a is not None and a == b]
    assert shared


def test_a_night_after_records_without_the_index_is_resolved_in_full(spark, person_config, person_model):
    first = resolve(spark.createDataFrame(NIGHT1, PERSON_COLUMNS), person_config, model=person_model, salt="n1")
    previous = first.records.drop("block_keys", "identifiers")
    result = resolve_incremental(previous, spark.createDataFrame(NIGHT2, PERSON_COLUMNS), person_config,
                                 person_model, salt="n2")
    assert result.report["mode"] == "full" and result.resolved_keys is None
    ids = {row.record_key: row.person_id for row in result.records.collect()}
    assert ids["hr-c"] == {row.record_key: row.person_id for row in first.records.collect()}["hr-c"]
    # given only the changed records, a night that must be resolved in full is refused, not cut short
    changed = spark.createDataFrame([row for row in NIGHT2 if row[0] == "bc-d"], PERSON_COLUMNS)
    keys = changed.select("record_key")
    with pytest.raises(ValueError, match="no index .* give every record of tonight"):
        resolve_incremental(previous, TonightChanges(keys, changed), person_config, person_model, salt="n2")


COPIES = [(key, None, "欧阳明", "1985-05-05", "1", "420302", "文化路5号") for key in ("bc-x", "mr-x", "si-x")]


@pytest.mark.parametrize("night1, night2, people", [
    # three copies of one unidentified person: with a cap of 2, every block they share is dropped
    # on night one; night two deletes one, the blocks fit under the cap, and the two left link
    (COPIES, COPIES[:2], (3, 1)),
    # two copies link on night one; a third comes on night two, every block they share is now
    # dropped, and no pair of the three is compared any more
    (COPIES[:2], COPIES, (1, 3)),
], ids=["a record leaving a dropped block lets the rest be compared",
        "a record joining a block the cap then drops parts the records it held"])
def test_a_block_the_cap_cuts_anew_is_resolved_again_whole(spark, person_config, person_model, night1, night2,
                                                           people):
    config = person_config.model_copy(update={"blocking": person_config.blocking.model_copy(
        update={"max_block_size": 2, "oversized": "drop"})})
    first = resolve(spark.createDataFrame(night1, PERSON_COLUMNS), config, model=person_model, salt="n1")
    tonight = spark.createDataFrame(night2, PERSON_COLUMNS)
    incremental = resolve_incremental(first.records.localCheckpoint(), tonight, config, person_model, salt="n2")
    full = resolve(tonight, config, model=person_model, salt="n2",
                   previous_ids=first.records.select("record_key", "person_id"))
    assert (len({row.person_id for row in first.records.collect()}),
            len({row.person_id for row in full.records.collect()})) == people
    assert _resolved(incremental) == _resolved(full)


def test_a_block_mate_no_record_of_tonight_s_may_link_to_is_left_as_it_was(spark, person_config, person_model):
    # 张伟 and 张强 share a birth date and a surname (a block), and differ in all else: 张伟's new
    # address re-resolves his cluster, and 张强's is left as it was
    zhang_qiang = ("hr-q", number("42030519800101345"), "张强", "1980-01-01", "1", "420305", "光明路7号")
    night1 = NIGHT1 + [zhang_qiang]
    night2 = [(*row[:-1], "解放路2号") if row[0] == "hr-a" else row for row in night1]
    first = resolve(spark.createDataFrame(night1, PERSON_COLUMNS), person_config, model=person_model, salt="n1")
    blocks = {row.record_key: set(row.block_keys) - {None} for row in first.records.collect()}
    assert blocks["hr-a"] & blocks["hr-q"]  # block-mates
    tonight = spark.createDataFrame(night2, PERSON_COLUMNS)
    incremental = resolve_incremental(first.records.localCheckpoint(), tonight, person_config, person_model,
                                      salt="n2")
    full = resolve(tonight, person_config, model=person_model, salt="n2",
                   previous_ids=first.records.select("record_key", "person_id"))
    assert _resolved(incremental) == _resolved(full)
    # 张强 only: 张伟's other record (ss-a, a block-mate too) is in a cluster resolved again anyway
    assert incremental.report["block_mates_scored"] == 1
    redone = {row.record_key for row in incremental.resolved_keys.collect()}
    assert {"hr-a", "ss-a"} <= redone and "hr-q" not in redone


def test_an_unchanged_record_keeps_the_provenance_of_the_delivery_that_brought_its_content(
        spark, person_config, person_model):
    # a column no field reads (ethnicity) is content; the line a record was delivered on is not
    # (resolution/person.yaml: provenance), and lines move whenever an earlier one comes or goes
    columns = PERSON_COLUMNS + ", ethnicity string, _line_number long"
    night1 = [(*row, "01", line) for line, row in enumerate(NIGHT1, start=2)]
    night2 = [(*row, "02" if row[0] == "hr-b" else "01", line) for line, row in enumerate(NIGHT2, start=2)]
    first = resolve(spark.createDataFrame(night1, columns), person_config, model=person_model, salt="n1")
    result = resolve_incremental(first.records.localCheckpoint(), spark.createDataFrame(night2, columns),
                                 person_config, person_model, salt="n2")
    assert (result.report["new_records"], result.report["changed_records"]) == (3, 1)  # hr-b's ethnicity
    redone = {row.record_key for row in result.resolved_keys.collect()}
    rows = {row.record_key: row for row in result.records.collect()}
    last_lines, tonight_lines = {row[0]: row[-1] for row in night1}, {row[0]: row[-1] for row in night2}
    delivered_tonight = {"hr-b"} | set(tonight_lines) - set(last_lines)
    unchanged = set(rows) - delivered_tonight
    assert rows["hr-b"].ethnicity == "02"
    assert all(rows[key]._line_number == tonight_lines[key] for key in delivered_tonight)
    assert all(rows[key]._line_number == last_lines[key] for key in unchanged)
    # unchanged records whose line moved, among those resolved again and those left as they were
    moved = {key for key in unchanged if last_lines[key] != tonight_lines[key]}
    assert moved & redone and moved - redone


def test_tonight_s_records_must_hold_each_record_key_once(spark, person_config, person_model):
    first = resolve(spark.createDataFrame(NIGHT1, PERSON_COLUMNS), person_config, model=person_model, salt="n1")
    twice = spark.createDataFrame(NIGHT2 + [NIGHT2[0]], PERSON_COLUMNS)
    with pytest.raises(ValueError, match="1 record keys more than once"):
        resolve_incremental(first.records.localCheckpoint(), twice, person_config, person_model, salt="n2")


def test_last_night_s_records_written_twice_are_read_once(spark, person_config, person_model, nights):
    _, incremental, _, _ = nights
    first = resolve(spark.createDataFrame(NIGHT1, PERSON_COLUMNS), person_config, model=person_model, salt="n1")
    previous = first.records.localCheckpoint()
    twice = previous.unionByName(previous.where(F.col("record_key") == "hr-c"))
    result = resolve_incremental(twice, spark.createDataFrame(NIGHT2, PERSON_COLUMNS), person_config, person_model,
                                 salt="n2")
    assert _resolved(result) == incremental


# records made of rows (citylake/base.py: as_records): a hash of the row, and the mapping's fingerprint
MADE_COLUMNS = PERSON_COLUMNS + ", _row_hash string, _mapping string, _line_number long"


def _made_of(rows, mapping="m1"):
    return [(*row, hashlib.sha256(repr(row).encode()).hexdigest()[:32], mapping, line)
            for line, row in enumerate(rows, start=2)]


@pytest.fixture(scope="module")
def made_nights(spark, person_config, person_model):
    first = resolve(spark.createDataFrame(_made_of(NIGHT1), MADE_COLUMNS), person_config, model=person_model,
                    salt="n1")
    return first.records.localCheckpoint(), spark.createDataFrame(_made_of(NIGHT2), MADE_COLUMNS)


def test_a_night_read_narrow_makes_only_its_new_and_changed_records_and_resolves_as_read_whole(
        made_nights, person_config, person_model):
    previous, tonight = made_nights
    asked = []

    def fetch(wanted):  # as citylake's: every record of the rows asked for (and here one more), lines aside
        hashes = [row._row_hash for row in wanted.collect()]
        asked.extend(hashes)
        return (tonight.where(F.col("_row_hash").isin(hashes) | (F.col("record_key") == "hr-c"))
                .withColumn("_line_number", F.lit(999).cast("long")))

    narrow = resolve_incremental(previous, tonight, person_config, person_model, salt="n2", fetch=fetch)
    whole = resolve_incremental(previous, tonight, person_config, person_model, salt="n2")
    assert _resolved(narrow) == _resolved(whole)
    new = {row[0]: row for row in _made_of(NIGHT2)}
    assert sorted(asked) == sorted(new[key][-3] for key in ("cr-a", "ss-b", "bc-d"))
    lines = {row.record_key: row._line_number for row in narrow.records.collect()}
    old = {row[0]: row for row in _made_of(NIGHT1)}
    # where tonight's new records were delivered (not where fetch says), the rest where last night's were
    assert lines == {key: (old.get(key) or row)[-1] for key, row in new.items()}
    report = narrow.report
    assert (report["new_records"], report["changed_records"], report["deleted_records"]) == (3, 0, 1)


def test_a_night_given_by_its_changed_keys_resolves_as_one_read_whole(spark, made_nights, person_config,
                                                                       person_model):
    previous, tonight = made_nights
    # the new keys, the gone one, and one whose rows changed with its content as it was
    keys = spark.createDataFrame([(key,) for key in ("cr-a", "ss-b", "bc-d", "ss-a", "hr-b")], "record_key string")
    changes = TonightChanges(keys, tonight.join(keys, "record_key", "left_semi"))
    given = resolve_incremental(previous, changes, person_config, person_model, salt="n2")
    whole = resolve_incremental(previous, tonight, person_config, person_model, salt="n2")
    assert _resolved(given) == _resolved(whole)
    assert sorted(row.record_key for row in given.ended_keys.collect()) == ["hr-b", "ss-a"]
    assert "hr-b" in {row.record_key for row in given.changed.collect()}  # written again: its rows changed
    report = given.report
    assert (report["new_records"], report["changed_records"], report["deleted_records"]) == (3, 1, 1)


def test_a_changed_mapping_changes_every_record_it_made(spark, made_nights, person_config, person_model):
    previous, _ = made_nights
    remapped = spark.createDataFrame(_made_of(NIGHT1, mapping="m2"), MADE_COLUMNS)
    report = resolve_incremental(previous, remapped, person_config, person_model, salt="n2").report
    assert (report["new_records"], report["changed_records"]) == (0, len(NIGHT1))


def test_a_fetch_that_misses_records_fails_the_night_rather_than_lose_them(made_nights, person_config,
                                                                          person_model):
    previous, tonight = made_nights
    with pytest.raises(RuntimeError, match="3 new and changed records, but fetch gave 2"):
        resolve_incremental(previous, tonight, person_config, person_model, salt="n2",
                            fetch=lambda wanted: tonight.where(F.col("record_key") != "bc-d")).records.count()
