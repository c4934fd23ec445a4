import random

import pytest
from pyspark.sql import functions as F

from citylake import credit_code


def test_worked_check_character():
    # domain.md: body 91350100M000100Y4 has sum 1640, check 3
    assert credit_code.check_char("91350100M000100Y4") == "3"


@pytest.mark.parametrize("code", ["91320621MA1MRHG205", "91350100M000100Y43"])
def test_worked_examples_pass_both_checks(code):
    assert credit_code.is_valid(code)


def test_organisation_check_character():
    assert credit_code.organisation_check_char("MA1MRHG2") == "0"
    assert credit_code.organisation_check_char("M000100Y") == "4"


def _corrupted(seed=5, count=30):
    rng = random.Random(seed)
    good = "91320621MA1MRHG205"
    bad = []
    for _ in range(count):
        position = rng.randrange(18)
        replacement = rng.choice([c for c in credit_code.ALPHABET if c != good[position]])
        bad.append(good[:position] + replacement + good[position + 1 :])
    return bad + ["91320621MA1MRHG20", "91320621MA1MRHG2O5", "9132062IMA1MRHG205"]


@pytest.mark.parametrize("code", _corrupted())
def test_any_single_substitution_fails(code):
    assert not credit_code.is_valid(code)


@pytest.mark.spark
def test_spark_twin_agrees(spark):
    codes = ["91320621MA1MRHG205", "91350100M000100Y43", " 91320621ma1mrhg205 ", *_corrupted(count=12), "", None]
    frame = spark.createDataFrame([(c,) for c in codes], "raw string")
    rows = (
        frame.withColumn("code", credit_code.normalise_col(F.col("raw")))
        .withColumn("valid", credit_code.is_valid_col(F.col("code")))
        .withColumn("organisation", credit_code.organisation_code_col(F.col("code")))
        .collect()
    )
    for row in rows:
        expected = credit_code.normalise(row.raw)
        assert row.code == expected
        assert row.valid == credit_code.is_valid(expected), row.raw
    assert rows[0].organisation == "MA1MRHG20"
