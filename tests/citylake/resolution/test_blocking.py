"""Blocking: the pairs each rule keeps (each pair once), and oversized blocks dropped or split."""

import pytest
from pyspark.sql import functions as F

from citylake.resolution import blocking, features, parse_config
from citylake.resolution.features import KEY

pytestmark = pytest.mark.spark


def _config(max_block_size: int = 100, oversized: str = "split", rules=None):
    return parse_config({
        "library": "test", "record_key": "key",
        "fields": {"name": {"normaliser": "person_name"}, "birth_date": {"normaliser": "date"}},
        "comparisons": [{"name": "name", "type": "person_name", "field": "name"}],
        "blocking": {"max_block_size": max_block_size, "oversized": oversized, "rules": rules or [
            {"name": "surname", "keys": ["name_surname_pinyin"]},
            {"name": "birth_date", "keys": ["birth_date"], "when": "birth_date_year >= 1950"},
        ]},
    }, "test")


def _pairs(spark, config, rows) -> tuple[dict, list]:
    records = spark.createDataFrame(rows, "key string, name string, birth_date string")
    _, table, _ = features.build(records, config)
    keyed, report = blocking.with_block_keys(table, config)
    found = blocking.pairs(keyed, len(config.blocking.rules), lambda rule: [
        F.lit(rule).alias("rule"), F.col(f"l.{KEY}").alias("a"), F.col(f"r.{KEY}").alias("b")]).collect()
    return {tuple(sorted((row.a, row.b))): row.rule for row in found}, report, len(found)


def test_rules_keep_the_pairs_that_share_a_key_each_once(spark):
    rows = [("a", "张三", "1980-01-01"), ("b", "章三", "1980-01-01"),  # 张 and 章: zhang
            ("c", "李四", "1980-01-01"), ("d", "李五", "1940-02-02"), ("e", "李六", "1940-02-02"),
            ("f", None, "1981-03-03")]
    pairs, report, count = _pairs(spark, _config(), rows)
    assert pairs == {("a", "b"): 0,  # the same surname pinyin (and birth date: kept once, by rule 0)
                     ("c", "d"): 0, ("c", "e"): 0, ("d", "e"): 0,  # 李
                     ("a", "c"): 1, ("b", "c"): 1}  # the same birth date; 1940 is left out by `when`
    assert count == len(pairs)
    assert [rule["rule"] for rule in report] == ["surname", "birth_date"]
    assert report[0]["blocks"] == 2 and report[0]["largest_block"] == 3


def test_oversized_blocks_are_dropped(spark):
    rows = [(str(i), f"王{chr(0x4E00 + i)}", None) for i in range(5)] + [("x", "赵一", None), ("y", "赵二", None)]
    pairs, report, _ = _pairs(spark, _config(max_block_size=3, oversized="drop"), rows)
    assert pairs == {("x", "y"): 0}  # the five 王 are one block of 5 > 3
    assert report[0]["oversized_blocks"] == 1 and report[0]["records_in_oversized_blocks"] == 5
    assert report[0]["pairs_before_cap"] == 10 + 1


def test_oversized_blocks_are_split(spark):
    rows = [(f"{i:02d}", f"王{chr(0x4E00 + i)}", None) for i in range(40)]
    pairs, report, count = _pairs(spark, _config(max_block_size=10, oversized="split"), rows)
    assert 0 < count < 40 * 39 // 2  # pairs across sub-blocks are lost, the work bounded
    assert count <= 4 * (20 * 19 // 2)  # 4 sub-blocks by a hash of the key: none near 40
    assert report[0]["oversized_blocks"] == 1 and report[0]["oversized_action"] == "split"
