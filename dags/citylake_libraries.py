"""Base libraries and curated tables, scheduled on the lake's assets rather than on the clock.

``citylake_base_libraries`` runs once the night's standard tables that the libraries are built
from have all been published by their ingest DAGs (citylake/base.py says which sources feed which
library); it builds base/population and base/legal_entity (jobs/build_base.py).
``citylake_curated`` runs when both base libraries are published: the theme tables
(jobs/build_curated.py), then the night's summary (jobs/nightly_summary.py), which reports every
source whether it feeds a library or not. An asset-triggered run processes the night of the
ingest runs that triggered it (citylake/orchestration.py: ``night``).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import AssetAll, dag

from citylake import contracts
from citylake.base import BUILDERS, contributing_sources
from citylake.orchestration import DAG_KWARGS, asset, spark_job

SOURCES = contracts.load_all()
LIBRARY_SOURCES = {library: [c.name for c in contributing_sources(SOURCES.values(), library)]
                   for library in BUILDERS}  # credit has no base builder yet
LIBRARIES = [asset("base", library) for library in BUILDERS]
THEME = asset("theme", "enterprise_legal_representative")


@dag(
    schedule=AssetAll(*[asset("standard", name) for names in LIBRARY_SOURCES.values() for name in names]),
    start_date=datetime(2026, 1, 1),
    tags=["citylake", "base"],
    doc_md=__doc__,
    **DAG_KWARGS,
)
def citylake_base_libraries():
    for library, names in LIBRARY_SOURCES.items():
        spark_job(f"build_{library}", "build_base", ["--library", library],
                  inlets=[asset("standard", name) for name in names], outlets=[asset("base", library)])


@dag(
    schedule=AssetAll(*LIBRARIES),
    start_date=datetime(2026, 1, 1),
    tags=["citylake", "curated"],
    doc_md=__doc__,
    **DAG_KWARGS,
)
def citylake_curated():
    curated = spark_job("build_curated", "build_curated", [], inlets=LIBRARIES, outlets=[THEME])
    summary = spark_job("nightly_summary", "nightly_summary", [], trigger_rule="all_done")
    curated >> summary


citylake_base_libraries()
citylake_curated()
