import datetime as dt

import pytest

from citylake import credit

pytestmark = pytest.mark.spark


def _records(spark, rows):
    return spark.createDataFrame(rows, (
        "record_key string, source string, record_type string, party_kind string, party_name string, "
        "reference string, decision_date date, detail string, amount_wan long, authority string, "
        "valid_until date, _batch_id string, _line_number long"))


def test_every_credit_record_is_linked_or_held_with_its_reason(spark):
    records = _records(spark, [
        ("pen:1", "administrative_penalties", "penalty", "entity", "华泰", "D1", dt.date(2026, 1, 1), "罚款", 2, "局",
         None, "ap/1", 2),
        ("pen:2", "administrative_penalties", "penalty", "person", "王五", "D2", dt.date(2026, 1, 2), "警告", None, "局",
         None, "ap/1", 3),
        ("dd:1", "dishonest_debtors", "dishonest_debtor", "person", "赵六", "C1", dt.date(2026, 2, 1), None, None, "院",
         None, "dd/1", 1),
        ("dd:2", "dishonest_debtors", "dishonest_debtor", None, "?", "C2", None, None, None, "院", None, "dd/1", 2),
        ("tax:1", "taxpayer_credit_ratings", "tax_rating", "entity", "无名", "2025", None, "A", None, "税务", None,
         "tx/1", 1),
    ])
    person_links = spark.createDataFrame([("pen:2", "P1"), ("dd:1", "P9")], "record_key string, person_id string")
    entity_links = spark.createDataFrame([("pen:1", "E1"), ("tax:1", "E9")], "record_key string, entity_id string")
    population = spark.createDataFrame([("P1",)], "person_id string")
    legal_entity = spark.createDataFrame([("E1",)], "entity_id string")
    linked, unlinked = credit.link(records, person_links, entity_links, population, legal_entity)
    assert {(r.record_key, r.person_id, r.entity_id) for r in linked.collect()} == {
        ("pen:1", None, "E1"), ("pen:2", "P1", None)}
    assert {(r.record_key, r.reason) for r in unlinked.collect()} == {
        ("dd:1", "person_not_in_population"), ("dd:2", "party_category_unknown"),
        ("tax:1", "entity_not_in_legal_entity")}


def test_profiles_and_the_joint_punishment_list(spark):
    linked = _records(spark, [
        ("pen:1", "p", "penalty", "entity", "", "D1", dt.date(2026, 1, 1), "罚款", 2, "", None, "b", 1),
        ("pen:2", "p", "penalty", "entity", "", "D2", dt.date(2026, 3, 1), "罚款", 3, "", None, "b", 2),
        ("dd:1", "d", "dishonest_debtor", "entity", "", "C1", dt.date(2026, 2, 1), None, None, "", None, "b", 3),
        ("dd:2", "d", "dishonest_debtor", "person", "", "C2", dt.date(2026, 2, 2), None, None, "", None, "b", 4),
        ("tax:1", "t", "tax_rating", "entity", "", "2024", None, "B", None, "", None, "b", 5),
        ("tax:2", "t", "tax_rating", "entity", "", "2025", None, "A", None, "", None, "b", 6),
    ]).withColumn("person_id", credit.F.when(credit.F.col("party_kind") == "person", "P2")) \
      .withColumn("entity_id", credit.F.when(credit.F.col("party_kind") == "entity", "E1"))
    legal_entity = spark.createDataFrame([("E1", "913", "华泰", "P1"), ("E2", "914", "恒通", None)],
                                         "entity_id string, credit_code string, entity_name string, "
                                         "legal_representative_person_id string")
    profiles = {r.entity_id: r for r in credit.entity_profiles(legal_entity, linked).collect()}
    e1 = profiles["E1"]
    assert (e1.penalties, float(e1.fines_wan), e1.latest_penalty_date) == (2, 5.0, dt.date(2026, 3, 1))
    assert (e1.dishonest, e1.tax_rating, e1.tax_rating_year) == (True, "A", "2025")
    assert (profiles["E2"].penalties, profiles["E2"].dishonest) == (0, False)
    population = spark.createDataFrame([("P1",), ("P2",)], "person_id string")
    people = {r.person_id: r for r in credit.person_profiles(population, linked).collect()}
    assert set(people) == {"P2"} and people["P2"].dishonest
    listed = {(r.list_kind, r.entity_id, r.person_id) for r in credit.joint_punishment(legal_entity, linked).collect()}
    assert listed == {("dishonest_entity", "E1", None), ("legal_representative", "E1", "P1"),
                      ("dishonest_person", None, "P2")}
