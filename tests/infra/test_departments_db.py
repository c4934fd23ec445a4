"""A department's exchange database (前置库) on a real PostgreSQL server: delivery with psycopg,
reading over JDBC with Spark, and infra/postgres.sh itself."""

import shutil
import subprocess

import pytest
from psycopg import sql

from citylake import departments_db as exchange
from citylake.settings import load
from tests.conftest import PROJECT_ROOT
from tests.infra.helpers import clean_environment, free_port, run

pytestmark = pytest.mark.slow
NIGHT, NEXT_NIGHT = "2026-11-23", "2026-11-24"
BATCH, ORDER = "交换日期", "记录编号"
COLUMNS = ["公民身份号码", "姓名", "登记机关", "登记日期"]
ROWS = [
    ["11010519491231002X", "张三", "北京市东城区民政局", "2026-11-20"],
    ["440524188001010014", "李四", None, "2026-11-21"],
    ["420321195001010015", "王五", "郧县民政局", ""],
]


def table_rows(settings, table: str) -> list[tuple]:
    """Every row of an exchange table as (batch, order, *COLUMNS), in key order."""
    schema, name = table.split(".")
    query = sql.SQL("SELECT {} FROM {} ORDER BY 1, 2").format(
        sql.SQL(", ").join(map(sql.Identifier, [BATCH, ORDER, *COLUMNS])), sql.Identifier(schema, name))
    with exchange.connect(settings) as connection:
        return connection.execute(query).fetchall()


def test_deliver_creates_the_table_and_the_rows_read_back(departments_db):
    table = "civil_affairs.婚姻登记"
    assert exchange.available(departments_db)
    assert exchange.deliver(departments_db, table, COLUMNS, iter(ROWS), BATCH, NIGHT, ORDER) == 3

    assert table_rows(departments_db, table) == [(NIGHT, n, *row) for n, row in enumerate(ROWS, 1)]
    with exchange.connect(departments_db) as connection:
        types = dict(connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'civil_affairs' AND table_name = '婚姻登记'").fetchall())
        key = connection.execute(
            "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
            "CROSS JOIN unnest(i.indkey) WITH ORDINALITY k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = 'civil_affairs.\"婚姻登记\"'::regclass AND i.indisprimary").fetchone()[0]
    assert types == {**{c: "text" for c in COLUMNS}, BATCH: "text", ORDER: "bigint"}
    assert key == [BATCH, ORDER]


def test_delivering_a_night_again_leaves_the_same_rows(departments_db):
    table = "civil_affairs.婚姻登记_redelivery"
    exchange.deliver(departments_db, table, COLUMNS, ROWS, BATCH, NIGHT, ORDER)
    exchange.deliver(departments_db, table, COLUMNS, ROWS[:1], BATCH, NEXT_NIGHT, ORDER)
    first = table_rows(departments_db, table)

    assert exchange.deliver(departments_db, table, COLUMNS, ROWS, BATCH, NIGHT, ORDER) == 3
    assert table_rows(departments_db, table) == first
    # a corrected night replaces that night only
    assert exchange.deliver(departments_db, table, COLUMNS, ROWS[1:], BATCH, NIGHT, ORDER) == 2
    assert table_rows(departments_db, table) == [
        (NIGHT, 1, *ROWS[1]), (NIGHT, 2, *ROWS[2]), (NEXT_NIGHT, 1, *ROWS[0])]


def test_the_caller_may_deliver_its_own_batch_and_order_values(departments_db):
    table = "tax_exchange.own_keys"
    columns = [ORDER, *COLUMNS, BATCH]
    rows = [[str(n * 10), *row, NIGHT] for n, row in enumerate(ROWS, 1)]
    assert exchange.deliver(departments_db, table, columns, rows, BATCH, NIGHT, ORDER) == 3
    assert [r[1] for r in table_rows(departments_db, table)] == [10, 20, 30]


def test_a_failed_delivery_names_the_table_never_a_value_and_changes_nothing(departments_db):
    table = "civil_affairs.婚姻登记_failures"
    exchange.deliver(departments_db, table, COLUMNS, ROWS, BATCH, NIGHT, ORDER)
    before = table_rows(departments_db, table)
    identity = ROWS[0][0]
    attempts = [  # (columns, rows, what the message says)
        ([*COLUMNS, ORDER], [[*row, identity] for row in ROWS], f"at row 1, column {ORDER}"),  # not a number
        ([*COLUMNS, ORDER], [[*row, "7"] for row in ROWS], "UniqueViolation"),  # duplicate order
        ([*COLUMNS, BATCH], [[*row, identity] for row in ROWS], f"row 1 has a {BATCH} other than"),
        (COLUMNS, [ROWS[0], ROWS[1][:2]], "row 2 has 2 values for 4 columns"),
    ]
    for columns, rows, expected in attempts:
        with pytest.raises(exchange.DeliveryError) as caught:
            exchange.deliver(departments_db, table, columns, rows, BATCH, NIGHT, ORDER)
        message = str(caught.value)
        assert table in message and expected in message
        assert identity not in message and "张三" not in message
        # nor in the chained psycopg error, whose message quotes the value
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__ or caught.value.__context__ is None
        assert table_rows(departments_db, table) == before


def test_spark_reads_the_night_over_jdbc(spark, departments_db):
    table = "civil_affairs.婚姻登记_jdbc"
    exchange.deliver(departments_db, table, COLUMNS, ROWS, BATCH, NIGHT, ORDER)
    exchange.deliver(departments_db, table, COLUMNS, ROWS[:2], BATCH, NEXT_NIGHT, ORDER)
    db = departments_db.departments_db

    night = (
        spark.read.format("jdbc")
        .option("url", db.jdbc_url)
        .option("user", db.user)
        .option("password", db.password)
        .option("driver", "org.postgresql.Driver")
        .option("query", f'SELECT * FROM civil_affairs."婚姻登记_jdbc" WHERE "{BATCH}" = \'{NIGHT}\'')
        .load()
    )
    assert night.columns == [*COLUMNS, BATCH, ORDER]
    assert dict(night.dtypes)[ORDER] == "bigint"
    got = [tuple(row) for row in night.orderBy(ORDER).collect()]
    assert got == [(*row, NIGHT, n) for n, row in enumerate(ROWS, 1)]


def test_postgres_sh_start_is_idempotent_and_stop_stops(tmp_path):
    # tmp_path is under pytest's 0700 folder: the postgres user cannot reach it, so the cluster
    # goes to the fallback beside ~postgres, behind a symlink
    port = str(free_port())
    env = clean_environment(CITYLAKE_DATA_DIR=str(tmp_path / "data"), CITYLAKE_DEPARTMENTS_DB_PORT=port)
    link = tmp_path / "data" / "postgres"
    try:
        first = run(["infra/postgres.sh", "start"], env, timeout=600)
        exports = dict(line.removeprefix("export ").split("=", 1) for line in first.stdout.splitlines())
        assert exports == {
            "CITYLAKE_DEPARTMENTS_DB_HOST": "127.0.0.1", "CITYLAKE_DEPARTMENTS_DB_PORT": port,
            "CITYLAKE_DEPARTMENTS_DB_NAME": "departments", "CITYLAKE_DEPARTMENTS_DB_USER": "citylake",
            "CITYLAKE_DEPARTMENTS_DB_PASSWORD": "citylake"}
        settings = load(exports)
        assert exchange.available(settings)
        assert (link.resolve() / "PG_VERSION").is_file()
        assert (link.resolve() / f".s.PGSQL.{port}").is_socket()  # the socket is in the cluster folder

        # from another working directory, one the postgres user cannot even enter
        again = subprocess.run([str(PROJECT_ROOT / "infra" / "postgres.sh"), "start"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert again.stdout == first.stdout and "already running" in again.stderr
        with exchange.connect(settings) as connection:
            listening = connection.execute("SHOW listen_addresses").fetchone()[0]
        assert listening == "127.0.0.1"

        run(["infra/postgres.sh", "stop"], env, timeout=60)
        assert not exchange.available(settings)
        assert "not running" in run(["infra/postgres.sh", "stop"], env, timeout=60).stderr
    finally:
        run(["infra/postgres.sh", "stop"], env, timeout=60)
        if link.is_symlink():
            shutil.rmtree(link.resolve(), ignore_errors=True)
