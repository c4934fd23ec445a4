"""Base libraries and curated tables, scheduled on the lake's assets rather than on the clock.

``citylake_base_libraries`` runs once the night's standard tables that the libraries are built
from have all been published by their ingest DAGs (jobs/build_base.py SOURCES says which sources
feed which library: the credit sources' parties are resolved with the population and the legal
entities); its one task builds the three libraries in one Spark application (jobs/build_base.py:
base/population and, alongside it, the legal entities' resolution; then base/legal_entity, whose
legal representatives link to the population; then base/credit, which links every credit record
to both).
``citylake_curated`` runs when the base libraries are published: the theme tables
(jobs/build_curated.py), then the night's summary (jobs/nightly_summary.py), which reports every
source whether it feeds a library or not. An asset-triggered run processes the night of the
ingest runs that triggered it (citylake/orchestration.py: ``night``).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import AssetAll, dag

from citylake import contracts
from citylake.base import LIBRARIES as LIBRARY_NAMES
from citylake.base import feeding_sources
from citylake.credit import CREDIT_SOURCES
from citylake.curated import THEMES as THEMES_BUILT
from citylake.legal_entity import ENTITY_SOURCES
from citylake.orchestration import DAG_KWARGS, asset, spark_job
from citylake.population import PERSON_SOURCES

SOURCES = contracts.load_all()
LIBRARY_SOURCES = {library: [c.name for c in feeding_sources(SOURCES.values(), names)]
                   for library, names in zip(LIBRARY_NAMES, (PERSON_SOURCES, ENTITY_SOURCES, CREDIT_SOURCES))}
STANDARD_TABLES = [asset("standard", name) for name in
                   dict.fromkeys(name for names in LIBRARY_SOURCES.values() for name in names)]
LIBRARIES = [asset("base", library) for library in LIBRARY_NAMES]
THEMES = [asset("theme", name) for name in THEMES_BUILT]


@dag(
    schedule=AssetAll(*STANDARD_TABLES),
    start_date=datetime(2026, 1, 1),
    tags=["citylake", "base"],
    doc_md=__doc__,
    **DAG_KWARGS,
)
def citylake_base_libraries():
    spark_job("build_base_libraries", "build_base", ["--library", *LIBRARY_NAMES],
              inlets=STANDARD_TABLES, outlets=LIBRARIES)


@dag(
    schedule=AssetAll(*LIBRARIES),
    start_date=datetime(2026, 1, 1),
    tags=["citylake", "curated"],
    doc_md=__doc__,
    **DAG_KWARGS,
)
def citylake_curated():
    curated = spark_job("build_curated", "build_curated", [], inlets=LIBRARIES, outlets=THEMES)
    summary = spark_job("nightly_summary", "nightly_summary", [], trigger_rule="all_done")
    curated >> summary


citylake_base_libraries()
citylake_curated()
