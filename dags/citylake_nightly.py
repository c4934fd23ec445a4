"""Nightly: land each department's extract, standardise it behind its quality gate, build the
population and legal-entity libraries, then the curated theme tables, then the night's summary.

Jobs: jobs/land.py, jobs/standardise.py, jobs/build_base.py, jobs/build_curated.py,
jobs/nightly_summary.py, each submitted as a Spark application (master from CITYLAKE_ENV).
Sources: one pair of tasks per contract in sources/.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from citylake import contracts
from citylake.orchestration import DEFAULT_ARGS, asset, spark_job


@dag(
    schedule="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["citylake", "nightly", "tier-1"],
    doc_md=__doc__,
)
def citylake_nightly():
    standardised = {"population": [], "legal_entity": []}
    for contract in contracts.load_all().values():
        raw, standard = asset("raw", contract.name), asset("standard", contract.name)
        land = spark_job(f"land_{contract.name}", "land", ["--source", contract.name],
                         outlets=[raw])
        check = spark_job(f"standardise_{contract.name}", "standardise",
                          ["--source", contract.name], inlets=[raw], outlets=[standard])
        land >> check
        standardised[contract.library].append((check, standard))

    libraries = []
    for library, produced in standardised.items():
        build = spark_job(f"build_{library}", "build_base", ["--library", library],
                          inlets=[a for _, a in produced], outlets=[asset("base", library)])
        [task for task, _ in produced] >> build
        libraries.append(build)

    curated = spark_job(
        "build_curated", "build_curated", [],
        inlets=[asset("base", "population"), asset("base", "legal_entity")],
        outlets=[asset("theme", "enterprise_legal_representative")],
    )
    summary = spark_job("nightly_summary", "nightly_summary", [], trigger_rule="all_done")
    libraries >> curated >> summary


citylake_nightly()
