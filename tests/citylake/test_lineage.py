from citylake import contracts, lineage
from citylake.settings import load


def test_lake_tables_are_named_where_the_lake_lives(tmp_path):
    local = load({"CITYLAKE_DATA_DIR": str(tmp_path)})
    assert lineage.table(local, "base", "population") == lineage.dataset(f"{tmp_path}/lake/base/population")
    named = lineage.table(local, "base", "population")
    assert (named.namespace, named.name) == ("file", f"{tmp_path.resolve()}/lake/base/population")
    s3 = load({"CITYLAKE_ENV": "s3", "CITYLAKE_DATA_DIR": str(tmp_path), "CITYLAKE_S3_ENDPOINT": "http://127.0.0.1:9000",
               "CITYLAKE_S3_ACCESS_KEY": "k", "CITYLAKE_S3_SECRET_KEY": "s"})
    named = lineage.of_asset(s3, "standard.household_registration")
    assert named.namespace == f"s3://{s3.s3.bucket}"
    assert named.name == "lake/standard/household_registration"


def test_file_uris_and_paths_name_the_same_dataset(tmp_path):
    assert lineage.dataset(f"file://{tmp_path}/x") == lineage.dataset(str(tmp_path / "x"))


def test_a_landing_reads_the_night_s_extract_or_the_exchange_table(tmp_path):
    settings = load({"CITYLAKE_DATA_DIR": str(tmp_path), "CITYLAKE_DEPARTMENTS_DB_PORT": "6543"})
    by_format = {c.jdbc is not None: c for c in contracts.load_all().values()}
    from_file = lineage.extract(settings, by_format[False].name, "2026-11-23")
    assert from_file.namespace == "file"
    assert from_file.name.startswith(str((tmp_path / "incoming").resolve()))
    assert "2026-11-23" in from_file.name
    database = by_format[True]
    from_db = lineage.extract(settings, database.name, "2026-11-23")
    assert (from_db.namespace, from_db.name) == ("postgres://127.0.0.1:6543", f"departments.{database.jdbc.table}")
