import datetime as dt

import pytest
from pyspark.sql import functions as F

from citylake import base, lake
from citylake.base import (Pick, as_records, history, latest_per_record, priority, record_key, refreshed,
                           same_night_order, survivors, union_all)

pytestmark = pytest.mark.spark
D = dt.date.fromisoformat


def test_record_keys_are_stable_hide_the_key_and_name_the_role(spark):
    frame = spark.createDataFrame([("11010519491231002X", "C1")], "identity_number string, cert string")
    row = frame.select(record_key("household_registration", ["identity_number"]).alias("a"),
                       record_key("marriage_registrations", ["cert"], "wife").alias("b")).first()
    assert row.a.startswith("household_registration:") and len(row.a.split(":")[1]) == 24
    assert "11010519491231002X" not in row.a
    assert row.b.startswith("marriage_registrations:") and row.b.endswith(":wife")
    again = frame.select(record_key("household_registration", ["identity_number"]).alias("a")).first()
    assert again.a == row.a


@pytest.mark.parametrize("repeated_keys_lookup", [2_000_000, 0])  # looked up by every task, or joined by key
def test_the_latest_batch_s_delivery_of_each_record_wins_and_deliveries_are_counted(spark, monkeypatch,
                                                                                   repeated_keys_lookup):
    monkeypatch.setattr(base, "REPEATED_KEYS_LOOKUP", repeated_keys_lookup)
    standard = spark.createDataFrame(
        [("A", "old name", "hr/2026-11-22", 9), ("A", "new name", "hr/2026-11-23", 2),
         ("B", "only", "hr/2026-11-23", 5), ("C", "no batch", None, 7), ("C", "a batch, no line", "hr/2026-11-23", None)],
        "k string, name string, _batch_id string, _line_number int")
    records = as_records(standard, "hr", ["k"], {"name": "name", "sex": None}, {"name": "string", "sex": "string"})
    rows = sorted(latest_per_record(records).collect(), key=lambda r: r.name)
    assert [(r.name, r.deliveries, r._line_number) for r in rows] == [
        ("a batch, no line", 2, None), ("new name", 2, 2), ("only", 1, 5)]
    assert rows[1].sex is None and rows[1].source == "hr"


def test_within_a_batch_the_pick_depends_on_what_was_delivered_not_on_its_line(spark):
    names = ["张伟", "张伟 ", "張偉", "张卫", "张为"]

    def picked(lines):
        standard = spark.createDataFrame([("A", name, "hr/2026-11-23", line) for name, line in zip(names, lines)]
                                         + [("A", names[0], "hr/2026-11-23", 5_000_000_000)],  # a copy, far down
                                         "k string, name string, _batch_id string, _line_number long")
        rows = latest_per_record(as_records(standard, "hr", ["k"], {"name": "name"}, {"name": "string"})).collect()
        assert len(rows) == 1 and rows[0].deliveries == 6
        return rows[0].name

    orders = [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [3, 1, 5, 2, 4], [2_147_483_648, 7, 1, 9, 4]]
    assert len({picked(lines) for lines in orders}) == 1


def test_a_night_s_changes_are_the_keys_whose_rows_changed_and_their_records_picked_again(spark):
    columns = "k string, name string, _batch_id string, _line_number int"

    def make(standards, every_delivery=False):
        records = union_all(as_records(batch, "hr", ["k"], {"name": "name"}, {"name": "string"})
                            for batch in standards.values())
        return records if every_delivery else latest_per_record(records)

    last = [("A", "a1", 1), ("A", "a2", 2), ("B", "b", 3), ("C", "c", 4), ("D", "d1", 5), ("D", "d2", 6),
            ("E", "e", 7)]
    # A loses a delivery, B changes, C is gone, D is as it was (reordered), E is re-sent twice, F is new
    now = [("D", "d2", 1), ("D", "d1", 2), ("A", "a2", 3), ("B", "b'", 4), ("E", "e", 5), ("E", "e", 6),
           ("F", "f", 7)]

    def batch(rows, night):
        return spark.createDataFrame([(k, name, f"hr/{night}", line) for k, name, line in rows], columns)

    tonight, last_night = batch(now, "2026-11-24"), batch(last, "2026-11-23")
    keys, records, mappings = base.night_changes({"hr": tonight}, {"hr": last_night}, make)
    assert mappings == base.mapping_ids(make({"hr": last_night}))  # one mapping, last night's
    key_of = {row.record_key: row.k for row in tonight.unionByName(last_night).select(
        "k", base.record_key("hr", ["k"]).alias("record_key")).collect()}
    assert sorted(key_of[row.record_key] for row in keys.collect()) == ["A", "B", "C", "F"]
    made = {key_of[row.record_key]: (row.name, row.deliveries) for row in records.collect()}
    assert made == {"A": ("a2", 1), "B": ("b'", 1), "F": ("f", 1)}
    # the records of the keys that changed are those of tonight's records all made and picked
    every = {key_of[row.record_key]: (row.name, row.deliveries) for row in make({"hr": tonight}).collect()}
    assert all(every[key] == value for key, value in made.items())
    # a key none of whose rows changed keeps last night's pick (D: reordered)
    last_picks = {key_of[row.record_key]: row.name for row in make({"hr": last_night}).collect()}
    assert every["D"][0] == last_picks["D"]


def test_a_record_is_made_of_its_row_s_hash_and_its_mapping_s_fingerprint(spark):
    standard = spark.createDataFrame(
        [("A", "张三", "1", "h-a", "hr/2026-11-23", 1), ("B", "李四", "2", "h-b", "hr/2026-11-23", 2)],
        "k string, name string, sex string, _row_hash string, _batch_id string, _line_number int")

    def made(columns, role=None):
        records = as_records(standard, "hr", ["k"], columns, {"name": "string", "sex": "string"}, role=role)
        return {row.record_key.split(":")[1]: (row._row_hash, row._mapping) for row in records.collect()}

    mapped = made({"name": "name", "sex": "sex"})
    assert {hashes[0] for hashes in mapped.values()} == {"h-a", "h-b"}  # the row's, as standardised
    assert len({hashes[1] for hashes in mapped.values()}) == 1  # one mapping
    assert made({"name": "name", "sex": "sex"}) == mapped  # the same in every run
    for changed in (made({"name": "name", "sex": None}), made({"name": F.upper("name"), "sex": "sex"}),
                    made({"name": "name", "sex": "sex"}, role="spouse")):
        assert all(changed[key][1] != mapped[key][1] for key in mapped)
    # rows standardised before the hash existed get one over their columns (not the metadata)
    unhashed = as_records(standard.drop("_row_hash"), "hr", ["k"], {"name": "name"}, {"name": "string"})
    again = as_records(standard.drop("_row_hash").withColumn("_line_number", F.lit(9)), "hr", ["k"],
                       {"name": "name"}, {"name": "string"})
    hashes = sorted(row._row_hash for row in unhashed.collect())
    assert len(set(hashes)) == 2 and hashes == sorted(row._row_hash for row in again.collect())


def test_rows_by_hash_makes_the_records_of_the_rows_asked_for_only(spark):
    standard = spark.createDataFrame(
        [("A", "张三", "h-a", "hr/2026-11-23", 1), ("B", "李四", "h-b", "hr/2026-11-23", 2),
         ("C", "王五", "h-c", "hr/2026-11-23", 3)],
        "k string, name string, _row_hash string, _batch_id string, _line_number int")
    made_from = []

    def make(standards):
        made_from.append(sorted(standards))
        return latest_per_record(as_records(standards["hr"], "hr", ["k"], {"name": "name"}, {"name": "string"}))

    fetch = base.rows_by_hash({"hr": standard}, make)
    wanted = spark.createDataFrame([("h-a",), ("h-c",), ("h-c",)], "_row_hash string")
    assert sorted(row.name for row in fetch(wanted).collect()) == ["张三", "王五"]
    assert made_from == [["hr"]]


def test_survivors_take_each_field_from_the_first_record_with_a_value(spark):
    records = spark.createDataFrame(
        [("p1", "r1", "social", None, "1", 7), ("p1", "r2", "household", "张三", None, 1),
         ("p1", "r3", "death", "张叁", "2", 9), ("p2", "r4", "social", "李四", "1", 3),
         ("p2", "r5", "social", "李肆", "1", 3)],
        "person_id string, record_key string, source string, name string, sex string, line int")
    by_source = -priority(F.col("source"), ["household", "death"])
    picks = [Pick("name", (by_source,)), Pick("sex", (F.col("line"),), where=F.col("source") != "death")]
    rows = {r.person_id: r for r in survivors(records, "person_id", picks,
                                              (F.count(F.lit(1)).alias("records"),)).collect()}
    assert (rows["p1"].name, rows["p1"].name_record) == ("张三", "r2")  # the first source with a name
    assert (rows["p1"].sex, rows["p1"].sex_record) == ("1", "r1")  # the death record does not count for sex
    assert (rows["p2"].name, rows["p2"].name_record) == ("李肆", "r5")  # a tie: the greater record key
    assert (rows["p1"].records, rows["p2"].records) == (3, 2)


def _history(spark, rows):
    return spark.createDataFrame(rows, "k string, v string, valid_from date, valid_to date, is_current boolean")


def test_history_opens_closes_and_keeps_versions(spark):
    current = spark.createDataFrame([("a", "1"), ("b", "2"), ("d", None)], "k string, v string")
    first = history(None, current, "k", ["v"], "2026-11-23")
    assert {(r.k, r.v, r.valid_from, r.is_current) for r in first.collect()} == {
        ("a", "1", D("2026-11-23"), True), ("b", "2", D("2026-11-23"), True), ("d", None, D("2026-11-23"), True)}
    tonight = spark.createDataFrame([("a", "1"), ("b", "3"), ("c", "4"), ("d", None)], "k string, v string")
    second = {(r.k, r.v, r.valid_from, r.valid_to, r.is_current)
              for r in history(first, tonight, "k", ["v"], "2026-11-24").collect()}
    assert second == {("a", "1", D("2026-11-23"), None, True),
                      ("d", None, D("2026-11-23"), None, True),  # a null compares equal to a null
                      ("b", "2", D("2026-11-23"), D("2026-11-24"), False),
                      ("b", "3", D("2026-11-24"), None, True),
                      ("c", "4", D("2026-11-24"), None, True)}
    # told which keys changed (b, c), the history compares those only and comes out the same
    changed = spark.createDataFrame([("b",), ("c",)], "k string")
    assert {(r.k, r.v, r.valid_from, r.valid_to, r.is_current)
            for r in history(first, tonight, "k", ["v"], "2026-11-24", changed).collect()} == second


def test_a_night_s_history_changes_end_and_open_the_versions_history_would(spark):
    first = _history(spark, [("a", "1", D("2026-11-22"), D("2026-11-23"), False),
                             ("a", "2", D("2026-11-23"), None, True),
                             ("b", "2", D("2026-11-23"), None, True),
                             ("c", "3", D("2026-11-23"), None, True),
                             ("d", None, D("2026-11-23"), None, True)])
    tonight = spark.createDataFrame([("a", "2"), ("b", "5"), ("d", None), ("e", "6")], "k string, v string")
    changes = base.history_changes(first.where("is_current"), tonight, "k", ["v"], "2026-11-24").collect()
    assert sorted(row[lake.ENDS] for row in changes if row[lake.ENDS]) == ["b", "c"]  # changed, gone
    opened = [(row.k, row.v, row.valid_from, row.valid_to, row.is_current) for row in changes if not row[lake.ENDS]]
    assert sorted(opened) == [("b", "5", D("2026-11-24"), None, True), ("e", "6", D("2026-11-24"), None, True)]
    # applied as lake.write_changes applies them (the open version of an ending key closes)
    ending = {row[lake.ENDS] for row in changes if row[lake.ENDS]}
    applied = {(r.k, r.v, r.valid_from, D("2026-11-24"), False) if r.is_current and r.k in ending
               else (r.k, r.v, r.valid_from, r.valid_to, r.is_current) for r in first.collect()} | set(opened)
    assert applied == {(r.k, r.v, r.valid_from, r.valid_to, r.is_current)
                       for r in history(first, tonight, "k", ["v"], "2026-11-24").collect()}


def test_history_of_a_rerun_night_is_the_same_and_a_gone_key_is_closed(spark):
    previous = _history(spark, [("a", "1", D("2026-11-23"), D("2026-11-24"), False),
                                ("a", "2", D("2026-11-24"), None, True),
                                ("b", "9", D("2026-11-23"), None, True)])
    tonight = spark.createDataFrame([("a", "2")], "k string, v string")
    rerun = {(r.k, r.v, r.valid_from, r.valid_to, r.is_current)
             for r in history(previous, tonight, "k", ["v"], "2026-11-24").collect()}
    assert rerun == {("a", "1", D("2026-11-23"), D("2026-11-24"), False),
                     ("a", "2", D("2026-11-24"), None, True),
                     ("b", "9", D("2026-11-23"), D("2026-11-24"), False)}


def test_only_changed_persons_are_built_again_and_the_rest_kept(spark):
    tonight = spark.createDataFrame([("hr:1", "P1", "甲"), ("hr:2", "P2", "乙乙"), ("hr:3", "P4", "丙"), ("hr:6", "P6", "己")],
                                    "record_key string, person_id string, name string")
    changed = spark.createDataFrame([(p,) for p in ("P2", "P3", "P4", "P5", "P6")], "person_id string")

    def build(records):
        return records.groupBy("person_id").agg(F.max("name").alias("name"), F.lit("built").alias("how"))

    previous = spark.createDataFrame([(p, n, "kept") for p, n in [("P1", "甲"), ("P2", "乙"), ("P3", "丙"), ("P5", "戊")]],
                                     "person_id string, name string, how string")
    golden, built, kept = refreshed(previous, tonight, "person_id", changed, build)
    golden = {r.person_id: (r.name, r.how) for r in golden.collect()}
    assert golden == {"P1": ("甲", "kept"), "P2": ("乙乙", "built"), "P4": ("丙", "built"), "P6": ("己", "built")}
    assert sorted(r.person_id for r in built.collect()) == ["P2", "P4", "P6"]  # P3, P5 gone
    assert [r.person_id for r in kept.collect()] == ["P1"]


def test_a_source_delivering_late_changes_the_order_of_nights():
    last = {"hr": D("2026-11-23"), "si": D("2026-11-23"), "dc": D("2026-11-22")}
    assert same_night_order(last, {"hr": D("2026-11-24"), "si": D("2026-11-24"), "dc": D("2026-11-23")})
    assert same_night_order(last, {"hr": D("2026-11-24"), "si": D("2026-11-24")})  # dc gone (its records with it)
    assert not same_night_order(last, {"hr": D("2026-11-24"), "si": D("2026-11-23"), "dc": D("2026-11-23")})
    assert not same_night_order(last, {"hr": D("2026-11-24"), "si": D("2026-11-24"), "dc": D("2026-11-24")})


def test_a_versioned_table_gives_each_record_as_it_was_on_a_night(spark):
    table = spark.createDataFrame([
        ("a", "first", D("2026-11-23"), None),              # never changed
        ("b", "first", D("2026-11-23"), D("2026-11-24")),   # replaced on the 24th
        ("b", "second", D("2026-11-24"), None),
        ("c", "first", D("2026-11-23"), D("2026-11-25")),   # gone on the 25th
        ("d", "first", D("2026-11-25"), None),              # new on the 25th
    ], "record_key string, value string, night date, valid_to date")

    def on(night):
        return {(row.record_key, row.value) for row in base.records_as_of(table, night).collect()}

    assert base.records_as_of(table, "2026-11-23").columns == ["record_key", "value"]
    assert on("2026-11-22") == set()
    assert on("2026-11-23") == {("a", "first"), ("b", "first"), ("c", "first")}
    assert on("2026-11-24") == {("a", "first"), ("b", "second"), ("c", "first")}
    assert on("2026-11-26") == {("a", "first"), ("b", "second"), ("d", "first")}


def test_a_table_of_a_copy_per_night_gives_that_night_s_copy(spark):
    table = spark.createDataFrame([("a", "first", D("2026-11-23")), ("a", "second", D("2026-11-24"))],
                                  "record_key string, value string, night date")
    assert [row.value for row in base.records_as_of(table, "2026-11-24").collect()] == ["second"]
