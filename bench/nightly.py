"""Benchmark: a whole nightly through the scheduler, on local[2] and on a Spark standalone cluster.

    .venv/bin/python bench/nightly.py [--people 100000] [--masters local cluster]

Each run is `infra/nightly.sh` (what `make nightly` runs: a generated city, every source's ingest
DAG, the base libraries' DAG and the curated one, each with `airflow dags test`, the departments'
PostgreSQL started for it) in a fresh data folder. ``local``: the jobs on local[2]; ``cluster``:
a master and a worker (2 cores) from the pyspark distribution (infra/spark-cluster.sh) and the
jobs submitted to it. Measured per run: the wall time, each DAG's seconds (nightly.sh prints
them), and the library sizes from the night's summary; ``cluster_over_local`` is their ratio.
The machine has 2 cores: the cluster here is the same cores behind a master, so the ratio
measures the scale-out path's overhead, not a gain.

Writes bench/results/nightly.json (sizes not given keep the figures the file already holds).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from city_runs import city_environment

from citylake.ports import free_loopback_port

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NIGHT = "2026-11-23"


def _script(command: list[str], env: dict[str, str], timeout: int = 600) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def run_nightly(people: int, master: str, work: Path) -> dict:
    env = city_environment(work) | {"CITYLAKE_SPARK_WORKER_MEMORY": "6g"}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    if master == "cluster":
        env |= {"CITYLAKE_SPARK_MASTER_PORT": str(free_loopback_port()), "CITYLAKE_SPARK_MASTER_UI_PORT": str(free_loopback_port())}
        exported = _script(["infra/spark-cluster.sh", "start"], env)
        env["CITYLAKE_SPARK_MASTER"] = exported.strip().removeprefix("export CITYLAKE_SPARK_MASTER=")
    try:
        started = time.perf_counter()
        out = _script(["infra/nightly.sh", NIGHT, str(people)], env, timeout=4 * 3600)
        wall = time.perf_counter() - started
    finally:
        subprocess.run(["infra/postgres.sh", "stop"], cwd=ROOT, env=env, capture_output=True)
        if master == "cluster":
            subprocess.run(["infra/spark-cluster.sh", "stop"], cwd=ROOT, env=env, capture_output=True)
    dags = {m.group(1): int(m.group(3)) for m in re.finditer(r"nightly: (\S+)\s+state=(\w+)\s+(\d+)s", out)}
    summary = json.loads((work / "reports" / NIGHT / "summary.json").read_text(encoding="utf-8"))
    return {
        "wall_s": round(wall, 1),
        "ingest_dags_s": sum(s for dag, s in dags.items() if dag.startswith("citylake_ingest_")),
        "base_libraries_s": dags.get("citylake_base_libraries"),
        "curated_s": dags.get("citylake_curated"),
        "dags_s": dags,
        "base": summary.get("base"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--masters", nargs="+", choices=("local", "cluster"), default=["local", "cluster"])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "nightly.json")
    args = parser.parse_args(argv)
    document = json.loads(args.out.read_text()) if args.out.exists() else {"machine": "2 cores", "runs": {}}
    runs = document["runs"].setdefault(str(args.people), {})
    for master in args.masters:
        work = Path(tempfile.mkdtemp(prefix=f"citylake-bench-nightly-{master}-", dir="/tmp"))
        try:
            runs[master] = run_nightly(args.people, master, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"{args.people} residents, {master}: {runs[master]['wall_s']} s "
              f"(ingest DAGs {runs[master]['ingest_dags_s']} s, base libraries {runs[master]['base_libraries_s']} s)",
              flush=True)
    if {"local", "cluster"} <= set(runs):
        runs["cluster_over_local"] = round(runs["cluster"]["wall_s"] / runs["local"]["wall_s"], 3)
    document["runs"][str(args.people)] = runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(runs, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
