import datetime as dt
import re
from decimal import Decimal

import pytest

from tests.conftest import explained
from pyspark.sql import functions as F

from citylake import contracts, quality
from citylake.contracts import Contract
from citylake.standardise import (
    BATCH_COLUMNS,
    StandardiseError,
    added_columns,
    birth_date_pairs,
    company_name_normal_form,
    map_columns,
    parse_date,
    standard_columns,
    standardise,
)

pytestmark = pytest.mark.spark
BATCH_SCHEMA = "_source string, _batch_id string, _file string, _line_number int, _ingested_at timestamp"
ALL_CONTRACTS = contracts.load_all()


def _contract(**kinds: str) -> Contract:
    """A throw-away contract: field -> kind, every field a string column."""
    return Contract.model_validate({
        "name": "t", "department": "t", "dataset": "t", "library": "credit", "format": "csv",
        "location": "{incoming}/{run_date}/t.csv", "schedule": "0 1 * * *", "keys": [next(iter(kinds))],
        "columns": [{"source": field, "standard": field, "kind": kind, "type": "string", "required": False,
                     "personal_data": "none"} for field, kind in kinds.items()],
    })


def _standardised(spark, contract: Contract, rows: list[tuple]) -> list:
    """Standardises literal rows (one value per contract column, in order), in order."""
    fields = [column.standard for column in contract.columns]
    schema = ", ".join(f"`{field}` string" for field in fields) + ", " + BATCH_SCHEMA
    mapped = spark.createDataFrame([(*row, "t", "t/2026-11-23", "t.csv", line, None)
                                    for line, row in enumerate(rows, start=2)], schema)
    return standardise(mapped, contract).orderBy("_line_number").collect()


def _column(spark, kind: str, values: list) -> list:
    return _standardised(spark, _contract(f=kind), [(value,) for value in values])


# --- values -------------------------------------------------------------------------------------


def test_parse_date_reads_every_delivered_format(spark):
    texts = ["1949-12-31", "19491231", "1949/12/31", "1949/1/5", "1949年12月31日", "1949年1月5日", "2024年03月05日",
             "1949.12.31", " 1949-12-31 ", "2024-03-05 00:00:00", "2024-03-05 10:11:12", "2024/3/5 0:00:00",
             "1949-13-01", "1949/02/30", "yesterday", "", None]
    rows = spark.createDataFrame([(t,) for t in texts], "t string").select(parse_date(F.col("t")).alias("d")).collect()
    assert [r.d for r in rows] == [
        dt.date(1949, 12, 31), dt.date(1949, 12, 31), dt.date(1949, 12, 31), dt.date(1949, 1, 5),
        dt.date(1949, 12, 31), dt.date(1949, 1, 5), dt.date(2024, 3, 5), dt.date(1949, 12, 31),
        dt.date(1949, 12, 31), dt.date(2024, 3, 5), dt.date(2024, 3, 5), dt.date(2024, 3, 5),
        None, None, None, None, None,
    ]


def test_date_kind_flags_what_was_delivered_but_not_read(spark):
    rows = _column(spark, "date", ["2001-02-03", "2001年2月3日", "31/12/2001", "", None])
    assert [(r.f, r.f_parsed) for r in rows] == [
        (dt.date(2001, 2, 3), True), (dt.date(2001, 2, 3), True), (None, False), (None, None), (None, None),
    ]


def test_company_name_normal_form(spark):
    names = ["十堰华泰商贸（有限公司）", "十堰华泰商贸有限责任公司", " 十堰 华泰商贸(有限公司) "]
    rows = spark.createDataFrame([(n,) for n in names], "n string").select(company_name_normal_form(F.col("n")).alias("k")).collect()
    assert {r.k for r in rows} == {"十堰华泰商贸有限公司"}


def test_identity_number_kind_normalises_and_flags(spark):
    rows = _column(spark, "identity_number", [
        "11010519491231002X", "110105491231002", " 110105 19491231002x", "１１０１０５１９４９１２３１００２Ｘ",
        "440524188001010014", "34052419800101001X", "11010519491231002Y", "110105194912310021",
        "420321196501010017", "999999196501010019", "110105209912310010", "", None,
    ])
    assert [r.f for r in rows[:4]] == ["11010519491231002X"] * 4
    # 440524188001010014 passes the check, but a birth in 1880 is not plausible (before 1900)
    assert [r.f_valid for r in rows] == [True] * 4 + [False, True, False, False, True, True, False, None, None]
    # historical 郧县 counts as issued; 340524 (the domain's example) and 999999 never were
    assert [r.f_division_known for r in rows] == [True] * 5 + [False, True, True, True, False, True, None, None]


def test_credit_code_kind_derives_the_organisation_code_of_valid_codes(spark):
    rows = _column(spark, "credit_code", [" 91320621ma1mrhg205 ", "91320621MA1MRHG206", "91320621MA1MRHG2O5", None,
                                          "91350100M000100Y43"])
    assert [(r.f, r.f_valid, r.f_organisation_code) for r in rows] == [
        ("91320621MA1MRHG205", True, "MA1MRHG20"),
        ("91320621MA1MRHG206", False, None),  # wrong check character
        ("91320621MA1MRHG2O5", False, None),  # O is not in the alphabet
        (None, None, None),
        ("91350100M000100Y43", True, "M000100Y4"),  # the domain's MOD 31 example
    ]


def test_organisation_code_and_registration_number_kinds(spark):
    contract = _contract(org="organisation_code", reg="registration_number")
    rows = _standardised(spark, contract, [
        ("MA1MRHG20", "110108000000016"), ("ma1mrhg2-0", "１１０１０８０００００００１６"),
        ("MA1MRHG21", "110108000000017"), ("", None),
    ])
    assert [(r.org, r.org_valid, r.reg, r.reg_valid) for r in rows] == [
        ("MA1MRHG20", True, "110108000000016", True),
        ("MA1MRHG20", True, "110108000000016", True),
        ("MA1MRHG21", False, "110108000000017", False),
        (None, None, None, None),
    ]


def test_taxpayer_id_forms(spark):
    rows = _column(spark, "taxpayer_id", [
        "91320621MA1MRHG205", "420302MA1MRHG20", "420302ma1mrhg20 ", "420302MA1MRHG21", "42030AMA1MRHG20",
        "91320621MA1MRHG206", "12345",
    ])
    found = [(r.f, r.f_type, r.f_valid, r.f_credit_code, r.f_organisation_code, r.f_division_code) for r in rows]
    assert found == [
        ("91320621MA1MRHG205", "credit_code", True, "91320621MA1MRHG205", "MA1MRHG20", "320621"),
        ("420302MA1MRHG20", "division_organisation_code", True, None, "MA1MRHG20", "420302"),
        ("420302MA1MRHG20", "division_organisation_code", True, None, "MA1MRHG20", "420302"),
        ("420302MA1MRHG21", "division_organisation_code", False, None, None, None),
        ("42030AMA1MRHG20", "division_organisation_code", False, None, None, None),
        ("91320621MA1MRHG206", "credit_code", False, None, None, None),
        ("12345", "unknown", False, None, None, None),
    ]


def test_party_id_is_classified_normalised_and_validated(spark):
    rows = _column(spark, "party_id", [
        "3423011964****3224", "4203**********123x", "３４２３０１１９６４＊＊＊＊３２２４", "342301****",
        "110105491231002", "11010519491231002x", "110105194912310021",
        "91320621MA1MRHG205", "MA1MRHG2-0", "MA1MRHG21", "abc", None,
    ])
    found = [(r.f, r.f_type, r.f_valid, r.f_visible_prefix, r.f_visible_suffix, r.f_organisation_code) for r in rows]
    assert found == [
        ("3423011964****3224", "masked_identity_number", True, "3423011964", "3224", None),
        ("4203**********123X", "masked_identity_number", True, "4203", "123X", None),
        ("3423011964****3224", "masked_identity_number", True, "3423011964", "3224", None),
        ("342301****", "masked_identity_number", False, "342301", "", None),
        ("11010519491231002X", "identity_number", True, None, None, None),
        ("11010519491231002X", "identity_number", True, None, None, None),
        ("110105194912310021", "identity_number", False, None, None, None),
        ("91320621MA1MRHG205", "credit_code", True, None, None, "MA1MRHG20"),
        ("MA1MRHG20", "organisation_code", True, None, None, "MA1MRHG20"),
        ("MA1MRHG21", "organisation_code", False, None, None, None),
        ("ABC", "unknown", False, None, None, None),
        (None, None, None, None, None, None),
    ]


def test_names_codes_phones_and_numbers(spark):
    contract = _contract(person="person_name", company="company_name", sex="sex", ethnicity="ethnicity",
                         division="division_code", phone="phone", amount="decimal", year="integer", rating="code",
                         address="address")
    rows = _standardised(spark, contract, [
        (" 张 三 ", "华泰（十堰）有限责任公司", "男", "汉族", " 420321 ", "+86 138 0013 8000", "1,234.5", "2023",
         " A ", " 茅箭区  人民路１号 "),
        ("张　三", "华泰(十堰)有限公司", "女性", "3", "110105", "１３８００１３８０００", "-3", "2023.0", "", None),
        ("ＡＢ·买买提", None, "x", "火星", "420882", "1380013", "abc", "2023.5", None, None),
    ])
    assert [r.person for r in rows] == ["张三", "张三", "AB·买买提"]
    assert [r.company for r in rows] == ["华泰(十堰)有限责任公司", "华泰(十堰)有限公司", None]
    assert [r.company_normal for r in rows] == ["华泰十堰有限公司", "华泰十堰有限公司", None]
    assert [r.sex for r in rows] == ["1", "2", "x"]  # unrecognised values stay, for the gate
    assert [r.ethnicity for r in rows] == ["01", "03", "火星"]
    assert [(r.division, r.division_known) for r in rows] == [("420321", True), ("110105", False), ("420882", True)]
    assert [(r.phone, r.phone_valid) for r in rows] == [
        ("13800138000", True), ("13800138000", True), ("1380013", False)]
    assert [(r.amount, r.amount_parsed) for r in rows] == [
        (Decimal("1234.5000"), True), (Decimal("-3.0000"), True), (None, False)]
    assert [(r.year, r.year_parsed) for r in rows] == [(2023, True), (2023, True), (None, False)]
    assert [r.rating for r in rows] == ["A", None, None]
    assert [r.address for r in rows] == ["茅箭区 人民路１号", None, None]


# --- contracts ----------------------------------------------------------------------------------


def test_household_row_keeps_the_worked_examples(spark):
    contract = ALL_CONTRACTS["household_registration"]
    raw = spark.createDataFrame(
        [
            ("110105491231002", " 张 三 ", "2", "1", "19491231", "北京市朝阳区", "110105", "hr", "b", "f", 2, None),
            ("11010519491231002Y", "李四", "1", "01", "1949-12-31", None, "420321", "hr", "b", "f", 3, None),
            ("", "王五", "1", "01", "1980/01/01", None, "999999", "hr", "b", "f", 4, None),
        ],
        f"`公民身份号码` string, `姓名` string, `性别` string, `民族` string, `出生日期` string, `户籍地址` string, "
        f"`行政区划代码` string, {BATCH_SCHEMA}",
    )
    first, second, third = standardise(map_columns(raw, contract.mapping), contract).orderBy("_line_number").collect()
    assert first.identity_number == "11010519491231002X" and first.identity_number_valid
    assert first.name == "张三" and first.sex == "2"
    assert first.birth_date == dt.date(1949, 12, 31) and first.birth_date_matches_identity
    assert first.ethnicity == "01" and first.division_code_known is False  # Beijing is not this city's
    assert first.identity_number_division_known
    assert second.identity_number_valid is False and second.division_code_known  # historical 郧县
    assert second.birth_date_matches_identity is None  # nothing to compare with an invalid number
    assert third.identity_number is None and third.identity_number_valid is None


def test_enterprise_row_keeps_the_worked_examples(spark):
    contract = ALL_CONTRACTS["enterprise_registry"]
    values = {"统一社会信用代码": " 91320621ma1mrhg205 ", "注册号": "110108000000016", "企业名称": "华泰（有限公司）",
              "法定代表人": "张三", "法定代表人证件号码": "11010519491231002x", "成立日期": "2001-02-03",
              "注册资本（万元）": "100", "住所": " 某路 1号 ", "行政区划代码": "420302", "经营状态": "存续"}
    raw = spark.createDataFrame([(*values.values(), "er", "b", "f", 2, None)],
                                ", ".join(f"`{name}` string" for name in values) + ", " + BATCH_SCHEMA)
    row = standardise(map_columns(raw, contract.mapping), contract).first()
    assert row.credit_code == "91320621MA1MRHG205" and row.credit_code_valid
    assert row.credit_code_organisation_code == "MA1MRHG20"
    assert row.registration_number_valid
    assert row.entity_name == "华泰(有限公司)" and row.entity_name_normal == "华泰有限公司"
    assert row.legal_representative_identity_number == "11010519491231002X"
    assert row.legal_representative_identity_number_valid
    assert row.established_date == dt.date(2001, 2, 3) and row.registered_capital_wan == Decimal("100.0000")
    assert row.registered_address == "某路 1号" and row.division_code_known


def test_each_spouse_birth_date_is_checked_against_their_identity_number(spark):
    contract = ALL_CONTRACTS["marriage_registrations"]
    assert birth_date_pairs(contract) == [("husband_identity_number", "husband_birth_date"),
                                          ("wife_identity_number", "wife_birth_date")]
    fields = [column.standard for column in contract.columns]

    def row(husband, husband_born, wife, wife_born):
        values = dict.fromkeys(fields, "x") | {
            "husband_identity_number": husband, "husband_birth_date": husband_born,
            "wife_identity_number": wife, "wife_birth_date": wife_born}
        return tuple(values[field] for field in fields)

    rows = _standardised(spark, contract, [
        row("11010519491231002X", "1949-12-31", "34052419800101001X", "1980-01-01 00:00:00"),
        row("11010519491231002X", "1949-12-30", "34052419800101001X", None),
        row("11010519491231002Y", "1949-12-31", None, "1980-01-01"),
    ])
    assert [(r.husband_birth_date_matches_identity, r.wife_birth_date_matches_identity) for r in rows] == [
        (True, True), (False, None), (None, None)]


def test_a_counterparty_is_identifiable_by_any_valid_own_identifier(spark):
    contract = ALL_CONTRACTS["administrative_licences"]
    fields = [column.standard for column in contract.columns]

    def row(**values):
        return tuple((dict.fromkeys(fields) | {"party_name": "华泰有限公司"} | values)[field] for field in fields)

    rows = _standardised(spark, contract, [
        row(credit_code="91320621MA1MRHG205"),
        row(registration_number="110108000000016"),
        row(organisation_code="MA1MRHG2-0"),
        row(identity_number="110105491231002", party_name="张三"),
        row(credit_code="91320621MA1MRHG206"),  # wrong check character
        row(authority_credit_code="91320621MA1MRHG205"),  # the authority's code names the authority only
        row(),
    ])
    assert [r.party_identifiable for r in rows] == [True, True, True, True, False, False, False]


def test_a_court_debtor_with_a_masked_number_needs_a_name(spark):
    contract = ALL_CONTRACTS["dishonest_debtors"]
    fields = [column.standard for column in contract.columns]

    def row(party_name, party_id):
        return tuple((dict.fromkeys(fields) | {"party_name": party_name, "party_id": party_id})[field] for field in fields)

    rows = _standardised(spark, contract, [
        row("张三", "3423011964****3224"), row(None, "3423011964****3224"), row("华泰有限公司", "12345678-9"),  # check character should be 8
        row(None, "91320621MA1MRHG205"), row("张三", None), row("张三", "3423****"),
    ])
    assert [r.party_identifiable for r in rows] == [True, False, False, True, False, False]
    assert rows[2].party_id == "123456789" and rows[2].party_id_type == "organisation_code"


def test_a_field_missing_from_the_mapped_rows_is_named(spark):
    contract = _contract(identity_number="identity_number", name="person_name")
    mapped = spark.createDataFrame([("11010519491231002X",)], "identity_number string")
    with pytest.raises(StandardiseError, match=r"^t: mapped rows lack the field\(s\) name$"):
        standardise(mapped, contract)


@pytest.mark.parametrize("name", sorted(ALL_CONTRACTS))
def test_every_suite_reads_columns_the_standardiser_writes(spark, name):
    """A one-row extract of every contract, standardised: the columns are those declared, every
    rule of the source's suite finds its column, and the plan has no Python UDF."""
    contract = ALL_CONTRACTS[name]
    raw = spark.createDataFrame(
        [(*["1"] * len(contract.columns), name, f"{name}/2026-11-23", "f", 2, None)],
        ", ".join(f"`{column.source}` string" for column in contract.columns) + ", " + BATCH_SCHEMA,
    )
    standardised = standardise(map_columns(raw, contract.mapping), contract)
    assert standardised.columns == standard_columns(contract) + BATCH_COLUMNS
    assert len(added_columns(contract)) == len(set(added_columns(contract)))
    _, rules = quality.load_suite(f"standard.{name}")
    unknown = [(rule.rule_id, rule.column) for rule in rules if rule.column and rule.column not in standardised.columns]
    assert not unknown, f"standard.{name} names columns its contract's standard table lacks: {unknown}"
    conditions = [quality.violation(rule).alias(rule.rule_id) for rule in rules if rule.type in quality.ROW_CONDITIONS]
    assert standardised.select(*conditions).schema  # Spark resolves every rule's condition (types too)
    plan = explained(standardised, "simple")
    assert "Python" not in plan and "ArrowEval" not in plan


@pytest.mark.parametrize("name", sorted(ALL_CONTRACTS))
def test_suites_have_a_row_count_rule_and_no_values_in_reasons(name):
    _, rules = quality.load_suite(f"standard.{name}")
    prefix = rules[0].rule_id.split("-")[0]
    assert rules[0].rule_id == f"{prefix}-000" and rules[0].type == "expect_table_row_count_to_be_between"
    assert rules[0].action == "fail" and all(rule.rule_id.startswith(f"{prefix}-") for rule in rules)
    assert not [rule.rule_id for rule in rules if re.search(r"[0-9]{6,}", rule.reason)]


def test_a_row_s_hash_covers_what_it_holds_not_where_it_was_delivered(spark):
    contract = _contract(name="person_name", birth="date", note="text")
    rows = [("张三", "1980-01-01", "甲"), ("张三", "1980-01-01", "甲"), ("张三", "1980-01-02", "甲"),
            ("张三", "1980-01-01", None), (" 张三", "19800101", "甲")]
    hashes = [row._row_hash for row in _standardised(spark, contract, rows)]
    assert hashes[0] == hashes[1]  # the same content on another line
    assert len({hashes[0], hashes[2], hashes[3]}) == 3  # a value changed, a value gone
    assert hashes[4] == hashes[0]  # delivered otherwise, standardised the same
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in hashes)


@pytest.mark.spark
def test_a_key_delivered_again_is_taken_out_by_the_contract_s_rule_or_kept(spark):
    from citylake.standardise import duplicate_deliveries

    rows = spark.createDataFrame([("a", 1, 2), ("a", 1, 5), ("b", 1, 3), (None, 1, 4), (None, 1, 6)],
                                 "person string, kind int, _line_number int")

    def taken_out(rule):
        marked = duplicate_deliveries(rows, ["person", "kind"], rule)
        return sorted(r._line_number for r in marked.where("_duplicate").collect())

    assert taken_out("latest") == [2]  # line 5 is the latest of key (a, 1); a key with a null is no key
    assert taken_out("quarantine") == taken_out("fail") == [2, 5]
    assert taken_out("keep") == []
