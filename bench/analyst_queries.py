"""Benchmark: analysts' queries on the JVM-free path, each in a cold process.

    .venv/bin/python bench/analyst_queries.py --data-dir /tmp/er-city [--repeats 5]

Needs a data folder whose lake holds the theme tables of a built night (bench/entity_resolution.py
--keep DIR leaves one; so does `make nightly`). Each query runs as a fresh `citylake sql` process
(Python start, delta-rs reading the table's log, DataFusion), so the figure is what an analyst
waits for at the terminal:

  point_lookup_s          the credit profile of one entity by credit code
                          (theme.entity_credit_profile, written sorted by credit code, so the
                          files' min/max statistics let delta-rs skip all but one)
  district_aggregate_s    living persons per district and sex over theme.district_population
  district_from_profiles_s  the same aggregate computed from theme.person_profile (one row per
                          person), the heavier form of the question

Each the median of the repeats. Writes bench/results/analyst_queries.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from city_runs import city_environment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _timed(env: dict[str, str], sql: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "citylake"), "sql", "--user", "bench-analyst",
                             "--format", "csv", sql], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"citylake sql failed: {result.stderr[-2000:]}")
    return seconds, result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "analyst_queries.json")
    args = parser.parse_args(argv)
    env = city_environment(args.data_dir.resolve())

    _, codes = _timed(env, "SELECT credit_code FROM theme.entity_credit_profile ORDER BY credit_code")
    listed = [line.strip('"') for line in codes.splitlines()[1:]]
    code = listed[len(listed) // 2]  # one from the middle of the key range
    people = _timed(env, "SELECT count(*) AS n FROM theme.person_profile")[1].splitlines()[1]
    queries = {
        "point_lookup_s": f"SELECT * FROM theme.entity_credit_profile WHERE credit_code = '{code}'",
        "district_aggregate_s": "SELECT district, sex, sum(persons) AS persons FROM theme.district_population "
                                "GROUP BY district, sex ORDER BY district, sex",
        "district_from_profiles_s": "SELECT district, sex, count(*) AS persons FROM theme.person_profile "
                                    "WHERE alive GROUP BY district, sex ORDER BY district, sex",
    }
    result: dict = {"machine": f"{os.cpu_count()} cores", "persons": int(people), "entities": len(listed),
                    "repeats": args.repeats}
    for name, sql in queries.items():
        runs = [_timed(env, sql)[0] for _ in range(args.repeats)]
        result[name] = round(statistics.median(runs), 3)
        result[f"{name}_runs"] = [round(r, 3) for r in runs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
