"""Nightly: land each department's extract, standardise it behind its quality gate, build the
population and legal-entity libraries, then the curated theme tables, then the night's summary.

Jobs: jobs/land.py, jobs/standardise.py, jobs/build_base.py, jobs/build_curated.py,
jobs/nightly_summary.py, each submitted as a Spark application (master from CITYLAKE_ENV).
Sources: one pair of tasks per contract in sources/; a base library waits for the sources it is
built from (citylake/base.py), the summary for every source.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from citylake import contracts
from citylake.base import BUILDERS, contributing_sources
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
    sources = contracts.load_all()
    standardised = {}
    for contract in sources.values():
        raw, standard = asset("raw", contract.name), asset("standard", contract.name)
        land = spark_job(f"land_{contract.name}", "land", ["--source", contract.name],
                         outlets=[raw])
        check = spark_job(f"standardise_{contract.name}", "standardise",
                          ["--source", contract.name], inlets=[raw], outlets=[standard])
        land >> check
        standardised[contract.name] = (check, standard)

    libraries, feeding = [], set()
    for library in BUILDERS:  # credit has no base builder yet
        contributing = [c.name for c in contributing_sources(sources.values(), library)]
        produced = [standardised[name] for name in contributing]
        build = spark_job(f"build_{library}", "build_base", ["--library", library],
                          inlets=[a for _, a in produced], outlets=[asset("base", library)])
        [task for task, _ in produced] >> build
        libraries.append(build)
        feeding.update(contributing)
    # sources no base library reads yet still finish before the night's summary
    waiting = [task for name, (task, _) in standardised.items() if name not in feeding]

    curated = spark_job(
        "build_curated", "build_curated", [],
        inlets=[asset("base", "population"), asset("base", "legal_entity")],
        outlets=[asset("theme", "enterprise_legal_representative")],
    )
    summary = spark_job("nightly_summary", "nightly_summary", [], trigger_rule="all_done")
    libraries >> curated >> summary
    waiting >> summary


citylake_nightly()
