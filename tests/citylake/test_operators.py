from citylake import contracts
from citylake.orchestration import NIGHT, asset, spark_job


def test_a_job_reports_its_inlets_outlets_and_extract_as_openlineage_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYLAKE_DATA_DIR", str(tmp_path))
    name = next(c.name for c in contracts.load_all().values() if c.jdbc is None)
    land = spark_job(f"land_{name}", "land", ["--source", name], inlets=[asset("standard", "tax_ratings")],
                     outlets=[asset("raw", name)], extract_of=name)
    assert NIGHT in land.application_args
    land.application_args = [a.replace(NIGHT, "2026-11-23") for a in land.application_args]  # as rendered
    facets = land.get_openlineage_facets_on_complete(None)
    lake = (tmp_path / "lake").resolve()
    assert [(d.namespace, d.name) for d in facets.outputs] == [("file", f"{lake}/raw/{name}")]
    standard, extract = facets.inputs
    assert (standard.namespace, standard.name) == ("file", f"{lake}/standard/tax_ratings")
    assert extract.name.startswith(str((tmp_path / "incoming").resolve())) and "2026-11-23" in extract.name

    build = spark_job("build_credit", "build_base", ["--library", "credit"], outlets=[asset("base", "credit")])
    facets = build.get_openlineage_facets_on_complete(None)
    assert facets.inputs == [] and [d.name for d in facets.outputs] == [f"{lake}/base/credit"]


def test_the_delivery_sensor_looks_for_the_night_s_extract_of_its_source(tmp_path, monkeypatch):
    from citylake.operators import ExtractDeliveredSensor

    monkeypatch.setenv("CITYLAKE_ENV", "local")
    monkeypatch.setenv("CITYLAKE_DATA_DIR", str(tmp_path))
    sensor = ExtractDeliveredSensor(task_id="delivery_death_certificates", source="death_certificates",
                                    run_date="2026-11-23")
    assert sensor.poke({}) is False
    extract = tmp_path / "incoming" / "2026-11-24" / "health" / "death_certificates.csv"  # the next night's
    extract.parent.mkdir(parents=True)
    extract.write_text("姓名\n", encoding="utf-8")
    assert sensor.poke({}) is False
    (tmp_path / "incoming" / "2026-11-23").mkdir()
    extract.rename(tmp_path / "incoming" / "2026-11-23" / "death_certificates.csv")  # not where the contract says
    assert sensor.poke({}) is False
    (tmp_path / "incoming" / "2026-11-23" / "health").mkdir()
    (tmp_path / "incoming" / "2026-11-23" / "death_certificates.csv").rename(
        tmp_path / "incoming" / "2026-11-23" / "health" / "death_certificates.csv")
    assert sensor.poke({}) is True
