"""Weekly lake maintenance: compacts every Delta table, Z-orders it on its lookup keys and vacuums
it, keeping time travel for the audit window (CITYLAKE_AUDIT_DAYS).

Job: jobs/maintain_lake.py (citylake/maintenance.py), submitted as a Spark application (master
from CITYLAKE_ENV), in the lake writers' pool like every job that writes the lake. Sunday 05:00,
after the night's run. Report: reports/<date>/maintenance.json. Compaction leaves every table's
content as it was, so the task declares no outlets (no asset event, nothing downstream reruns).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import CronTriggerTimetable, dag

from citylake.orchestration import CITY_TIMEZONE, DAG_KWARGS, spark_job


@dag(
    schedule=CronTriggerTimetable("0 5 * * 0", timezone=CITY_TIMEZONE),  # its run date: that Sunday
    start_date=datetime(2026, 1, 1),
    **DAG_KWARGS,
    tags=["citylake", "maintenance"],
    doc_md=__doc__,
)
def citylake_maintenance():
    spark_job("maintain_lake", "maintain_lake", [])


citylake_maintenance()
