"""Whether a department has delivered its night (storage.delivered, what the ingest DAG waits on),
against the real places extracts arrive: the local drop folder, a MinIO bucket (infra/minio.sh)
and an exchange table in PostgreSQL (infra/postgres.sh)."""

import os
import pytest

from citylake import contracts, storage
from citylake import departments_db as exchange
from citylake.local_stack import exports
from citylake.settings import load
from tests.conftest import NIGHT
from tests.infra.helpers import clean_environment, free_port, run

pytestmark = pytest.mark.slow
SOURCES = contracts.load_all()
FILE_SOURCE = SOURCES["household_registration"]
_TAX = next(c for c in SOURCES.values() if c.jdbc is not None)
# the tax bureau's contract on an exchange table of this module's own
TABLE_SOURCE = _TAX.model_copy(update={"jdbc": _TAX.jdbc.model_copy(update={"table": "tax_exchange.delivery_probe"})})
NEXT_NIGHT = "2026-11-24"


@pytest.fixture(scope="module")
def object_store(tmp_path_factory):
    """Settings of the s3 environment on a MinIO server of this module's own."""
    folder = tmp_path_factory.mktemp("object-store")
    env = clean_environment(CITYLAKE_DATA_DIR=str(folder), CITYLAKE_MINIO_PORT=str(free_port()))
    try:
        started = run(["infra/minio.sh", "start"], env, timeout=120)
        yield load({"CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"], "CITYLAKE_DATA_DIR": str(folder), **exports(started.stdout)})
    finally:
        run(["infra/minio.sh", "stop"], env, timeout=60)


def test_a_file_in_the_drop_folder_is_the_night_delivered(settings_in):
    assert not storage.delivered(settings_in, FILE_SOURCE, NIGHT)
    extract = settings_in.incoming_dir / NIGHT / "public_security" / "household_registration.csv"
    extract.parent.mkdir(parents=True)
    extract.write_text("姓名\n", encoding="utf-8")
    assert storage.delivered(settings_in, FILE_SOURCE, NIGHT)
    assert not storage.delivered(settings_in, FILE_SOURCE, NEXT_NIGHT)
    assert not storage.delivered(settings_in, SOURCES["enterprise_registry"], NIGHT)


def test_an_object_in_the_bucket_is_the_night_delivered(object_store, tmp_path):
    storage.ensure_bucket(object_store)
    assert not storage.delivered(object_store, FILE_SOURCE, NIGHT)
    extract = tmp_path / NIGHT / "public_security" / "household_registration.csv"
    extract.parent.mkdir(parents=True)
    extract.write_text("姓名\n", encoding="utf-8")
    storage.deliver(object_store, tmp_path, NIGHT)
    assert storage.delivered(object_store, FILE_SOURCE, NIGHT)
    assert not storage.delivered(object_store, FILE_SOURCE, NEXT_NIGHT)


def test_an_object_store_that_refuses_the_keys_is_an_error_not_a_missing_extract(object_store):
    wrong = load({"CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"], "CITYLAKE_ENV": "s3", "CITYLAKE_DATA_DIR": str(object_store.data_dir),
                  "CITYLAKE_S3_ENDPOINT": object_store.s3.endpoint, "CITYLAKE_S3_ACCESS_KEY": "nobody",
                  "CITYLAKE_S3_SECRET_KEY": "not-the-secret"})
    with pytest.raises(Exception, match="403|Forbidden|InvalidAccessKeyId"):
        storage.delivered(wrong, FILE_SOURCE, NIGHT)


def test_rows_of_the_night_in_the_exchange_table_are_the_night_delivered(departments_db):
    table = TABLE_SOURCE.jdbc

    def deliver(night):
        exchange.deliver(departments_db, table.table, ["纳税人识别号", "纳税人名称"],
                         [["91420300MA4KXXXX0X", "某公司"]], table.batch_column, night, table.order_column)

    assert not storage.delivered(departments_db, TABLE_SOURCE, NIGHT)  # no table yet
    deliver(NEXT_NIGHT)
    assert not storage.delivered(departments_db, TABLE_SOURCE, NIGHT)  # another night's rows only
    deliver(NIGHT)
    assert storage.delivered(departments_db, TABLE_SOURCE, NIGHT)
