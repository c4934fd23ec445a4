"""Each comparison's levels on literal pairs of records."""

import pytest
from pyspark.sql import functions as F

from citylake.resolution import engine, features, parse_config
from citylake.resolution.comparisons import ELSE

from .conftest import PERSON_COLUMNS, number, wrong_check

pytestmark = pytest.mark.spark

NULL = "null"


def _levels(spark, config, columns: str, rows: list[tuple], pairs: list[tuple[str, str]]) -> dict:
    """{(left key, right key): {comparison: level label}} for the given pairs."""
    comparisons = engine.comparisons_of(config)
    records = spark.createDataFrame(rows, columns)
    _, table, _ = features.build(records, config, hashed=engine.hashed_features(config, comparisons))
    wanted = spark.createDataFrame(pairs, "lk string, rk string")
    joined = (wanted.join(table.alias("l"), F.col("lk") == F.col(f"l.{features.KEY}"))
              .join(table.alias("r"), F.col("rk") == F.col(f"r.{features.KEY}")))
    result = {}
    for row in joined.select("lk", "rk", *[c.level().alias(c.name) for c in comparisons]).collect():
        labels = {}
        for comparison in comparisons:
            index = row[comparison.name]
            labels[comparison.name] = NULL if index == 0 else comparison.labels[index - 1]
        result[(row.lk, row.rk)] = labels
    return result


@pytest.fixture(scope="module")
def person_levels(spark, person_config):
    full = number("34230119640506322")
    rows = [
        ("zhang", number("42030219800101123"), "张伟", "1980-01-01", "1", "420302", "人民路1号"),
        ("homophone", None, "张玮", "1980-01-01", "1", "420302", None),  # 伟 / 玮: wei
        ("typo", None, "张伟强", "1980-01-10", "1", "420303", None),
        ("typo2", None, "张建强", "1980-10-01", "1", "420322", None),  # one character of three
        ("short", None, "张强", "1979-06-30", "2", "420881", "人民路1号"),
        ("other", None, "李四", "1990-05-05", None, "420302", None),
        ("mistyped", wrong_check("42030219800101123"), "张伟", "1980-01-01", "1", "420302", None),
        ("close", "420302198001011290", "张伟", "1980-01-01", "1", "420302", None),  # invalid, 2 apart
        ("full", full, "王芳", "1964-05-06", "2", "342301", None),
        ("court", full[:10] + "****" + full[14:], "王芳", None, "2", None, None),  # 3423011964****322x
        ("court_other", "3423011965****" + full[14:], "王芳", None, "2", None, None),
        ("display", full[:4] + "*" * 10 + full[-4:], "王芳", None, "2", None, None),  # 3423**********322x
    ]
    pairs = [("zhang", "homophone"), ("zhang", "typo"), ("typo", "typo2"), ("zhang", "short"), ("zhang", "other"),
             ("zhang", "mistyped"), ("zhang", "close"), ("full", "court"), ("full", "court_other"),
             ("full", "display"), ("zhang", "zhang")]
    return _levels(spark, person_config, PERSON_COLUMNS, rows, pairs)


def test_person_names(person_levels):
    name = {pair: levels["name"] for pair, levels in person_levels.items()}
    assert name[("zhang", "zhang")] == "exact"
    assert name[("zhang", "homophone")] == "pinyin"  # homophones by pinyin
    assert name[("typo", "typo2")] == "one_character"  # 张伟强 / 张建强
    assert name[("zhang", "homophone")] != "one_character_short"
    assert name[("zhang", "short")] == "one_character_short"  # 张伟 / 张强: half of a short name
    assert name[("zhang", "typo")] == "same_surname_pinyin"
    assert name[("zhang", "other")] == ELSE


def test_birth_dates(person_levels):
    date = {pair: levels["birth_date"] for pair, levels in person_levels.items()}
    assert date[("zhang", "homophone")] == "exact"
    assert date[("zhang", "typo")] == "one_part"  # the day mistyped
    assert date[("typo", "typo2")] == "one_part"  # month and day transposed
    assert date[("zhang", "short")] == "within_days"
    assert date[("zhang", "other")] == ELSE
    assert date[("full", "court")] == NULL  # the courts publish no birth date


def test_sex_and_place(person_levels):
    assert person_levels[("zhang", "homophone")]["sex"] == "exact"
    assert person_levels[("zhang", "short")]["sex"] == ELSE
    assert person_levels[("zhang", "other")]["sex"] == NULL
    assert person_levels[("zhang", "short")]["place"] == "same_address"
    assert person_levels[("zhang", "homophone")]["place"] == "same_division"
    assert person_levels[("zhang", "typo")]["place"] == "same_city"
    assert person_levels[("zhang", "short")]["place"] == "same_address"
    assert person_levels[("full", "court")]["place"] == NULL


def test_identity_numbers_and_masks(person_levels):
    number_ = {pair: levels["identity_number"] for pair, levels in person_levels.items()}
    assert number_[("zhang", "mistyped")] == "all_but_check"  # a wrong check character
    assert number_[("full", "court")] == "visible"  # 3423011964****322x agrees
    assert number_[("full", "display")] == "visible"  # 3423**********322x agrees
    assert number_[("full", "court_other")] == ELSE  # another birth year behind the mask
    assert number_[("zhang", "close")] == "close"
    assert number_[("zhang", "homophone")] == NULL


def test_company_names_and_code_prefixes(spark):
    config = parse_config({
        "library": "test", "record_key": "key",
        "fields": {"name": {"normaliser": "company_name"}, "division_code": {"normaliser": "code"}},
        "comparisons": [{"name": "name", "type": "company_name", "field": "name"},
                        {"name": "division", "type": "code_prefix", "field": "division_code", "prefix_lengths": [4, 2]}],
        "blocking": {"rules": [{"name": "all", "keys": ["1"]}]},
    }, "test")
    rows = [("a", "华泰物流（十堰）有限公司", "420302"), ("b", "华泰物流(十堰)有限责任公司", "420302"),
            ("c", "华泰物流（十堰）股份有限公司", "420303"), ("d", "十堰华泰物流有限公司", "420881"),
            ("e", "华泰物流十堰分公司", "110105"), ("f", "楚天建材有限公司", None)]
    levels = _levels(spark, config, "key string, name string, division_code string", rows,
                     [("a", "b"), ("a", "c"), ("a", "d"), ("a", "e"), ("a", "f")])
    assert [levels[("a", other)]["name"] for other in "bcdef"] == ["exact", "core", "same_characters", "core_close", ELSE]
    assert [levels[("a", other)]["division"] for other in "bcdef"] == ["exact", "prefix_4", "prefix_2", ELSE, NULL]
