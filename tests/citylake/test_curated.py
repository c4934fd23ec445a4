import pytest

from citylake import identity
from citylake.curated import enterprise_legal_representative

pytestmark = pytest.mark.spark
KEY = bytes.fromhex("6b" * 32)


def test_enterprises_get_district_and_masked_representative(spark):
    legal_entity = spark.createDataFrame(
        [
            ("91320621MA1MRHG205", "华泰有限公司", "存续", "420302", "欧阳娜娜", "11010519491231002X"),
            ("91350100M000100Y43", "恒通有限公司", "注销", "420821", "张三", "440524188001010014"),
        ],
        "credit_code string, entity_name string, status string, division_code string, "
        "legal_representative_name string, legal_representative_identity_number string",
    )
    population = spark.createDataFrame([("11010519491231002X", "420303")], "identity_number string, division_code string")
    rows = {r.credit_code: r for r in enterprise_legal_representative(legal_entity, population, KEY).collect()}
    first, second = rows["91320621MA1MRHG205"], rows["91350100M000100Y43"]
    assert first.district == "茅箭区" and second.district == "京山县"
    assert first.legal_representative_name == "欧阳**"
    assert first.legal_representative_person_key == identity.pseudonym("11010519491231002X", KEY)
    assert "legal_representative_identity_number" not in rows["91320621MA1MRHG205"].asDict()
    assert first.representative_in_population and first.representative_division_code == "420303"
    assert not second.representative_in_population and second.representative_division_code is None


def _population(spark):
    import datetime as dt

    return spark.createDataFrame(
        [("P1", "11010519491231002X", "欧阳娜娜", "2", dt.date(1949, 12, 31), "420302", True, ["household_registration"]),
         ("P2", None, "小明", "1", dt.date(2026, 11, 1), "420302", True, ["birth_certificates"]),
         ("P3", "420302199001011234", "张三", "1", dt.date(1990, 1, 1), "420303", False, ["death_certificates"])],
        "person_id string, identity_number string, name string, sex string, birth_date date, division_code string, "
        "alive boolean, sources array<string>")


def test_person_profiles_are_masked_and_carry_their_credit(spark):
    from citylake.curated import person_profile

    credit = spark.createDataFrame([("P1", 2, 1, True)],
                                   "person_id string, penalties int, dishonest_cases int, dishonest boolean")
    rows = {r.person_id: r for r in person_profile(_population(spark), credit, "2026-11-23", KEY).collect()}
    assert (rows["P1"].person_key, rows["P1"].identity_division, rows["P1"].name) == (
        identity.pseudonym("11010519491231002X", KEY),
        "110105", "欧阳**")
    assert "identity_number" not in rows["P1"].asDict()
    assert rows["P2"].person_key is None and rows["P2"].identity_division is None
    assert (rows["P1"].age_band, rows["P1"].birth_year, rows["P1"].dishonest) == ("75+", 1949, True)
    # the age band is the birth year's: born 1990-01-01 or 1990-12-31, 36 in 2026's
    assert rows["P3"].age_band == "30-44"
    assert (rows["P2"].age_band, rows["P2"].penalties, rows["P2"].dishonest) == ("0-14", 0, False)
    assert rows["P1"].district == "茅箭区"


def test_district_population_counts_the_living_by_sex_and_age_band(spark):
    from citylake.curated import district_population

    rows = {(r.division_code, r.sex, r.age_band): r.persons
            for r in district_population(_population(spark), "2026-11-23").collect()}
    assert rows == {("420302", "2", "75+"): 1, ("420302", "1", "0-14"): 1}  # P3 has died


def test_entity_credit_profiles_and_the_joint_punishment_list(spark):
    from citylake.curated import entity_credit_profile, joint_punishment_list

    legal_entity = spark.createDataFrame(
        [("E1", "91320621MA1MRHG205", "华泰有限公司", "enterprise", "存续", "420302", "欧阳娜娜"),
         ("E2", None, "无码公司", "enterprise", "存续", "420302", "李四")],
        "entity_id string, credit_code string, entity_name string, entity_type string, status string, "
        "division_code string, legal_representative_name string")
    profiles = spark.createDataFrame(
        [("E1", "91320621MA1MRHG205", "华泰有限公司", "P1", 1, 2, 5.0, None, 1, True, "A", "2025")],
        "entity_id string, credit_code string, entity_name string, legal_representative_person_id string, "
        "licences int, penalties int, fines_wan double, latest_penalty_date date, dishonest_cases int, "
        "dishonest boolean, tax_rating string, tax_rating_year string")
    joint = spark.createDataFrame(
        [("dishonest_entity", "E1", None, 1, None), ("legal_representative", "E1", "P1", 1, None)],
        "list_kind string, entity_id string, person_id string, cases int, latest_published_date date")
    (row,) = entity_credit_profile(legal_entity, profiles, joint).collect()  # E2 has no credit code
    assert (row.credit_code, row.penalties, row.on_joint_punishment_list) == ("91320621MA1MRHG205", 2, True)
    assert row.legal_representative_name == "欧阳**" and row.district == "茅箭区"
    listed = {r.list_kind: r for r in joint_punishment_list(joint, legal_entity, _population(spark), KEY).collect()}
    assert listed["dishonest_entity"].credit_code == "91320621MA1MRHG205"
    assert (listed["legal_representative"].person_key, listed["legal_representative"].name) == (
        identity.pseudonym("11010519491231002X", KEY), "欧阳**")


def test_data_quality_per_source_and_night(spark):
    import datetime as dt

    from citylake import lake
    from citylake.curated import data_quality

    now = dt.datetime(2026, 11, 24, 1, 0)
    ledger = spark.createDataFrame(
        [("hr", "hr/2026-11-23", "r", "f", "landed", None, 10, 9, 1, None, now, None, None)], lake.LEDGER_SCHEMA)
    quarantine = spark.createDataFrame(
        [("q1", "open", "hr", "hr/2026-11-23", "r", "landing", "LAND-COLUMNS", "x", "f", 3, None, now),
         ("q2", "open", "hr", "hr/2026-11-23", "r", "standardise", "HR-001", "x", "f", 4, None, now),
         ("q3", "replayed", "hr", "hr/2026-11-23", "r", "standardise", "HR-001", "x", "f", 5, None, now)],
        lake.QUARANTINE_SCHEMA)
    gates = spark.createDataFrame([("hr", dt.date(2026, 11, 23), True)], "source string, night date, gate_passed boolean")
    (row,) = data_quality(ledger, quarantine, gates).collect()
    assert (row.rows_read, row.rows_landed, row.quarantined_landing, row.quarantined_standardise) == (10, 9, 1, 1)
    assert row.gate_passed and not row.extract_rejected and row.night == dt.date(2026, 11, 23)
