import random

import pytest
from pyspark.sql import functions as F

from citylake import identity

WORKED_EXAMPLES = ["11010519491231002X", "440524188001010014", "34052419800101001X"]


@pytest.mark.parametrize("number", WORKED_EXAMPLES)
def test_worked_examples_pass(number):
    assert identity.is_valid(number)
    assert identity.check_char(number[:17]) == number[17]


def test_fifteen_digit_upgrade_matches_domain_example():
    assert identity.upgrade_fifteen("110105491231002") == "11010519491231002X"


@pytest.mark.parametrize(
    "raw, expected",
    [
        (" 11010519491231002x ", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("110105491231002", "11010519491231002X"),
        ("4405 2418 8001 0100 14", "440524188001010014"),
        ("", None),
        (None, None),
    ],
)
def test_normalise(raw, expected):
    assert identity.normalise(raw) == expected


def _corrupted_examples(count=40, seed=3):
    """Valid numbers with one wrong check character, and malformed strings."""
    rng = random.Random(seed)
    bad = []
    for _ in range(count):
        number = rng.choice(WORKED_EXAMPLES)
        wrong = rng.choice([c for c in identity.CHECK_CHARS if c != number[17]])
        bad.append(number[:17] + wrong)
    return bad + ["1101051949123100", "11010519491231002Y", "A1010519491231002X", "abc"]


@pytest.mark.parametrize("number", _corrupted_examples())
def test_corrupted_numbers_fail(number):
    assert not identity.is_valid(number)


def test_mask_keeps_first_and_last_four():
    assert identity.mask("420302197407059784") == "4203**********9784"


@pytest.mark.spark
def test_spark_twins_agree_with_python(spark):
    raws = [*WORKED_EXAMPLES, " 11010519491231002x", "110105491231002", "１１０１０５１９４９１２３１００２Ｘ",
            *_corrupted_examples(10), "", None]
    frame = spark.createDataFrame([(raw,) for raw in raws], "raw string")
    rows = frame.select(
        "raw",
        identity.normalise_col(F.col("raw")).alias("normal"),
    ).withColumn("valid", identity.is_valid_col(F.col("normal"))).withColumn(
        "masked", identity.mask_col(F.col("normal"))
    ).collect()
    for row in rows:
        expected = identity.normalise(row.raw)
        assert row.normal == expected, row.raw
        assert row.valid == identity.is_valid(expected), row.raw
        if expected is not None:
            assert row.masked == identity.mask(expected)


@pytest.mark.spark
def test_birth_date_and_sex_from_number(spark):
    frame = spark.createDataFrame([("11010519491231002X",), ("440524188001010014",), ("42030219991340001X",)], "n string")
    rows = frame.select(identity.birth_date_col(F.col("n")).alias("born"), identity.sex_col(F.col("n")).alias("sex")).collect()
    assert str(rows[0].born) == "1949-12-31" and rows[0].sex == "2"
    assert str(rows[1].born) == "1880-01-01" and rows[1].sex == "1"
    assert rows[2].born is None  # month 13 is not a date


@pytest.mark.spark
def test_birth_date_plausibility(spark):
    first17 = ["11010519491231002", "11010518991231002", "11010520991231002", "11010519491331002"]
    numbers = [f + identity.check_char(f) for f in first17]
    frame = spark.createDataFrame([(n,) for n in numbers], "n string")
    rows = frame.select(identity.birth_date_plausible_col(F.col("n"), F.lit("2026-11-23").cast("date")).alias("ok")).collect()
    assert [r.ok for r in rows] == [True, False, False, False]  # 1949 yes; 1899, 2099, month 13 no


# RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?")
RFC_4231_KEY, RFC_4231_DATA = b"Jefe", "what do ya want for nothing?"
RFC_4231_HMAC = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_the_pseudonym_is_the_rfc_4231_hmac_spelt_in_letters():
    expected = RFC_4231_HMAC[:24].translate(str.maketrans("0123456789", "ghijklmnop"))
    assert identity.pseudonym(RFC_4231_DATA, RFC_4231_KEY) == expected == "lbdcchkmbfmgnlkemagkikim"
    assert identity.pseudonym(RFC_4231_DATA, b"another key") != expected
    assert identity.pseudonym(None, RFC_4231_KEY) is None


def test_the_spark_pseudonym_agrees_with_python(spark):
    long_key = bytes(range(100))  # longer than SHA-256's block: hashed first, as RFC 2104 says
    rows = [(RFC_4231_DATA,), (WORKED_EXAMPLES[0],), ("张三",), (None,)]
    frame = spark.createDataFrame(rows, "value string")
    for key in (RFC_4231_KEY, long_key):
        got = [r.p for r in frame.select(identity.pseudonym_col(F.col("value"), key).alias("p")).collect()]
        assert got == [identity.pseudonym(value, key) for (value,) in rows]


@pytest.mark.parametrize("text", [
    "WHERE n = '11010519491231002X'",
    "WHERE n = '110105 19491231 002X'",
    "WHERE n = '110105-19491231-002x'",
    "WHERE n = '1101' || '0519' || '4912' || '3100' || '2X'",
    "WHERE n = concat('110105', '1949', '1231', '002', 'X')",
    "WHERE n = 110105194912310020",
    "error: [CAST_INVALID_INPUT] The value '110105 1949 1231 002X' of the type STRING",
])
def test_no_digit_of_an_identity_number_survives_in_text_however_written(text):
    masked = identity.mask_in_text(text)
    assert not any(digit in masked for digit in "0123456789"), masked
    assert "X'" not in masked.upper() and masked.count("*") >= 18


def test_short_numbers_stay_in_text():
    assert identity.mask_in_text("WHERE birth_year = 1980 AND sex = '1' LIMIT 10") == \
        "WHERE birth_year = 1980 AND sex = '1' LIMIT 10"
