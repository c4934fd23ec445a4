"""Landing and standardising every source against a real MinIO server on loopback, through s3a://
(and the departments' PostgreSQL exchange database for the sources delivered through it)."""

import json
import textwrap

import pytest

from citylake.local_stack import exports
from tests.infra.helpers import clean_environment, free_port, run

pytestmark = pytest.mark.slow
NIGHT = "2026-11-23"

JOBS = textwrap.dedent(
    """
    import importlib.util, sys
    def job(name):
        spec = importlib.util.spec_from_file_location(name, f"jobs/{name}.py")
        module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); return module
    from citylake import contracts
    land, standardise, summary = job("land"), job("standardise"), job("nightly_summary")
    for source in contracts.load_all():
        land.main(["--source", source, "--run-date", sys.argv[1]])
        standardise.main(["--source", source, "--run-date", sys.argv[1]])
    summary.main(["--run-date", sys.argv[1]])
    """
)


@pytest.fixture(scope="module")
def object_store(tmp_path_factory):
    data = tmp_path_factory.mktemp("s3")
    env = clean_environment(CITYLAKE_DATA_DIR=str(data), CITYLAKE_MINIO_PORT=str(free_port()),
                            CITYLAKE_DEPARTMENTS_DB_PORT=str(free_port()))
    try:
        for script in ("infra/minio.sh", "infra/postgres.sh"):
            env |= exports(run([script, "start"], env, timeout=300).stdout)
        yield env, data
    finally:
        run(["infra/minio.sh", "stop"], env, timeout=60)
        run(["infra/postgres.sh", "stop"], env, timeout=60)


def test_land_and_standardise_through_s3a(object_store):
    import boto3

    env, data = object_store
    assert env["CITYLAKE_ENV"] == "s3"
    run([".venv/bin/citylake", "generate", "--people", "600", "--seed", "3", "--date", NIGHT], env, timeout=120)
    run([".venv/bin/python", "-c", JOBS, NIGHT], env, timeout=1800)

    manifest = json.loads((data / "truth" / NIGHT / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((data / "reports" / NIGHT / "summary.json").read_text(encoding="utf-8"))
    assert summary["lake_root"] == "s3a://citylake/lake"
    for source, expected in manifest["sources"].items():
        got = summary["sources"][source]
        assert (got["rows_read"], got["raw"], got["standard"]) == (
            expected["rows_read"], expected["landed"], expected["standardised"])
        assert got["landing_quarantined"] + got["standardise_quarantined"] == (
            expected["landing_quarantined"] + expected["standardise_quarantined"])

    s3 = boto3.client("s3", endpoint_url=env["CITYLAKE_S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id=env["CITYLAKE_S3_ACCESS_KEY"],
                      aws_secret_access_key=env["CITYLAKE_S3_SECRET_KEY"])
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="citylake", MaxKeys=1000)["Contents"]}
    assert f"incoming/{NIGHT}/public_security/household_registration.csv" in keys
    assert "lake/standard/household_registration/_delta_log/00000000000000000000.json" in keys
    assert not (data / "lake").exists()  # nothing landed on the local disk
