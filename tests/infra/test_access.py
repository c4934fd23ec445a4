"""Analysts' access on the stack's object store: a real MinIO (infra/minio.sh) with the roles'
policies and accounts it provisions from access/roles.yaml. Each test is an attack a hostile
analyst tried, and what the store itself does about it."""

import os
import json
import subprocess

import boto3
import pyarrow as pa
import pytest
from botocore.exceptions import ClientError
from deltalake import write_deltalake

from citylake import access, analysts, storage
from citylake import settings as citylake_settings
from citylake.local_stack import exports
from tests.infra.helpers import clean_environment, free_port, run

pytestmark = pytest.mark.slow
RAW_NUMBER = "11010519491231002X"


class Store:
    def __init__(self, env, folder):
        self.env, self.folder = env, folder

    def credentials(self, user: str) -> dict[str, str]:
        return exports(run(["infra/minio.sh", "credentials", user], self.env, timeout=60).stdout)

    def settings(self, user: str | None = None, **overrides) -> citylake_settings.Settings:
        values = {"CITYLAKE_DATA_DIR": str(self.folder / (user or "x")), **self.credentials(user or "citylake-pipeline")}
        return citylake_settings.load(values | overrides)

    def client(self, user: str):
        keys = self.credentials(user)
        return boto3.client("s3", endpoint_url=keys["CITYLAKE_S3_ENDPOINT"], region_name="us-east-1",
                            aws_access_key_id=keys["CITYLAKE_S3_ACCESS_KEY"],
                            aws_secret_access_key=keys["CITYLAKE_S3_SECRET_KEY"])

    def root(self):
        keys = self.credentials("citylake-pipeline")
        return boto3.client("s3", endpoint_url=keys["CITYLAKE_S3_ENDPOINT"], region_name="us-east-1",
                            aws_access_key_id="citylake", aws_secret_access_key="citylake-local-secret")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("access")
    env = clean_environment(CITYLAKE_DATA_DIR=str(folder), CITYLAKE_MINIO_PORT=str(free_port()))
    try:
        run(["infra/minio.sh", "start"], env, timeout=120)
        store = Store(env, folder)
        pipeline = store.settings()
        root, options = storage.delta_rs_lake(pipeline)
        write_deltalake(f"{root}/theme/district_population",
                        pa.table({"district": ["茅箭区", "张湾区"], "persons": [3, 5]}), storage_options=options)
        write_deltalake(f"{root}/base/population", pa.table({"identity_number": [RAW_NUMBER]}),
                        storage_options=options)
        yield store
    finally:
        run(["infra/minio.sh", "stop"], env, timeout=60)


def _audit(store, user=None):
    return [e for e in analysts.audit_entries(store.settings("citylake-engineer")) if user in (None, e["user"])]


def test_starting_again_provisions_nothing_twice(store):
    again = run(["infra/minio.sh", "start"], store.env, timeout=120)
    assert exports(again.stdout) == store.credentials("citylake-pipeline")


def test_the_role_comes_from_the_credentials(store):
    assert access.caller(store.settings("citylake-analyst")) == access.Caller(
        "citylake-analyst", "analyst", ("theme",))
    assert access.caller(store.settings("citylake-engineer")).role == "engineer"
    # attack: an analyst's secret under the engineer's name is refused by the store
    forged = store.settings("citylake-analyst", CITYLAKE_S3_ACCESS_KEY="citylake-engineer")
    with pytest.raises(access.AccessError, match="refused these credentials"):
        access.caller(forged)


def test_an_analyst_reads_the_theme_layer_and_is_audited_as_the_store_knows_them(store):
    answer = analysts.query(store.settings("citylake-analyst"), "SELECT sum(persons) AS n FROM theme.district_population")
    assert answer.table.to_pylist() == [{"n": 8}] and (answer.user, answer.role) == ("citylake-analyst", "analyst")
    mine = [e for e in _audit(store, "citylake-analyst") if e["tables"] == "theme.district_population"]
    assert [e["status"] for e in mine][-2:] == ["started", "ok"]


def test_an_analyst_cannot_read_the_base_layer_even_with_a_client_that_lies(store):
    analyst = store.settings("citylake-analyst")
    with pytest.raises(analysts.AccessDenied, match="role analyst may not read base.population"):
        analysts.query(analyst, "SELECT identity_number FROM base.population")
    # attack: a client whose roles file says analysts read everything; the store still refuses
    lying = access.Access(roles={"analyst": access.Role(read=["*"])})
    with pytest.raises(analysts.QueryError, match="the object store refused to read it"):
        analysts.query(analyst, "SELECT identity_number FROM base.population", access=lying)
    # and straight to the store, no citylake at all
    with pytest.raises(ClientError, match="AccessDenied"):
        store.client("citylake-analyst").get_object(
            Bucket="citylake", Key="lake/base/population/_delta_log/00000000000000000000.json")
    statuses = [e["status"] for e in _audit(store, "citylake-analyst") if e["tables"] == "base.population"]
    assert statuses[-3:] == ["denied", "started", "failed"]


def test_an_engineer_reads_the_base_layer(store):
    answer = analysts.query(store.settings("citylake-engineer"), "SELECT count(*) AS n FROM base.population")
    assert answer.table.to_pylist() == [{"n": 1}]


def test_an_analyst_writes_nothing_in_the_lake(store):
    analyst = store.client("citylake-analyst")
    for key in ("lake/ops/query_audit/_delta_log/00000000000000000009.json", "lake/theme/district_population/x.parquet"):
        with pytest.raises(ClientError, match="AccessDenied"):
            analyst.put_object(Bucket="citylake", Key=key, Body=b"{}")
    with pytest.raises(ClientError, match="AccessDenied"):
        analyst.delete_object(Bucket="citylake", Key="lake/theme/district_population/_delta_log/00000000000000000000.json")


def test_no_one_erases_or_rewrites_the_audit(store):
    analysts.query(store.settings("citylake-analyst"), f"SELECT * FROM theme.district_population WHERE district = '{RAW_NUMBER}'")
    listed = store.root().list_objects_v2(Bucket="citylake-audit", Prefix="queries/citylake-analyst/")["Contents"]
    key = listed[0]["Key"]
    analyst, engineer = store.client("citylake-analyst"), store.client("citylake-engineer")
    for client in (analyst, engineer):
        with pytest.raises(ClientError, match="AccessDenied"):
            client.delete_object(Bucket="citylake-audit", Key=key)
    with pytest.raises(ClientError, match="AccessDenied"):  # another's prefix: forging their entries
        analyst.put_object(Bucket="citylake-audit", Key="queries/citylake-engineer/forged.json", Body=b"{}")
    with pytest.raises(ClientError, match="PreconditionFailed"):  # its own entry, rewritten
        analyst.put_object(Bucket="citylake-audit", Key=key, Body=b"{}", IfNoneMatch="*")
    with pytest.raises(ClientError, match="AccessDenied"):  # not even reading it back
        analyst.get_object(Bucket="citylake-audit", Key=key)
    version = store.root().list_object_versions(Bucket="citylake-audit", Prefix=key)["Versions"][0]["VersionId"]
    with pytest.raises(ClientError, match="WORM"):  # object lock, compliance mode: not even the root
        store.root().delete_object(Bucket="citylake-audit", Key=key, VersionId=version)
    entries = _audit(store, "citylake-analyst")
    assert all(RAW_NUMBER[:6] not in e["query"] for e in entries)
    assert any("district = '******************'" in e["query"] for e in entries)


def test_a_refused_query_is_audited_on_the_store(store):
    with pytest.raises(analysts.QueryError, match="refused"):
        analysts.query(store.settings("citylake-analyst"), "DELETE FROM ops.query_audit WHERE true")
    assert _audit(store, "citylake-analyst")[-1]["status"] == "refused"


def test_the_audit_command_serves_roles_that_read_it(store):
    engineer = clean_environment(CITYLAKE_DATA_DIR=str(store.folder / "e"), **store.credentials("citylake-engineer"))
    listed = run([".venv/bin/citylake", "audit", "--user", "citylake-analyst"], engineer, timeout=60).stdout
    assert "citylake-analyst" in listed and "theme.district_population" in listed
    analyst = clean_environment(CITYLAKE_DATA_DIR=str(store.folder / "a"), **store.credentials("citylake-analyst"))
    refused = subprocess.run([".venv/bin/citylake", "audit"], env=analyst, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "cannot read the audit" in refused.stderr


def test_an_engineer_grants_a_new_analyst(store):
    keys = store.credentials("citylake-pipeline")
    admin = clean_environment(MINIO_ROOT_USER="citylake", MINIO_ROOT_PASSWORD="citylake-local-secret",
                              CITYLAKE_DATA_DIR=str(store.folder / "g"), **keys)
    granted = exports(run([".venv/bin/citylake", "access", "grant", "wang.fang", "analyst"], admin, timeout=60).stdout)
    wang = citylake_settings.load({"CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"], "CITYLAKE_DATA_DIR": str(store.folder / "w"), **keys, **granted})
    assert access.caller(wang) == access.Caller("wang.fang", "analyst", ("theme",))
    with pytest.raises(analysts.AccessDenied):
        analysts.query(wang, "SELECT * FROM base.population")
    unknown = subprocess.run([".venv/bin/citylake", "access", "grant", "li.si", "superuser"], env=admin,
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 1 and "no role superuser" in unknown.stderr


def test_the_policies_are_the_roles_file(store):
    pipeline = store.settings()
    analyst = access.policy(pipeline, "analyst", access.load_access().roles["analyst"])
    readable = {r for s in analyst["Statement"] if "s3:GetObject" in s["Action"] for r in s["Resource"]}
    assert readable == {"arn:aws:s3:::citylake/lake/theme/*"}
    assert json.dumps(analyst).count("s3:DeleteObject") == 0
