import re

import pytest

from citylake import contracts, identity, sources
from tests.conftest import NIGHT


def test_every_contract_in_the_repository_validates_with_its_suite():
    outcomes = sources.validate_all()
    assert outcomes and all(problem is None for _, problem in outcomes), outcomes


def test_validate_reports_each_broken_contract_and_goes_on(tmp_path):
    good = (contracts.SOURCES_DIR / "enterprise_registry.yaml").read_text(encoding="utf-8")
    (tmp_path / "enterprise_registry.yaml").write_text(good, encoding="utf-8")
    (tmp_path / "household_registration.yaml").write_text(
        (contracts.SOURCES_DIR / "household_registration.yaml").read_text(encoding="utf-8").replace("format: csv", "format: dbase"),
        encoding="utf-8")
    (tmp_path / "no_suite.yaml").write_text(good.replace("name: enterprise_registry", "name: no_suite"), encoding="utf-8")
    outcomes = {path.name: problem for path, problem in sources.validate_all(tmp_path)}
    assert outcomes["enterprise_registry.yaml"] is None
    assert "household_registration.yaml: format: Input should be 'csv'" in outcomes["household_registration.yaml"]
    assert "no suite standard.no_suite.json" in outcomes["no_suite.yaml"]


@pytest.mark.spark
def test_preview_shows_masked_mapped_rows_and_rule_counts(spark, settings_in, generated_night):
    result = sources.preview(spark, settings_in, "household_registration", NIGHT, limit=200, show=5)
    assert result.rows_read == 200
    assert len(result.sample) == 5 and set(result.sample[0]) >= {"identity_number", "name", "birth_date"}
    text = repr(result.sample)
    assert not [n for n in re.findall(r"[0-9]{17}[0-9X]", text) if identity.is_valid(n)]
    assert all(row["identity_number"] is None or "**********" in row["identity_number"] for row in result.sample)
    assert set(result.violations) >= {"HR-001", "HR-002"} and result.violations["HR-003"] == 0
