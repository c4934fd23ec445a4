"""Identifier first: exact links through credit codes, organisation codes and registration
numbers; ambiguous identifiers and conflicts flagged, not merged."""

import pytest

from citylake import codes, credit_code
from citylake.resolution import engine, load_config
from citylake.resolution.features import KEY
from citylake.resolution.identifiers import ANCHOR, ANCHOR_TYPE, REVIEW

pytestmark = pytest.mark.spark

COLUMNS = "record_key string, credit_code string, organisation_code string, registration_number string, " \
          "name string, legal_representative string, division_code string"


def _credit(body8: str, division: str = "420302") -> str:
    first17 = "91" + division + body8 + credit_code.organisation_check_char(body8)
    return first17 + credit_code.check_char(first17)


def _registration(first14: str) -> str:
    return first14 + codes.registration_check_digit(first14)


@pytest.fixture(scope="module")
def prepared(spark):
    c1, c2, c3 = _credit("MA1MRHG2"), _credit("MA2ABCD3"), _credit("MA3XYKW4")
    r1, r2 = _registration("42030200000001"), _registration("42030200000002")
    mistyped = c1[:17] + ("0" if c1[17] != "0" else "1")
    rows = [
        ("registry", c1, None, r1, "华泰物流（十堰）有限公司", "张三", "420302"),
        ("by_organisation_code", None, f"{c1[8:16]}-{c1[16]}", None, "华泰物流(十堰)有限责任公司", None, None),
        ("by_registration_number", None, None, r1, "华泰物流(十堰)有限公司", None, None),
        ("mistyped_credit_code", mistyped, None, None, "华泰物流（十堰）有限公司", None, None),
        ("unregistered", None, "MA9QQQQ8" + credit_code.organisation_check_char("MA9QQQQ8"), None, "某某商店", None, None),
        ("two", c2, None, r2, "楚天建材有限公司", "李四", "420303"),
        ("three", c3, None, r2, "汉江电子有限公司", "王五", "420304"),
        ("ambiguous", None, None, r2, "汉江电子有限公司", None, None),
        ("renamed", c1, None, None, "武当旅游开发有限公司", None, None),  # one credit code, another name
        ("registry_again", c1, None, None, "华泰物流（十堰）有限公司", None, None),
    ]
    records = spark.createDataFrame(rows, COLUMNS)
    result = engine.prepare(records, load_config("legal_entity"))
    table = {row[KEY]: row for row in result.keyed.select(KEY, ANCHOR, ANCHOR_TYPE, REVIEW).collect()}
    return table, result.conflicts.collect(), c1


def test_organisation_codes_and_registration_numbers_lead_to_the_credit_code(prepared):
    table, _, c1 = prepared
    anchor = f"credit_code:{c1}"
    for key in ("registry", "registry_again", "by_organisation_code", "by_registration_number", "mistyped_credit_code"):
        assert table[key][ANCHOR] == anchor, key
    assert table["by_organisation_code"][ANCHOR_TYPE] == "organisation_code"
    assert table["by_registration_number"][ANCHOR_TYPE] == "registration_number"


def test_an_identifier_the_registry_does_not_know_anchors_on_its_own(prepared):
    table, _, _ = prepared
    assert table["unregistered"][ANCHOR].startswith("organisation_code:MA9QQQQ8")


def test_an_identifier_beside_two_credit_codes_is_ambiguous(prepared):
    table, conflicts, _ = prepared
    assert table["ambiguous"][ANCHOR] is None
    assert table["ambiguous"][REVIEW] == "ambiguous_registration_number"
    assert table["two"][ANCHOR] != table["three"][ANCHOR]  # each keeps its own credit code
    assert {row.record_key for row in conflicts if row.reason == "ambiguous_registration_number"} == {
        "ambiguous", "two", "three"}


def test_one_credit_code_under_an_unrelated_name_is_held_out_and_flagged(prepared):
    table, conflicts, c1 = prepared
    assert table["renamed"][ANCHOR] is None
    assert table["renamed"][REVIEW] == "identifier_conflict"
    [row] = [row for row in conflicts if row.reason == "identifier_conflict"]
    assert (row.record_key, row.identifier, row.action) == ("renamed", "credit_code", "hold_out")
    assert row.representative_key in ("registry", "registry_again", "mistyped_credit_code", "by_organisation_code",
                                      "by_registration_number")
    assert row.masked_identifier == c1[:4] + "*" * 10 + c1[-4:]
