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
    from citylake.spark import conf, packages

    local = load({"CITYLAKE_ENV": "local"})
    s3 = load({"CITYLAKE_ENV": "s3", "CITYLAKE_S3_ENDPOINT": "http://127.0.0.1:9000",
               "CITYLAKE_S3_ACCESS_KEY": "a", "CITYLAKE_S3_SECRET_KEY": "b"})
    assert not any(key.startswith("spark.hadoop.fs.s3a") for key in conf(local))
    assert conf(s3)["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf(s3)["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert "hadoop-aws" not in packages(local) and "hadoop-aws:3.5.0" in packages(s3)
