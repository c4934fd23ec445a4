"""Parsing the local stack's script output and Airflow's run listings, on literal text."""

import pytest

from citylake.local_stack import dag_runs, exports


def test_exports_are_the_export_lines_only():
    printed = ("minio: started on 127.0.0.1:9000\n"
               "export CITYLAKE_S3_ENDPOINT=http://127.0.0.1:9000\n"
               "export CITYLAKE_S3_SECRET_KEY=a=b\n")
    assert exports(printed) == {"CITYLAKE_S3_ENDPOINT": "http://127.0.0.1:9000", "CITYLAKE_S3_SECRET_KEY": "a=b"}


def test_runs_are_read_from_the_json_line_among_airflow_logs():
    printed = ('[2026-12-02T04:00:00] INFO - Filling up the DagBag\n'
               '[{"dag_id": "citylake_curated", "run_id": "asset_triggered__1", "state": "success"}]\n')
    assert dag_runs(printed) == [{"dag_id": "citylake_curated", "run_id": "asset_triggered__1", "state": "success"}]
    assert dag_runs("[]\n") == []


def test_output_without_a_listing_is_an_error_that_shows_it():
    with pytest.raises(ValueError, match="found 0 in: Error: dag not found"):
        dag_runs("Error: dag not found\n")
