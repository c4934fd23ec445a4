import datetime as dt

import pytest
from pyspark.sql import functions as F

from citylake.standardise import (
    company_name_normal_form,
    map_columns,
    parse_date,
    standardise_legal_entity,
    standardise_population,
)

pytestmark = pytest.mark.spark
BATCH = ("household_registration", "household_registration/2026-11-23", "f.csv", 2, None)


def test_parse_date_reads_every_delivered_format(spark):
    texts = ["1949-12-31", "19491231", "1949/12/31", "1949年12月31日", "1949.12.31", " 1949-12-31 ", "1949-13-01", "", None]
    rows = spark.createDataFrame([(t,) for t in texts], "t string").select(parse_date(F.col("t")).alias("d")).collect()
    assert [r.d for r in rows] == [dt.date(1949, 12, 31)] * 6 + [None, None, None]


def test_company_name_normal_form(spark):
    names = ["十堰华泰商贸（有限公司）", "十堰华泰商贸有限责任公司", " 十堰 华泰商贸(有限公司) "]
    rows = spark.createDataFrame([(n,) for n in names], "n string").select(company_name_normal_form(F.col("n")).alias("k")).collect()
    assert {r.k for r in rows} == {"十堰华泰商贸有限公司"}


def test_population_row_is_typed_and_flagged(spark):
    raw = spark.createDataFrame(
        [
            ("110105491231002", " 张 三 ", "2", "1", "19491231", "北京市朝阳区", "110105", *BATCH),
            ("11010519491231002Y", "李四", "1", "01", "1949-12-31", None, "420321", *BATCH),
            ("", "王五", "1", "01", "1980/01/01", None, "999999", *BATCH),
        ],
        "id string, nm string, sx string, mz string, cs string, dz string, qh string, "
        "_source string, _batch_id string, _file string, _line_number int, _ingested_at timestamp",
    )
    mapping = {"id": "identity_number", "nm": "name", "sx": "sex", "mz": "ethnicity", "cs": "birth_date",
               "dz": "household_address", "qh": "division_code"}
    rows = standardise_population(map_columns(raw, mapping)).orderBy("name").collect()
    first, second, third = sorted(rows, key=lambda r: ["张三", "李四", "王五"].index(r.name))
    assert first.identity_number == "11010519491231002X" and first.identity_number_valid
    assert first.birth_date == dt.date(1949, 12, 31) and first.birth_date_matches_identity
    assert first.ethnicity == "01" and first.division_known is False  # Beijing is not this city's
    assert second.identity_number_valid is False and second.division_known  # historical 郧县
    assert third.identity_number is None and third.identity_number_valid is False


def test_legal_entity_row_is_typed_and_flagged(spark):
    raw = spark.createDataFrame(
        [(" 91320621ma1mrhg205 ", "华泰（有限公司）", "张三", "11010519491231002x", "2001-02-03", "100", "420302", "存续",
          "enterprise_registry", "b", "f", 2, None)],
        "c string, n string, r string, ri string, e string, k string, q string, s string, "
        "_source string, _batch_id string, _file string, _line_number int, _ingested_at timestamp",
    )
    mapping = {"c": "credit_code", "n": "entity_name", "r": "legal_representative_name",
               "ri": "legal_representative_identity_number", "e": "established_date",
               "k": "registered_capital_wan", "q": "division_code", "s": "status"}
    mapping["registered_address"] = "registered_address"
    row = standardise_legal_entity(map_columns(raw.withColumn("registered_address", F.lit(" 某路 1号 ")), mapping)).first()
    assert row.credit_code == "91320621MA1MRHG205" and row.credit_code_valid
    assert row.organisation_code == "MA1MRHG20"
    assert row.entity_name == "华泰(有限公司)" and row.entity_name_normal == "华泰有限公司"
    assert row.legal_representative_identity_number == "11010519491231002X" and row.legal_representative_identity_valid
    assert row.established_date == dt.date(2001, 2, 3) and float(row.registered_capital_wan) == 100.0
    assert row.registered_address == "某路 1号"
