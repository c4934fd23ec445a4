import pytest
from pyspark.sql import functions as F

from citylake import codes, divisions


def test_registration_number_worked_example():
    assert codes.registration_check_digit("11010800000001") == "6"
    assert codes.is_valid_registration_number("110108000000016")
    assert not codes.is_valid_registration_number("110108000000017")
    assert not codes.is_valid_registration_number("11010800000001")


@pytest.mark.parametrize("code, valid", [("MA1MRHG20", True), ("M000100Y4", True), ("MA1MRHG21", False), ("MA1MRHG2", False), (None, False)])
def test_organisation_code(code, valid):
    assert codes.is_valid_organisation_code(code) is valid


@pytest.mark.parametrize(
    "raw, normal, valid, masked",
    [
        ("138-1234-5678", "13812345678", True, "138****5678"),
        ("+86 138 1234 5678", "13812345678", True, "138****5678"),
        ("0086１３８１２３４５６７８", "13812345678", True, "138****5678"),
        ("0719-8123456", "07198123456", True, "071****3456"),
        ("12345", "12345", False, "*****"),
        ("", None, False, None),
    ],
)
def test_phone_numbers(raw, normal, valid, masked):
    assert codes.normalise_phone(raw) == normal
    assert codes.is_valid_phone(normal) is valid
    assert codes.mask_phone(normal) == masked


def test_ethnicity_table_runs_from_han_to_jino():
    assert codes.ETHNICITY_CODES["汉族"] == "01" and codes.ETHNICITY_CODES["基诺族"] == "56"
    assert codes.ETHNICITY_CODES["土家族"] == "15" and codes.ETHNICITY_CODES["1"] == "01"
    assert len(codes.ETHNIC_GROUPS) == 56


def test_national_divisions_keep_abolished_codes():
    national = divisions.national()
    assert {"420321", "420821", "420304", "420882", "110105"} <= national
    assert "420399" not in national


@pytest.mark.spark
def test_spark_twins_agree(spark):
    rows = [("男", "汉族", "MA1MRHG20", "110108000000016", "+86 138 1234 5678"),
            ("F", "3", "MA1MRHG21", "110108000000017", "0719-8123456"),
            ("x", "火星族", None, "1101080000000", "12345"),
            (" 2 ", "基诺", "M000100Y4", None, None)]
    frame = spark.createDataFrame(rows, "sex string, eth string, org string, reg string, phone string")
    result = frame.select(
        codes.sex_code_col(F.col("sex")).alias("sex"),
        codes.ethnicity_code_col(F.col("eth")).alias("eth"),
        codes.organisation_code_valid_col(F.col("org")).alias("org"),
        codes.registration_number_valid_col(F.col("reg")).alias("reg"),
        codes.normalise_phone_col(F.col("phone")).alias("phone"),
    ).withColumn("phone_valid", codes.phone_valid_col(F.col("phone"))).collect()
    assert [r.sex for r in result] == ["1", "2", None, "2"]
    assert [r.eth for r in result] == ["01", "03", None, "56"]
    assert [r.org for r in result] == [codes.is_valid_organisation_code(r[2]) for r in rows] == [True, False, False, True]
    assert [r.reg for r in result] == [codes.is_valid_registration_number(r[3]) for r in rows] == [True, False, False, False]
    assert [r.phone for r in result] == [codes.normalise_phone(r[4]) for r in rows]
    assert [r.phone_valid for r in result] == [True, True, False, False]
