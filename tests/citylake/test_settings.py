import pytest

from citylake.settings import SettingsError, load


def test_local_is_the_default(tmp_path):
    settings = load({"CITYLAKE_DATA_DIR": str(tmp_path)})
    assert settings.env == "local" and settings.spark_master == "local[2]"
    assert settings.lake_root == str(tmp_path / "lake") and settings.s3 is None


def test_s3_needs_endpoint_and_keys():
    with pytest.raises(SettingsError, match="CITYLAKE_S3_ENDPOINT, CITYLAKE_S3_ACCESS_KEY"):
        load({"CITYLAKE_ENV": "s3"})


def test_s3_puts_the_lake_in_the_bucket():
    settings = load({"CITYLAKE_ENV": "s3", "CITYLAKE_S3_ENDPOINT": "http://127.0.0.1:9000",
                     "CITYLAKE_S3_ACCESS_KEY": "a", "CITYLAKE_S3_SECRET_KEY": "b"})
    assert settings.lake_root == "s3a://citylake/lake"
    assert settings.table_path("raw", "household_registration") == "s3a://citylake/lake/raw/household_registration"


def test_cluster_needs_a_master_and_unknown_env_is_refused():
    with pytest.raises(SettingsError, match="CITYLAKE_SPARK_MASTER"):
        load({"CITYLAKE_ENV": "cluster"})
    with pytest.raises(SettingsError, match="'prod' is not one of local, s3, cluster"):
        load({"CITYLAKE_ENV": "prod"})


def test_spark_conf_carries_s3a_settings_only_for_s3():
    from citylake.spark import conf

    local = load({"CITYLAKE_ENV": "local"})
    s3 = load({"CITYLAKE_ENV": "s3", "CITYLAKE_S3_ENDPOINT": "http://127.0.0.1:9000",
               "CITYLAKE_S3_ACCESS_KEY": "a", "CITYLAKE_S3_SECRET_KEY": "b"})
    assert not any(key.startswith("spark.hadoop.fs.s3a") for key in conf(local))
    assert conf(s3)["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf(s3)["spark.hadoop.fs.s3a.path.style.access"] == "true"


def test_driver_and_executor_memory_default_and_override():
    from citylake.spark import conf

    default = conf(load({}))
    assert default["spark.driver.memory"] == "2g" and default["spark.executor.memory"] == "2g"
    sized = conf(load({"CITYLAKE_DRIVER_MEMORY": "6g", "CITYLAKE_EXECUTOR_MEMORY": "5g"}))
    assert sized["spark.driver.memory"] == "6g" and sized["spark.executor.memory"] == "5g"


def test_departments_db_defaults_overrides_and_connection_strings():
    from psycopg.conninfo import conninfo_to_dict

    from citylake.spark import ALL_PACKAGES

    default = load({}).departments_db
    assert (default.host, default.port, default.database, default.user, default.password) == (
        "127.0.0.1", 5433, "departments", "citylake", "citylake")
    assert default.jdbc_url == "jdbc:postgresql://127.0.0.1:5433/departments"

    db = load({"CITYLAKE_DEPARTMENTS_DB_HOST": "db.example", "CITYLAKE_DEPARTMENTS_DB_PORT": "6432",
               "CITYLAKE_DEPARTMENTS_DB_NAME": "前置库", "CITYLAKE_DEPARTMENTS_DB_USER": "reader",
               "CITYLAKE_DEPARTMENTS_DB_PASSWORD": "it's a \\ secret"}).departments_db
    assert db.port == 6432 and db.jdbc_url == "jdbc:postgresql://db.example:6432/前置库"
    assert conninfo_to_dict(db.conninfo) == {"host": "db.example", "port": "6432", "dbname": "前置库",
                                             "user": "reader", "password": "it's a \\ secret"}
    assert "secret" not in repr(db) and "secret" not in repr(load({"CITYLAKE_DEPARTMENTS_DB_PASSWORD": "secret"}))
    with pytest.raises(SettingsError, match="CITYLAKE_DEPARTMENTS_DB_PORT='x' is not a port number"):
        load({"CITYLAKE_DEPARTMENTS_DB_PORT": "x"})
    # every environment's Spark session can read exchange databases over JDBC
    assert "org.postgresql:postgresql:42.7.14" in ALL_PACKAGES


def test_operations_settings_default_and_validate(tmp_path):
    settings = load({"CITYLAKE_DATA_DIR": str(tmp_path)})
    assert settings.audit_days == 30 and settings.alert_webhook is None
    settings = load({"CITYLAKE_DATA_DIR": str(tmp_path), "CITYLAKE_AUDIT_DAYS": "90",
                     "CITYLAKE_ALERT_WEBHOOK": "https://alerts.example/hook?token=secret"})
    assert settings.audit_days == 90 and settings.alert_webhook.endswith("token=secret")
    assert "secret" not in repr(settings)  # the webhook's token stays out of logs
    with pytest.raises(SettingsError, match="CITYLAKE_AUDIT_DAYS='0' is not a positive number of days"):
        load({"CITYLAKE_AUDIT_DAYS": "0"})
