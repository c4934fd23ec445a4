"""The analysts' query path on real Delta tables written by delta-rs (no JVM)."""

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from citylake import analysts
from citylake import settings as citylake_settings

ACCESS = analysts.Access.model_validate({
    "default_role": "analyst",
    "roles": {"analyst": {"layers": ["theme"]}, "engineer": {"layers": ["theme", "base", "ops"]}},
    "users": {"chen": "engineer"},
})
RAW_NUMBER = "11010519491231002X"


@pytest.fixture
def lake(tmp_path):
    settings = citylake_settings.load({"CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(tmp_path)})
    root = settings.lake_root
    write_deltalake(f"{root}/theme/district_population", pa.table({
        "district": ["茅箭区", "茅箭区", "张湾区"], "sex": ["1", "2", "1"], "persons": [3, 4, 5]}))
    write_deltalake(f"{root}/base/population", pa.table({
        "person_id": ["P1"], "identity_number": [RAW_NUMBER], "name": ["欧阳娜娜"]}))
    return settings


def _audit(settings):
    return DeltaTable(f"{settings.lake_root}/ops/query_audit").to_pyarrow_table().to_pylist()


def test_an_analyst_queries_a_theme_table_and_the_query_is_audited(lake):
    answer = analysts.query(lake, "SELECT district, sum(persons) AS persons FROM theme.district_population "
                                  "GROUP BY district ORDER BY district", user="wang", access=ACCESS)
    assert answer.table.to_pylist() == [{"district": "张湾区", "persons": 5}, {"district": "茅箭区", "persons": 7}]
    assert answer.role == "analyst"
    (entry,) = _audit(lake)
    assert (entry["user"], entry["role"], entry["tables"], entry["rows"], entry["status"]) == (
        "wang", "analyst", "theme.district_population", 2, "ok")
    assert entry["engine"] == "datafusion" and entry["queried_at"] is not None


def test_an_analyst_may_not_read_the_base_layer_and_the_refusal_is_audited(lake):
    sql = f"SELECT * FROM base.population WHERE identity_number = '{RAW_NUMBER}'"
    with pytest.raises(analysts.AccessDenied, match="role analyst may not read base.population"):
        analysts.query(lake, sql, user="wang", access=ACCESS)
    (entry,) = _audit(lake)
    assert entry["status"] == "denied" and entry["rows"] is None
    assert RAW_NUMBER not in entry["query"] and "1101**********002X" in entry["query"]


def test_an_engineer_reads_the_base_layer(lake):
    answer = analysts.query(lake, "SELECT name FROM base.population", user="chen", access=ACCESS)
    assert answer.table.column("name").to_pylist() == ["欧阳娜娜"] and answer.role == "engineer"


def test_a_missing_table_and_a_bad_query_are_named(lake):
    with pytest.raises(analysts.QueryError, match="no table theme.nowhere in the lake"):
        analysts.query(lake, "SELECT * FROM theme.nowhere", user="wang", access=ACCESS)
    with pytest.raises(analysts.QueryError, match="name the tables as <layer>.<table>"):
        analysts.query(lake, "SELECT 1", user="wang", access=ACCESS)
    assert sorted(e["status"] for e in _audit(lake)) == ["failed", "refused"]


def test_the_shipped_roles_file_is_valid_and_unlisted_users_are_analysts():
    access = analysts.load_access()
    assert access.role_of("someone-new") == "analyst"
    assert access.roles["analyst"].layers == ["theme"]


def test_a_broken_roles_file_names_the_field(tmp_path):
    broken = tmp_path / "roles.yaml"
    broken.write_text("default_role: analyst\nroles: {analyst: {layerz: [theme]}}\n")
    with pytest.raises(analysts.QueryError, match="roles.analyst"):
        analysts.load_access(broken)


def test_cli_writes_csv(lake, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from citylake.cli import main

    monkeypatch.setenv("CITYLAKE_DATA_DIR", str(lake.data_dir))
    out = tmp_path / "answer.csv"
    result = CliRunner().invoke(main, ["sql", "--user", "wang", "--format", "csv", "--output", str(out),
                                       "SELECT sex, persons FROM theme.district_population ORDER BY persons"])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == '"sex","persons"'
    denied = CliRunner().invoke(main, ["sql", "--user", "wang", "SELECT * FROM base.population"])
    assert denied.exit_code == 1 and "may not read base.population" in denied.output


@pytest.mark.spark
def test_the_spark_engine_answers_the_same_and_is_audited(spark, lake):
    sql = "SELECT district, sum(persons) AS persons FROM theme.district_population GROUP BY district ORDER BY district"
    on_spark = analysts.query(lake, sql, user="wang", engine="spark", access=ACCESS)
    on_datafusion = analysts.query(lake, sql, user="wang", access=ACCESS)
    assert on_spark.table.to_pylist() == on_datafusion.table.to_pylist()
    assert sorted(e["engine"] for e in _audit(lake)) == ["datafusion", "spark"]


def test_the_jvm_free_query_path_does_not_import_pyspark():
    # citylake sql answers from a cold process: importing pyspark alone would cost it half a second
    import subprocess
    import sys

    probe = ("import sys, citylake.analysts, citylake.cli, citylake.identity; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
