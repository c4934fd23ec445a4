import pytest

from citylake.base import latest_per_key

pytestmark = pytest.mark.spark


def test_latest_record_wins_and_provenance_is_kept(spark):
    standard = spark.createDataFrame(
        [
            ("A", "old name", "hr", "hr/2026-11-22", 9),
            ("A", "new name", "hr", "hr/2026-11-23", 2),
            ("A", "same night, earlier line", "hr", "hr/2026-11-23", 1),
            ("B", "only", "hr", "hr/2026-11-23", 5),
            (None, "no key", "hr", "hr/2026-11-23", 6),
        ],
        "k string, name string, _source string, _batch_id string, _line_number int",
    )
    rows = {r.k: r for r in latest_per_key(standard, "k", ["k", "name"]).collect()}
    assert set(rows) == {"A", "B"}
    assert rows["A"].name == "new name" and rows["A"].source_records == 3
    assert (rows["A"].provenance_batch, rows["A"].provenance_line) == ("hr/2026-11-23", 2)


def test_a_library_is_built_from_the_sources_that_carry_all_its_fields():
    from citylake import contracts
    from citylake.base import contributing_sources

    every = contracts.load_all().values()
    assert [c.name for c in contributing_sources(every, "population")] == ["household_registration"]
    assert [c.name for c in contributing_sources(every, "legal_entity")] == ["enterprise_registry", "social_organisations"]
    assert contributing_sources(every, "credit") == []  # no credit builder yet


def test_legal_entity_reads_the_organisation_code_inside_the_credit_code(spark):
    from citylake.base import LEGAL_ENTITY_FIELDS, build_legal_entity

    fields = list(dict.fromkeys(LEGAL_ENTITY_FIELDS.values()))
    values = dict.fromkeys(fields, "x") | {"credit_code": "91320621MA1MRHG205",
                                           "credit_code_organisation_code": "MA1MRHG20"}
    standard = spark.createDataFrame(
        [(*values.values(), "enterprise_registry", "enterprise_registry/2026-11-23", 2)],
        ", ".join(f"{field} string" for field in fields) + ", _source string, _batch_id string, _line_number int",
    )
    row = build_legal_entity([standard]).first()
    assert row.credit_code == "91320621MA1MRHG205" and row.organisation_code == "MA1MRHG20"
    assert "credit_code_organisation_code" not in build_legal_entity([standard]).columns
