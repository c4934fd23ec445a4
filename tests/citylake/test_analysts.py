"""The analysts' query path on the embedded local lake (the single-user development mode), on
real Delta tables written by delta-rs (no JVM): read-only SQL, the audit, masked messages. The
roles on the object store are tried on a real MinIO in tests/infra/test_access.py."""

import os
import pwd

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from citylake import analysts
from citylake import settings as citylake_settings

RAW_NUMBER = "11010519491231002X"


@pytest.fixture
def lake(tmp_path):
    settings = citylake_settings.load({"CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"], "CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(tmp_path)})
    root = settings.lake_root
    write_deltalake(f"{root}/theme/district_population", pa.table({
        "district": ["茅箭区", "茅箭区", "张湾区"], "sex": ["1", "2", "1"], "persons": [3, 4, 5]}))
    write_deltalake(f"{root}/base/population", pa.table({
        "person_id": ["P1"], "identity_number": [RAW_NUMBER], "name": ["欧阳娜娜"]}))
    write_deltalake(f"{root}/ops/query_audit", pa.Table.from_pylist([], schema=analysts.AUDIT_SCHEMA))
    return settings


def _audit(settings):
    entries = analysts.audit_entries(settings)
    assert len(entries) == DeltaTable(f"{settings.lake_root}/ops/query_audit").to_pyarrow_table().num_rows
    return entries


def _login() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def test_the_owner_queries_a_theme_table_and_the_query_is_audited_before_and_after(lake):
    answer = analysts.query(lake, "SELECT district, sum(persons) AS persons FROM theme.district_population "
                                  "GROUP BY district ORDER BY district")
    assert answer.table.to_pylist() == [{"district": "张湾区", "persons": 5}, {"district": "茅箭区", "persons": 7}]
    started, done = _audit(lake)
    assert (started["status"], done["status"], done["rows"]) == ("started", "ok", 2)
    assert started["query_id"] == done["query_id"]
    assert (done["user"], done["role"], done["tables"], done["engine"]) == (
        _login(), "owner", "theme.district_population", "datafusion")


def test_the_login_name_a_caller_claims_is_not_who_they_are(lake, monkeypatch):
    # attack: LOGNAME / USER say citylake-engineer; the audit records the account the process runs as
    monkeypatch.setenv("LOGNAME", "citylake-engineer")
    monkeypatch.setenv("USER", "citylake-engineer")
    analysts.query(lake, "SELECT name FROM base.population")
    assert {entry["user"] for entry in _audit(lake)} == {_login()}


@pytest.mark.parametrize("attack", [
    f"SELECT identity_number FROM delta.`{{root}}/base/population` -- theme.district_population",
    "SELECT * FROM text.`/etc/hostname`",
    "SELECT * FROM parquet.`{root}/base/population`",
    "DELETE FROM delta.`{root}/ops/query_audit` WHERE true",
    "DELETE FROM ops.query_audit WHERE true",
    "DROP TABLE theme.district_population",
    "INSERT INTO ops.query_audit SELECT * FROM ops.query_audit",
    "COPY (SELECT * FROM theme.district_population) TO '{root}/ops/query_audit/_delta_log/00000000000000000009.json'",
    "CREATE EXTERNAL TABLE passwd STORED AS CSV LOCATION '/etc/passwd'",
    "SELECT * INTO theme.copied FROM theme.district_population",
    "SELECT * FROM read_parquet('/etc/passwd')",
    "SELECT reflect('java.lang.System', 'getenv', 'HOME') FROM theme.district_population",
    "SELECT 1 FROM theme.district_population; DELETE FROM ops.query_audit",
    "SELECT * FROM theme.`../base/population`",
])
@pytest.mark.parametrize("engine", ["datafusion", "spark"])
def test_anything_but_one_select_of_named_tables_is_refused_before_it_runs(lake, attack, engine):
    sql = attack.format(root=lake.lake_root)
    before = set((lake.data_dir).rglob("*"))
    with pytest.raises(analysts.QueryError, match="refused"):
        analysts.query(lake, sql, engine=engine)
    (entry,) = _audit(lake)
    assert entry["status"] == "refused" and entry["rows"] is None
    written = {path for path in lake.data_dir.rglob("*") if "query_audit" not in str(path)} - before
    assert not written  # no COPY target, no table: only the audit's own files are new


@pytest.mark.parametrize("written", [
    RAW_NUMBER, "110105 19491231 002X", "110105-19491231-002X", "1101' || '0519' || '4912' || '3100' || '2X",
])
def test_the_audit_masks_an_identity_number_however_it_was_written(lake, written):
    sql = f"SELECT * FROM base.population WHERE identity_number = '{written}'"
    analysts.query(lake, sql)
    for entry in _audit(lake):
        assert not any(c.isdigit() for c in entry["query"].split("=", 1)[1]), entry["query"]
        assert "base.population" in entry["query"]


def test_a_failing_query_is_audited_and_its_error_carries_no_number(lake):
    sql = f"SELECT CAST('{RAW_NUMBER[:17]} {RAW_NUMBER[17]}' AS INT) AS n FROM theme.district_population"
    with pytest.raises(analysts.QueryError) as failure:
        analysts.query(lake, sql)
    assert RAW_NUMBER[:17] not in str(failure.value) and "the query failed" in str(failure.value)
    statuses = [entry["status"] for entry in _audit(lake)]
    assert statuses == ["started", "failed"]
    assert all(RAW_NUMBER[:6] not in (entry["reason"] or "") + entry["query"] for entry in _audit(lake))


@pytest.mark.spark
def test_a_failing_spark_query_is_audited_and_its_error_carries_no_number(spark, lake):
    sql = f"SELECT CAST('{RAW_NUMBER}' AS INT) AS n FROM theme.district_population"
    with pytest.raises(analysts.QueryError) as failure:
        analysts.query(lake, sql, engine="spark")
    assert RAW_NUMBER[:6] not in str(failure.value)
    assert [entry["status"] for entry in _audit(lake)] == ["started", "failed"]


@pytest.mark.spark
def test_the_spark_engine_answers_the_same_and_is_audited(spark, lake):
    sql = "SELECT district, sum(persons) AS persons FROM theme.district_population GROUP BY district ORDER BY district"
    on_spark = analysts.query(lake, sql, engine="spark")
    on_datafusion = analysts.query(lake, sql)
    assert on_spark.table.to_pylist() == on_datafusion.table.to_pylist()
    assert sorted(e["engine"] for e in _audit(lake) if e["status"] == "ok") == ["datafusion", "spark"]


def test_a_missing_table_and_a_query_without_tables_are_named(lake):
    with pytest.raises(analysts.QueryError, match="cannot read theme.nowhere: no such table"):
        analysts.query(lake, "SELECT * FROM theme.nowhere")
    with pytest.raises(analysts.QueryError, match="name the tables as <layer>.<table>"):
        analysts.query(lake, "SELECT 1")
    assert [e["status"] for e in _audit(lake)] == ["started", "failed", "refused"]


def test_cli_writes_csv_and_no_longer_takes_a_user(lake, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from citylake.cli import main

    monkeypatch.setenv("CITYLAKE_DATA_DIR", str(lake.data_dir))
    out = tmp_path / "answer.csv"
    result = CliRunner().invoke(main, ["sql", "--format", "csv", "--output", str(out),
                                       "SELECT sex, persons FROM theme.district_population ORDER BY persons"])
    assert result.exit_code == 0, result.output
    assert "single-user development mode" in result.output
    assert out.read_text().splitlines()[0] == '"sex","persons"'
    claimed = CliRunner().invoke(main, ["sql", "--user", "citylake-engineer", "SELECT * FROM base.population"])
    assert claimed.exit_code == 2 and "No such option '--user'" in claimed.output


def test_another_account_of_the_machine_can_neither_read_nor_query_the_local_lake(tmp_path):
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.fail("this test runs as root, as CI does, to act as another account")
    tmp_path.chmod(0o755)  # a folder others may pass through, as /home or /srv
    from citylake import storage

    settings = citylake_settings.load({"CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"], "CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(tmp_path / "data")})
    storage.make_private(settings)
    table = f"{settings.lake_root}/base/population"
    write_deltalake(table, pa.table({"identity_number": [RAW_NUMBER]}))
    (log,) = (tmp_path / "data" / "lake" / "base" / "population" / "_delta_log").glob("*.json")
    tried = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(log)], capture_output=True, text=True)
    assert tried.returncode != 0 and "Permission denied" in tried.stderr
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
