"""Normalisers: literal rows in, the feature columns comparisons and blocking read."""

import datetime as dt

import pytest
from pyspark.sql import functions as F

from citylake.resolution import features, parse_config

pytestmark = pytest.mark.spark

CONFIG = parse_config({
    "library": "test",
    "record_key": "key",
    "fields": {
        "identity_number": {"normaliser": "identity_number"},
        "name": {"normaliser": "person_name"},
        "birth_date": {"normaliser": "date"},
        "sex": {"normaliser": "sex"},
        "division_code": {"normaliser": "division_code"},
        "address": {"normaliser": "address"},
        "credit_code": {"normaliser": "credit_code"},
        "organisation_code": {"normaliser": "organisation_code", "column": ["organisation_code", "credit_code"]},
        "registration_number": {"normaliser": "registration_number"},
        "company": {"normaliser": "company_name"},
        "absent": {"normaliser": "text"},
    },
    "comparisons": [{"name": "sex", "type": "exact", "field": "sex"}],
    "blocking": {"rules": [{"name": "sex", "keys": ["sex"]}]},
}, "test")

COLUMNS = ["key", "identity_number", "name", "birth_date", "sex", "division_code", "address", "credit_code",
           "organisation_code", "registration_number", "company"]
ROWS = [
    ("1", "110105491231002", "张　伟", "1949年12月31日", "男", "420302", " 湖北省 十堰市 ", "91320621MA1MRHG205",
     None, None, "华泰物流（十堰）有限责任公司"),
    ("2", "3423011964****3224", "欧阳娜娜", "1964/5/6", "F", None, None, None, "MA1MRHG2-0", None,
     "十堰华泰物流有限公司"),
    ("3", "11010519491231002x", "张玮", "19491231", "9", None, None, None, None, "110108000000016", None),
    ("4", "１１０１０５１９４９１２３１００２１", "张 伟", "1949-12-31 00:00:00", "2", None, None, None, None, None, None),
]


@pytest.fixture(scope="module")
def built(spark):
    records = spark.createDataFrame(ROWS, ", ".join(f"{c} string" for c in COLUMNS))
    base, table, facts = features.build(records, CONFIG, hashed={"name_pinyin", "division_code"})
    return {row["__key"]: row.asDict() for row in table.collect()}, facts


def test_identity_numbers_are_normalised_and_checked(built):
    rows, _ = built
    assert rows["1"]["identity_number"] == "11010519491231002X"  # 15 digits upgraded
    assert rows["1"]["identity_number_valid"] is True
    assert rows["3"]["identity_number"] == "11010519491231002X"  # lower-case x
    assert rows["4"]["identity_number"] == "110105194912310021"  # full-width digits, wrong check
    assert rows["4"]["identity_number_valid"] is False
    assert rows["4"]["identity_number_body"] == "11010519491231002"


def test_masked_numbers_keep_their_visible_parts(built):
    row = built[0]["2"]
    assert (row["identity_number_masked"], row["identity_number_valid"]) == (True, False)
    assert (row["identity_number_head"], row["identity_number_tail"]) == ("3423011964", "3224")
    assert row["identity_number_body"] is None
    unmasked = built[0]["1"]
    assert unmasked["identity_number_head"] == unmasked["identity_number_tail"] == "11010519491231002X"


def test_names_get_pinyin_so_homophones_meet(built):
    rows, facts = built
    assert rows["1"]["name"] == "张伟"  # the full-width space gone
    assert rows["1"]["name_pinyin"] == rows["3"]["name_pinyin"] == "zhang wei"  # 伟 and 玮
    assert rows["1"]["name_pinyin_hash"] == rows["3"]["name_pinyin_hash"] is not None
    assert (rows["1"]["name_surname"], rows["1"]["name_given"], rows["1"]["name_surname_pinyin"]) == ("张", "伟", "zhang")
    assert facts["pinyin_characters"] == 6  # 张 伟 欧 阳 娜 玮


def test_compound_surnames_are_recognised(built):
    row = built[0]["2"]
    assert (row["name_surname"], row["name_surname_pinyin"]) == ("欧阳", "ou yang")
    assert (row["name_given"], row["name_given_pinyin"]) == ("娜娜", "na na")
    assert row["name_length"] == 4


def test_one_replaced_character_leaves_a_shared_variant(built):
    rows, _ = built
    zhang_wei, zhang_wei2 = rows["1"], rows["3"]  # 张伟 / 张玮: position 2 differs
    assert zhang_wei["name_variant2"] == zhang_wei2["name_variant2"]
    assert zhang_wei["name_variant1"] != zhang_wei2["name_variant1"]
    assert zhang_wei["name_variant3"] is None


def test_dates_in_the_departments_styles(built):
    rows, _ = built
    for key in ("1", "3", "4"):
        assert rows[key]["birth_date"] == dt.date(1949, 12, 31)
    assert (rows["2"]["birth_date_year"], rows["2"]["birth_date_month"], rows["2"]["birth_date_day"]) == (1964, 5, 6)
    assert rows["1"]["birth_date_days"] == (dt.date(1949, 12, 31) - dt.date(1970, 1, 1)).days


def test_sex_codes(built):
    rows, _ = built
    assert [rows[key]["sex"] for key in "1234"] == ["1", "2", None, "2"]  # 9 (unstated) is no value


def test_organisations(built):
    rows, _ = built
    assert rows["1"]["credit_code_valid"] is True
    assert rows["1"]["credit_code_organisation_code"] == "MA1MRHG20"
    assert rows["1"]["organisation_code"] == "MA1MRHG20"  # from the credit code's positions 9-17
    assert rows["2"]["organisation_code"] == "MA1MRHG20"  # printed with a hyphen
    assert rows["2"]["organisation_code_valid"] is True
    assert rows["3"]["registration_number_valid"] is True
    assert rows["1"]["company_normal"] == "华泰物流十堰有限公司"
    assert rows["1"]["company_core"] == "华泰物流十堰"
    assert rows["1"]["company_sorted"] == rows["2"]["company_sorted"]  # 十堰 moved into brackets


def test_places_and_absent_columns(built):
    rows, facts = built
    assert rows["1"]["address"] == "湖北省十堰市"
    assert (rows["1"]["division_code_city"], rows["1"]["division_code_province"]) == ("4203", "42")
    assert rows["1"]["absent"] is None
    assert facts["missing_fields"] == ["absent"]


def test_the_content_hash_covers_every_column_but_the_key_and_the_provenance(spark):
    config = parse_config({"library": "test", "record_key": "key", "provenance": ["line", "absent_column"],
                           "fields": {"name": {"normaliser": "person_name"}},
                           "comparisons": [{"name": "name", "type": "person_name", "field": "name"}],
                           "blocking": {"rules": [{"name": "name", "keys": ["name_pinyin"]}]}})
    rows = spark.createDataFrame([("a", "张三", "01", 1), ("b", "张三", "02", 1), ("c", "张三", "01", 7)],
                                 "key string, name string, ethnicity string, line int")
    delivered = rows.select("key", features.delivery(rows, config)[features.HASH].alias("hash"))
    hashes = {row.key: row.hash for row in delivered.collect()}
    # the name alike; the ethnicity, read by no field, differs for b; c was delivered on another line
    assert hashes["a"] == hashes["c"] != hashes["b"]


def test_the_content_hash_tells_apart_where_values_and_nulls_fall(spark):
    rows = spark.createDataFrame([("1", "ab", None), ("2", None, "ab"), ("3", "a", "bc"), ("4", "ab", "c"),
                                  ("5", "ab", None), ("6", "", None), ("7", None, None)],
                                 "key string, first string, second string")
    hashed = rows.select("key", features.content_hash([F.col("first"), F.col("second")]).alias("hash"))
    hashes = {row.key: row.hash for row in hashed.collect()}
    assert hashes["1"] == hashes["5"]  # the same values
    assert len({hashes[key] for key in "123467"}) == 6  # moved, split differently, empty or null: all differ
    assert all(len(value) == 32 for value in hashes.values())
