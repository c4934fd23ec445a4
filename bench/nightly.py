"""Benchmark: a whole nightly on local[2], on a Spark standalone cluster, and through the scheduler.

    .venv/bin/python bench/nightly.py [--people 100000] [--masters local cluster scheduler]

``local`` and ``cluster`` run `infra/nightly.sh` (what `make nightly` runs: a generated city,
every source's ingest DAG, the base libraries' DAG and the curated one, each with `airflow dags
test`, the departments' PostgreSQL and a Spark Connect server started for it) in a fresh data
folder. ``local``: the server on local[*]; ``cluster``: a master and a worker (2 cores) from the
pyspark distribution (infra/spark-cluster.sh) behind the server. ``cluster_over_local`` is the ratio of
their wall times. The machine has 2 cores: the cluster here is the same cores behind a master,
so the ratio measures the scale-out path's overhead, not a gain.

``scheduler``: the night as production runs it. The city is generated for the night the
scheduler runs first, then the local stack starts (infra/stack.sh: MinIO, PostgreSQL, Airflow
standalone with its scheduler and LocalExecutor, the lake in the object store) and the scheduler
alone runs the ingest DAGs on their schedule and the libraries on their assets. Its wall time is
from the first ingest run's start to the curated run's end, as Airflow records them.

Measured per run: the wall time, each DAG's seconds, and the library sizes from the night's
summary.

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
from datetime import datetime, timezone
from pathlib import Path

from city_runs import city_environment

from citylake import contracts
from citylake.local_stack import dag_runs, exports
from citylake.orchestration import latest_scheduled_night
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
    # a worker as big as the local driver (CITYLAKE_DRIVER_MEMORY), its one executor a little less
    env = city_environment(work) | {"CITYLAKE_SPARK_WORKER_MEMORY": "6g", "CITYLAKE_EXECUTOR_MEMORY": "5g"}
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
        "dag_runs_s": sum(dags.values()),  # the DAG runs alone: no setup, no generation of the city
        "base": summary.get("base"),
    }


def _runs(env: dict[str, str], dag_id: str) -> list[dict]:
    return dag_runs(_script(["airflow", "dags", "list-runs", dag_id, "-o", "json"], env, timeout=300))


def run_scheduled(people: int, work: Path, timeout_s: int = 4 * 3600) -> dict:
    env = city_environment(work) | {"CITYLAKE_AIRFLOW_PORT": str(free_loopback_port()),
                                    "CITYLAKE_MINIO_PORT": str(free_loopback_port())}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    schedules = {contract.schedule for contract in contracts.load_all().values()}
    if len(schedules) != 1:
        sys.exit(f"the contracts have {len(schedules)} schedules; this benchmark runs one night of one")
    night = latest_scheduled_night(schedules.pop(), datetime.now(timezone.utc))
    try:
        # the departments deliver before the scheduler wakes: the stack's servers, then the city
        for script in ("infra/minio.sh", "infra/postgres.sh"):
            env |= exports(_script([script, "start"], env))
        _script(["citylake", "generate", "--people", str(people), "--date", night], env, timeout=3600)
        env |= exports(_script(["infra/stack.sh", "start"], env))
        deadline = time.monotonic() + timeout_s
        while not [r for r in _runs(env, "citylake_curated") if r["state"] in ("success", "failed")]:
            if time.monotonic() > deadline:
                sys.exit(f"no curated run finished in {timeout_s} s")
            time.sleep(20)
        dag_ids = [f"citylake_ingest_{name}" for name in contracts.load_all()]
        runs = {dag_id: _runs(env, dag_id) for dag_id in [*dag_ids, "citylake_base_libraries", "citylake_curated"]}
    finally:
        subprocess.run(["infra/stack.sh", "stop"], cwd=ROOT, env=env, capture_output=True)
    states = {dag_id: [r["state"] for r in listed] for dag_id, listed in runs.items()}
    if any(s != ["success"] for s in states.values()):
        sys.exit(f"not one successful run per DAG: {states}")

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text)

    seconds = {dag_id: round((at(r[0]["end_date"]) - at(r[0]["start_date"])).total_seconds(), 1)
               for dag_id, r in runs.items()}
    started = min(at(runs[dag_id][0]["start_date"]) for dag_id in dag_ids)
    ended = at(runs["citylake_curated"][0]["end_date"])
    summary = json.loads((work / "reports" / night / "summary.json").read_text(encoding="utf-8"))
    return {
        "night": night,
        "wall_s": round((ended - started).total_seconds(), 1),
        "ingest_s": round((max(at(runs[d][0]["end_date"]) for d in dag_ids) - started).total_seconds(), 1),
        "base_libraries_s": seconds["citylake_base_libraries"],
        "curated_s": seconds["citylake_curated"],
        "dags_s": seconds,
        "base": summary.get("base"),
        "lake_root": summary.get("lake_root"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--masters", nargs="+", choices=("local", "cluster", "scheduler"), default=["local", "cluster"])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "nightly.json")
    parser.add_argument("--record-as", choices=("small_night_s", "small_night_before_s"),
                        help="also record the local run's DAG runs (seconds) under this name: the 3,000-resident "
                             "night on the warm Spark server, or before it (run from a checkout of the spark-submit path)")
    args = parser.parse_args(argv)
    document = json.loads(args.out.read_text()) if args.out.exists() else {"machine": "2 cores", "runs": {}}
    runs = document["runs"].setdefault(str(args.people), {})
    for master in args.masters:
        work = Path(tempfile.mkdtemp(prefix=f"citylake-bench-nightly-{master}-", dir="/tmp"))
        try:
            runs[master] = (run_scheduled(args.people, work) if master == "scheduler"
                            else run_nightly(args.people, master, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"{args.people} residents, {master}: {runs[master]['wall_s']} s "
              f"(base libraries {runs[master]['base_libraries_s']} s)", flush=True)
    if args.record_as and "local" in runs:
        document[args.record_as] = runs["local"]["dag_runs_s"]
        if {"small_night_s", "small_night_before_s"} <= set(document):
            document["small_night_over_before"] = round(document["small_night_s"] / document["small_night_before_s"], 3)
    if {"local", "cluster"} <= set(runs):
        runs["cluster_over_local"] = round(runs["cluster"]["wall_s"] / runs["local"]["wall_s"], 3)
    document["runs"][str(args.people)] = runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps(runs, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
