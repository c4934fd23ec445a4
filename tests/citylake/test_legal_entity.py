import datetime as dt

import pytest

from citylake.legal_entity import entity_records, golden_legal_entity

pytestmark = pytest.mark.spark
CODE = "91320621MA1MRHG205"
PERSON_ID = "11010519491231002X"


def test_registry_credit_parties_and_taxpayers_become_organisation_records(spark):
    registry = spark.createDataFrame(
        [(CODE, "MA1MRHG20", None, "华泰有限公司", "华泰", "张三", PERSON_ID, True, dt.date(2020, 1, 1), 100.0,
          "某路", "320621", "存续", "er/2026-11-23", 2)],
        "credit_code string, credit_code_organisation_code string, registration_number string, entity_name string, "
        "entity_name_normal string, legal_representative_name string, legal_representative_identity_number string, "
        "legal_representative_identity_number_valid boolean, established_date date, registered_capital_wan double, "
        "registered_address string, division_code string, status string, _batch_id string, _line_number int")
    penalties = spark.createDataFrame(
        [("D1", "法人及非法人组织", None, None, "MA1MRHG20", True, None, "华泰有限公司", "华泰", "张三",
          dt.date(2026, 5, 6), "ap/1", 2),
         ("D2", "自然人", None, None, None, None, None, "王五", None, None, dt.date(2026, 5, 7), "ap/1", 3)],
        "decision_document_number string, party_category string, credit_code string, registration_number string, "
        "organisation_code string, organisation_code_valid boolean, credit_code_organisation_code string, "
        "party_name string, party_name_normal string, legal_representative_name string, decision_date date, "
        "_batch_id string, _line_number int")
    records = entity_records({"enterprise_registry": registry, "administrative_penalties": penalties}).collect()
    assert sorted(r.source for r in records) == ["administrative_penalties", "enterprise_registry"]
    penalty = next(r for r in records if r.source == "administrative_penalties")
    assert (penalty.credit_code, penalty.organisation_code, penalty.name) == (None, "MA1MRHG20", "华泰有限公司")
    assert penalty.recorded_on == dt.date(2026, 5, 6)  # the decision's date
    registered = next(r for r in records if r.source == "enterprise_registry")
    assert registered.entity_type == "enterprise" and registered.legal_representative_identity_number == PERSON_ID


def test_golden_entity_from_the_registry_with_its_representative_linked(spark):
    resolved = spark.createDataFrame(
        [("E1", "er:1", "enterprise_registry", CODE, "MA1MRHG20", None, "华泰有限公司", "华泰", "enterprise", "张三",
          PERSON_ID, "credit_code", None, "er/2026-11-23", 2),
         ("E1", "ap:1", "administrative_penalties", None, "MA1MRHG20", None, "华泰公司", "华泰", None, "张三", None,
          "organisation_code", None, "ap/2026-11-23", 2),
         ("E2", "ap:2", "administrative_penalties", None, None, None, "无名公司", "无名", None, None, None, "alone", None,
          "ap/2026-11-23", 3)],
        "entity_id string, record_key string, source string, credit_code string, organisation_code string, "
        "registration_number string, name string, entity_name_normal string, entity_type string, "
        "legal_representative string, legal_representative_identity_number string, resolved_by string, "
        "review_reason string, _batch_id string, _line_number long")
    resolved = resolved.selectExpr("*", "CAST(NULL AS DATE) AS established_date",
                                   "CAST(NULL AS DECIMAL(18,4)) AS registered_capital_wan",
                                   "CAST(NULL AS STRING) AS registered_address", "'320621' AS division_code",
                                   "'存续' AS status", "CAST(NULL AS DATE) AS recorded_on")
    people = spark.createDataFrame([(PERSON_ID, "P1", "identity_number")],
                                   "identity_number string, person_id string, resolved_by string")
    golden = golden_legal_entity(resolved, people).collect()
    assert [r.entity_id for r in golden] == ["E1"]  # E2 is known from a penalty only
    entity = golden[0]
    assert (entity.credit_code, entity.entity_name, entity.legal_representative_person_id) == (CODE, "华泰有限公司", "P1")
    assert entity.sources == ["administrative_penalties", "enterprise_registry"] and entity.source_records == 2
