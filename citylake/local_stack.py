"""Reading what the local stack's scripts and Airflow's CLI print, for the tests and benchmarks
that start the stack (infra/stack.sh, infra/minio.sh, infra/postgres.sh) and watch its runs."""

from __future__ import annotations

import json


def exports(text: str) -> dict[str, str]:
    """The settings a script's ``start`` printed as ``export NAME=value`` lines (others ignored)."""
    return dict(line.removeprefix("export ").split("=", 1)
                for line in text.splitlines() if line.startswith("export ") and "=" in line)


def dag_runs(list_runs_output: str) -> list[dict]:
    """The runs in the output of ``airflow dags list-runs <dag> -o json`` (its one JSON line;
    Airflow may log around it)."""
    listings = [line for line in list_runs_output.splitlines() if line.startswith(("[{", "[]"))]
    if len(listings) != 1:
        raise ValueError(f"expected one JSON listing of runs, found {len(listings)} in: {list_runs_output[-500:]}")
    return json.loads(listings[0])
