import datetime as dt

import pytest

from citylake.population import PERSON_SOURCES, golden_population, person_records

pytestmark = pytest.mark.spark
PERSON_ID = "11010519491231002X"  # a valid GB 11643 number (domain.md's worked example)
BATCH = "household_registration/2026-11-23"


def _standard(spark, rows, schema):
    return spark.createDataFrame(rows, schema + ", _batch_id string, _line_number int")


def test_every_person_source_gives_records_and_a_marriage_gives_two(spark):
    standards = {
        "household_registration": _standard(spark, [(PERSON_ID, "张三", "2", "01", dt.date(1949, 12, 31), "某路1号",
                                                     "110105", BATCH, 2)],
                                            "identity_number string, name string, sex string, ethnicity string, "
                                            "birth_date date, household_address string, division_code string"),
        "marriage_registrations": _standard(spark, [("M1", "李四", None, dt.date(1950, 1, 1), "张三", PERSON_ID,
                                                     dt.date(1949, 12, 31), dt.date(1975, 5, 1), "mr/2026-11-23", 2)],
                                            "registration_certificate string, husband_name string, "
                                            "husband_identity_number string, husband_birth_date date, wife_name string, "
                                            "wife_identity_number string, wife_birth_date date, registration_date date"),
        "social_insurance_enrolment": _standard(spark, [("S1", "养老", "张三", PERSON_ID, dt.date(2001, 7, 1),
                                                         "si/2026-11-23", 2)],
                                                "insured_person_number string, insurance_type string, name string, "
                                                "identity_number string, enrolled_date date"),
        "dishonest_debtors": _standard(spark, [("(2026)鄂03执1号", "王五", "自然人", "4203**********1234", "男",
                                                dt.date(2026, 3, 2), "dd/2026-11-23", 1),
                                               ("(2026)鄂03执2号", "某公司", "法人或其他组织", "91320621MA1MRHG205", None,
                                                dt.date(2026, 3, 2), "dd/2026-11-23", 2)],
                                       "case_number string, party_name string, party_type string, party_id string, "
                                       "sex string, published_date date"),
    }
    rows = person_records(standards).collect()
    by_source = {}
    for row in rows:
        by_source.setdefault(row.source, []).append(row)
    assert sorted((r.role, r.sex) for r in by_source["marriage_registrations"]) == [("husband", "1"), ("wife", "2")]
    assert {r.recorded_on for r in by_source["marriage_registrations"]} == {dt.date(1975, 5, 1)}  # its registration
    enrolment = by_source["social_insurance_enrolment"][0]
    # the number's facts fill what the enrolment does not deliver
    assert (enrolment.birth_date, enrolment.sex, enrolment.division_code) == ("1949-12-31", "2", "110105")
    assert enrolment.insured_person_number == "S1"
    assert [r.name for r in by_source["dishonest_debtors"]] == ["王五"]  # organisations are not persons
    assert by_source["household_registration"][0].address == "某路1号"


def _resolved(spark, rows):
    return spark.createDataFrame(rows, (
        "person_id string, record_key string, source string, identity_number string, name string, sex string, "
        "birth_date string, ethnicity string, address string, division_code string, death_date date, "
        "resolved_by string, review_reason string, recorded_on date, _batch_id string, _line_number long"))


def test_survivorship_household_registration_wins_the_latest_address_and_death_from_health(spark):
    resolved = _resolved(spark, [
        ("P1", "hr:1", "household_registration", PERSON_ID, "张三", "2", "1949-12-31", "01", "旧址", "110105", None,
         "identity_number", None, None, "household_registration/2026-11-22", 2),
        ("P1", "dc:1", "death_certificates", PERSON_ID, "张叁", "2", "1949-12-31", None, "新址", "110106",
         dt.date(2026, 11, 20), "identity_number", None, dt.date(2026, 11, 20), "death_certificates/2026-11-23", 5),
        ("P1", "si:1", "social_insurance_enrolment", "110105194912310021", "张三", None, None, None, None, None, None,
         "linkage", None, dt.date(2001, 7, 1), "social_insurance_enrolment/2026-11-23", 3),
        # known only from a credit record: no golden record
        ("P2", "dd:1", "dishonest_debtors", "4203**********1234", "王五", "1", None, None, None, None, None,
         "alone", None, dt.date(2026, 3, 2), "dishonest_debtors/2026-11-23", 1),
        # a newborn without a number: a golden record without identity number
        ("P3", "bc:1", "birth_certificates", None, "小明", "1", "2026-11-01", None, None, "420302", None, "alone",
         None, dt.date(2026, 11, 2), "birth_certificates/2026-11-23", 4),
        # married twice: the later registration wins within the source, whatever its line
        ("P4", "mr:2", "marriage_registrations", None, "刘芳", "2", "1980-02-02", None, None, None, None, "alone",
         None, dt.date(2015, 6, 1), "marriage_registrations/2026-11-23", 7),
        ("P4", "mr:1", "marriage_registrations", None, "刘方", "2", "1980-02-02", None, None, None, None, "alone",
         None, dt.date(2003, 6, 1), "marriage_registrations/2026-11-23", 9),
    ])
    nights = {source: dt.date(2026, 11, 23) for source in PERSON_SOURCES}
    nights["household_registration"] = dt.date(2026, 11, 22)
    golden = {r.person_id: r for r in golden_population(resolved, nights).collect()}
    assert set(golden) == {"P1", "P3", "P4"}
    p1 = golden["P1"]
    assert (p1.identity_number, p1.name, p1.sex, p1.birth_date) == (PERSON_ID, "张三", "2", dt.date(1949, 12, 31))
    assert (p1.address, p1.division_code) == ("新址", "110106")  # the latest night's record
    assert p1.death_date == dt.date(2026, 11, 20) and not p1.alive
    assert p1.sources == ["death_certificates", "household_registration", "social_insurance_enrolment"]
    assert p1.provenance["name"] == "hr:1" and p1.provenance["address"] == "dc:1"
    assert golden["P3"].identity_number is None and golden["P3"].alive
    assert golden["P4"].name == "刘芳" and golden["P4"].provenance["name"] == "mr:2"
    # the latest source is the source read on the latest night, whatever batch a record was kept from
    # (an incremental night keeps a record as it was written, with the batch it came in)
    later = golden_population(resolved, nights | {"household_registration": dt.date(2026, 11, 24)})
    assert later.where("person_id = 'P1'").first().address == "旧址"
