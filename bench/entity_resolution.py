"""Benchmark: the base libraries' entity resolution against the generator's ground truth.

    .venv/bin/python bench/entity_resolution.py [--sizes 100000 1000000] [--seed 7]

For each size: a city's first night is generated (`citylake generate`, which also loads the
departments' PostgreSQL, started on a free port for the run), landed and standardised, and the
libraries built in full (jobs/build_base.py: population, legal_entity, credit); then its second
night (births, deaths, moves, new cases...) is generated, landed, standardised and built
incrementally (only new and changed records scored against the resolved base). One Spark
application on local[2] does it all, as jobs/*.py functions. The resolution records the lake
holds are then joined to the truth of the line each came from (citylake/resolution/
truth_tables.py) and measured (citylake/resolution/evaluate.py):

  person_precision, person_recall, person_f1   pairwise, over every person record of night one
  person_without_valid_id_f1   pairwise over the pairs with a record lacking a valid identity
                               number (missing, invalid, masked)
  person_cluster_f1            clusters equal to a true person exactly
  entity_f1                    pairwise, organisation records
  clusters_joining_two_numbers persons holding two different valid identity numbers (target 0)
  blocking_pair_completeness   share of true pairs that blocking makes candidates (an engine run
                               with the truth column on night one's person records, not timed)
  pairs_per_record             candidate pairs per person record
  pairs_scored_per_s           the full build's scoring pass: pairs scored / its seconds
  incremental_person_f1, incremental_entity_f1   the same pairwise F1 on night two's records,
                               resolved incrementally
  person_id_stability          share of night one's household-registered persons (true key) who
                               keep their person_id on night two
  full_build_s, incremental_s  the seconds of the build of population, legal_entity and credit in one
                               application, as the nightly run builds them (jobs/build_base.py:
                               build_libraries: the legal entities resolved alongside the
                               population), night one in full, night two incremental;
                               incremental_over_full their ratio. A night's <library>_s is that
                               library's own build, from its start (the first two overlap)

Writes bench/results/entity_resolution.json (the figures per size, and the 1M ones at the top
level with the _1m suffix where the issue names them so); sizes not given keep the figures the
file already holds. For 1M residents give the driver more memory: CITYLAKE_DRIVER_MEMORY=10g.

--reuse-city DIR builds both nights again in a city --keep kept (generated, landed and
standardised once): only the builds run, so a change to them is measured in a fraction of the
time (at 1M, ingest is about as long as the builds); ingest_s is then null. A night's batches
standardised before standard rows had their hash (citylake/standardise.py) get it first, as
standardising them now would give it (not timed).

--city-only DIR generates, lands and standardises both nights of a city (one size) in DIR and
builds nothing: a city for --reuse-city without a first pair of builds (about an hour at 1M).

--timing-only skips night one's quality figures (F1, blocking completeness: the latter resolves
night one's persons once more), which at 1M take about as long as the build; the top-level
quality figures then come from the largest size measured with them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from city_runs import city_environment, departments_db, result_of

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NIGHTS = ("2026-11-23", "2026-11-24")

RUN = r"""
import importlib.util, json, sys, time
from pyspark.sql import functions as F

def job(name):
    spec = importlib.util.spec_from_file_location(name, f"jobs/{name}.py")
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); return module

from citylake import base, contracts, job as citylake_job, lake
from citylake.population import person_records
from citylake.resolution import evaluate, load_config, resolve, truth_tables

night, stage, timing_only, ingest = sys.argv[1], sys.argv[2], sys.argv[3] == "timing", sys.argv[4] == "ingest"
land, standardise, build_base = job("land"), job("standardise"), job("build_base")
settings, spark = citylake_job.start("bench-entity-resolution")
out = {}
t = time.perf_counter()
for name in contracts.load_all() if ingest else ():
    land.land(spark, settings, name, night, "bench")
    standardise.standardise(spark, settings, name, night, "bench")
out["ingest_s"] = round(time.perf_counter() - t, 1) if ingest else None
if stage == "city":  # --city-only: landed and standardised, nothing built
    print("RESULT " + json.dumps(out)); sys.exit(0)
for name in () if ingest else contracts.load_all():  # a city kept before the row hash
    path, batch = lake.path(settings, lake.STANDARD, name), lake.batch_id(name, night)
    if lake.exists(spark, path):
        rows = lake.read(spark, path).filter(F.col("_batch_id") == batch)
        hashed = build_base.with_row_hashes({name: rows})[name]
        if hashed is not rows:  # some lacked it: written as the builds would make it
            lake.replace_where(hashed.localCheckpoint(), path, f"_batch_id = {lake.sql_literal(batch)}")
t = time.perf_counter()  # as the nightly run builds them: one application (jobs/build_base.py: build_libraries)
build_base.build_libraries(spark, settings, ["population", "legal_entity", "credit"], night, "bench")
out["build_s"] = round(time.perf_counter() - t, 1)
built = {library: json.loads((settings.reports_dir / night / "build" / f"{library}.json").read_text())
         for library in ("population", "legal_entity", "credit")}
for library, report in built.items():  # each library's own build, from its start (they overlap)
    out[f"{library}_s"] = report["total"]
t = time.perf_counter()
job("build_curated").build(spark, settings, night)  # the theme tables (bench/analyst_queries.py reads them)
out["curated_s"] = round(time.perf_counter() - t, 1)
report = json.loads((settings.reports_dir / night / "resolution" / "population.json").read_text())
out["mode"] = report["mode"]
out["scoring"] = report.get("scoring")
out["records"] = report.get("records")
out["resolution_seconds"] = report.get("seconds")
out["resolution"] = {}
for library in ("population", "legal_entity"):
    done = json.loads((settings.reports_dir / night / "resolution" / f"{library}.json").read_text())
    out["resolution"][library] = {name: done.get(name) for name in (
        "mode", "records", "new_records", "changed_records", "deleted_records", "touched_clusters",
        "records_reclustered", "seconds")}
out["phases"] = {library: report["seconds"] for library, report in built.items()}
out["golden"] = {library: report.get("golden") for library, report in built.items() if "golden" in report}
truth = truth_tables.lake_truth(spark, settings.truth_dir, night)

def resolved(library):
    records = base.records_as_of(lake.read(spark, lake.path(settings, lake.BASE, f"{library}_records")), night)
    if "role" not in records.columns:
        records = records.withColumn("role", F.lit(None).cast("string"))
    return truth_tables.with_truth(records, truth).localCheckpoint()

people = resolved("population")
out["household_ids"] = {r.truth: r.person_id for r in people.where(F.col("source") == "household_registration")
                        .select("truth", "person_id").collect()}
if stage == "incremental" and not timing_only:  # the incremental night's own quality
    out["person"] = evaluate.scores(people, "person_id", "truth")
    out["entity"] = evaluate.scores(resolved("legal_entity"), "entity_id", "truth")
if stage == "full" and not timing_only:
    out["person"] = evaluate.scores(people, "person_id", "truth")
    no_id = people.withColumn("no_id", F.col("resolved_by") != "identity_number")
    out["person_without_valid_id"] = evaluate.pairwise_involving(no_id, "person_id", "truth", "no_id")
    out["clusters_joining_two_numbers"] = (
        people.where(F.col("resolved_by") == "identity_number").groupBy("person_id")
        .agg(F.countDistinct("identity_number").alias("n")).where("n > 1").count())
    out["entity"] = evaluate.scores(resolved("legal_entity"), "entity_id", "truth")
    # blocking completeness: the engine once more on the same records, with the truth column
    standards, _ = build_base.standard_tables(spark, settings, "population", night)
    records = truth_tables.with_truth(person_records(standards), truth)
    check = resolve(records, load_config("resolution/person.yaml"), truth_column="truth")
    out["blocking"] = check.report["blocking"]
print("RESULT " + json.dumps(out, default=str))
"""


def _run(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result, time.perf_counter() - started


def measure(people: int, seed: int, work: Path, timing_only: bool = False, reuse: bool = False) -> dict:
    """Both nights of a ``people`` city in ``work``: generated, landed, standardised and built; or,
    with ``reuse``, ``work`` already holds both nights landed and standardised (``--keep``'s
    folder): only the build is run again, from night one in full (its base tables removed first)."""
    from citylake.settings import COMPILE_HUGE_METHODS, DRIVER_JAVA_OPTIONS

    # the base libraries' jobs compile the scoring stage's huge method (citylake/orchestration.py)
    env = city_environment(work) | {"CITYLAKE_DRIVER_JAVA_OPTIONS": f"{DRIVER_JAVA_OPTIONS} {COMPILE_HUGE_METHODS}"}
    python = str(ROOT / ".venv" / "bin" / "python")
    nights = {}
    if reuse:
        _clear_build(work)
    with contextlib.nullcontext() if reuse else departments_db(env):
        for number, night in enumerate(NIGHTS, start=1):
            if not reuse:
                _generate(people, seed, night, number, env)
            done, _ = _run([python, "-c", RUN, night, "full" if number == 1 else "incremental",
                            "timing" if timing_only else "quality", "reuse" if reuse else "ingest"], env)
            nights[night] = result_of(done.stdout)
            print(f"  {people} residents, night {number}: built in {nights[night]['build_s']} s "
                  f"({nights[night]['mode']})", flush=True)
    first, second = nights[NIGHTS[0]], nights[NIGHTS[1]]
    before, after = first.pop("household_ids"), second.pop("household_ids")
    both = set(before) & set(after)
    scoring = first["scoring"] or {}
    run = {
        "people": people,
        "person_records": first["records"],
        "pairs_scored": scoring.get("pairs_scored"),
        "pairs_scored_per_s": round(scoring["pairs_scored"] / scoring["seconds"]) if scoring.get("seconds") else None,
        "person_id_stability": round(sum(before[t] == after[t] for t in both) / len(both), 6),
        "full_build_s": first["build_s"],
        "incremental_s": second["build_s"],
        "incremental_over_full": round(second["build_s"] / first["build_s"], 3),
        "incremental_mode": second["mode"],
        "timing_only": timing_only,
        "nights": nights,
    }
    if timing_only:
        return run
    person, entity = first["person"], first["entity"]
    return run | {
        "person_precision": person["pairwise"]["precision"],
        "person_recall": person["pairwise"]["recall"],
        "person_f1": person["pairwise"]["f1"],
        "person_without_valid_id_f1": round(first["person_without_valid_id"]["f1"], 6),
        "person_cluster_f1": person["cluster"]["f1"],
        "entity_f1": entity["pairwise"]["f1"],
        "clusters_joining_two_numbers": first["clusters_joining_two_numbers"],
        "blocking_pair_completeness": first["blocking"].get("pair_completeness"),
        "pairs_per_record": first["blocking"].get("candidate_pairs_per_record"),
        # night two, resolved incrementally: its own quality against the truth
        "incremental_person_f1": second["person"]["pairwise"]["f1"],
        "incremental_entity_f1": second["entity"]["pairwise"]["f1"],
    }


def _generate(people: int, seed: int, night: str, number: int, env: dict[str, str]) -> float:
    """A city's night ``number`` generated (`citylake generate`); its seconds."""
    return _run([str(ROOT / ".venv" / "bin" / "citylake"), "generate", "--people", str(people), "--seed", str(seed),
                 "--date", night, "--night", str(number), "--no-progress"], env)[1]


def keep_city(people: int, seed: int, work: Path) -> None:
    """Both nights of a ``people`` city generated, landed and standardised in ``work``, nothing
    built: a city for ``--reuse-city`` (night two's ingest does not read night one's libraries)."""
    env = city_environment(work)
    python = str(ROOT / ".venv" / "bin" / "python")
    with departments_db(env):
        for number, night in enumerate(NIGHTS, start=1):
            generated = _generate(people, seed, night, number, env)
            done, _ = _run([python, "-c", RUN, night, "city", "timing", "ingest"], env)
            print(f"  {people} residents, night {number}: generated in {generated:.1f} s, "
                  f"landed and standardised in {result_of(done.stdout)['ingest_s']} s", flush=True)


def _clear_build(work: Path) -> None:
    """Removes what the builds wrote in a kept city's folder (the base and theme layers, the
    nights' resolution and build reports), so its nights are built again as the first time."""
    if not (work / "lake" / "standard").is_dir():
        sys.exit(f"--reuse-city {work}: no lake/standard there (keep a city with --keep first)")
    for layer in ("base", "theme"):
        shutil.rmtree(work / "lake" / layer, ignore_errors=True)
    for night in NIGHTS:
        for folder in ("resolution", "build"):
            shutil.rmtree(work / "reports" / night / folder, ignore_errors=True)


def size_label(people: int) -> str:
    return {100_000: "100k", 1_000_000: "1m"}.get(people, str(people))


def summarise(runs: dict[int, dict], scoring_file: Path) -> dict:
    """The top-level figures: each size's build seconds, the largest size's id stability and
    incremental ratio, the quality figures of the largest size measured with them, and
    the scorer's throughput from bench/resolution_scoring.py (a build's own scoring pass scores
    few pairs per record, so its pairs per second mostly measures the blocking join around them:
    kept as pairs_scored_per_s_in_build)."""
    summary: dict = {"machine": f"{os.cpu_count()} cores, Spark local[2]"}
    for people, run in sorted(runs.items()):
        label = size_label(people)
        for key in ("full_build_s", "incremental_s"):
            summary[f"{key}_{label}"] = run[key]
    largest = runs[max(runs)]
    with_quality = [people for people, run in runs.items() if not run.get("timing_only")]
    if with_quality:
        measured = runs[max(with_quality)]
        summary |= {key: measured[key] for key in (
            "person_f1", "person_precision", "person_recall", "person_without_valid_id_f1", "entity_f1",
            "person_cluster_f1", "clusters_joining_two_numbers", "blocking_pair_completeness", "pairs_per_record")}
        summary["quality_measured_at_people"] = measured["people"]
    summary |= {key: largest[key] for key in ("person_id_stability", "incremental_over_full")}
    summary["pairs_scored_per_s_in_build"] = largest["pairs_scored_per_s"]
    if scoring_file.exists():
        summary["pairs_scored_per_s"] = json.loads(scoring_file.read_text())["engine_pairs_per_second"]
        summary["pairs_scored_per_s_from"] = "bench/results/resolution_scoring.json (engine_pairs_per_second)"
    summary["measured_at_people"] = max(runs)
    summary["runs"] = {str(people): run for people, run in sorted(runs.items())}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "entity_resolution.json")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the largest city's data folder here (for bench/analyst_queries.py)")
    parser.add_argument("--reuse-city", type=Path, default=None,
                        help="build again a city --keep kept (one size: the city's): no generating or ingest")
    parser.add_argument("--city-only", type=Path, default=None,
                        help="generate, land and standardise both nights of a city (one size) in this folder, "
                             "build nothing: a city for --reuse-city")
    parser.add_argument("--timing-only", action="store_true",
                        help="skip night one's F1 and blocking completeness (see the module doc)")
    parser.add_argument("--summarise-only", action="store_true",
                        help="measure nothing: rewrite the summary from the runs the results file holds")
    args = parser.parse_args(argv)
    if args.reuse_city is not None and (len(args.sizes) != 1 or args.keep is not None):
        parser.error("--reuse-city: give the city's one size in --sizes, and no --keep")
    if args.city_only is not None:
        if len(args.sizes) != 1:
            parser.error("--city-only: give the city's one size in --sizes")
        shutil.rmtree(args.city_only, ignore_errors=True)
        args.city_only.mkdir(parents=True)
        keep_city(args.sizes[0], args.seed, args.city_only.resolve())
        return 0
    runs = {}
    for people in [] if args.summarise_only else args.sizes:
        if args.reuse_city is not None:
            runs[people] = measure(people, args.seed, args.reuse_city.resolve(), args.timing_only, reuse=True)
        else:
            work = Path(tempfile.mkdtemp(prefix=f"citylake-bench-er-{people}-", dir="/tmp"))
            try:
                runs[people] = measure(people, args.seed, work, args.timing_only)
            finally:
                if args.keep is not None and people == max(args.sizes):
                    shutil.rmtree(args.keep, ignore_errors=True)
                    shutil.move(str(work), args.keep)
                else:
                    shutil.rmtree(work, ignore_errors=True)
        print(json.dumps({k: v for k, v in runs[people].items() if k != "nights"}, indent=2), flush=True)
    earlier = json.loads(args.out.read_text()) if args.out.exists() else {}
    # sizes not measured this time keep their last figures, and so does a note of a partial run
    runs = {int(people): run for people, run in earlier.get("runs", {}).items()} | runs
    summary = summarise(runs, HERE / "results" / "resolution_scoring.json")
    labels = {size_label(people) for people in runs}
    summary |= {key: value for key, value in earlier.items()
                if key.startswith("partial_") and key.removeprefix("partial_") not in labels}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
