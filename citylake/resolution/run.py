"""``citylake resolve``: a table in, resolved records and a report out.

    citylake resolve --config resolution/person.yaml --input people.csv --output out/
    citylake resolve --config person --input tonight.parquet --output out/2026-11-24 \\
        --previous out/2026-11-23 [--incremental] [--truth-column truth_key]

Reads CSV (a header line, UTF-8 unless --encoding says otherwise; every column as text) or
Parquet (a file or a folder). Writes into the output folder:

  records/     the input rows with record_key, content_hash, cluster, the id column
               (person_id, entity_id), resolved_by and review_reason (Parquet, or CSV with
               --format csv)
  links/       accepted probabilistic links (record keys, weight, probability)
  review/      pairs for a clerk (probable matches, links across two identified clusters)
  conflicts/   identifier conflicts and ambiguous identifiers (masked identifiers only)
  history/     id changes against --previous (new, merge, split, move, removed)
  model.json   m, u, match share and thresholds, to reuse (--incremental reads it from --previous)
  report.json  pairs, blocks, m/u, thresholds, timings and, with --truth-column, F1 (no
               personal data)

--previous is an earlier output folder: ids are carried over from its records; with
--incremental only the clusters new, changed and deleted records touch are resolved again, with
its model (the rest keep their clusters and ids).
"""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from citylake.resolution.config import ResolutionConfig, load_config
from citylake.resolution.engine import Resolution, resolve
from citylake.resolution.incremental import resolve_incremental
from citylake.resolution.model import Model


class UsageError(ValueError):
    """The command was asked for something it cannot do (reported without a traceback)."""


def read_table(spark: SparkSession, path: str | Path, encoding: str = "utf-8") -> DataFrame:
    """A CSV (header, all text) or Parquet table."""
    location = str(path)
    if location.endswith(".csv") or (Path(location).is_dir() and any(Path(location).glob("*.csv"))):
        return (spark.read.option("header", True).option("encoding", encoding).option("multiLine", False)
                .option("inferSchema", False).csv(location))
    return spark.read.parquet(location)


def write_outputs(result: Resolution, config: ResolutionConfig, output: Path, output_format: str = "parquet") -> None:
    output.mkdir(parents=True, exist_ok=True)
    frames = {"records": result.records, "links": result.links, "review": result.review,
              "conflicts": result.conflicts, "history": result.history}
    for name, frame in frames.items():
        writer = frame.coalesce(1).write.mode("overwrite")
        if output_format == "csv":
            writer.option("header", True).csv(str(output / name))
        else:
            writer.parquet(str(output / name))
    (output / "model.json").write_text(json.dumps(result.model.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    (output / "report.json").write_text(json.dumps(result.report, indent=2, ensure_ascii=False, default=str) + "\n",
                                        encoding="utf-8")


def run(spark: SparkSession, config_path: str | Path, input_path: str | Path, output: str | Path, *,
        previous: str | Path | None = None, incremental: bool = False, truth_column: str | None = None,
        run_date: str = "", encoding: str = "utf-8", output_format: str = "parquet") -> dict:
    """Resolves one table and writes the outputs; returns the report."""
    config = load_config(config_path)
    records = read_table(spark, input_path, encoding)
    output = Path(output)
    previous_records = None
    if previous is not None:
        previous = Path(previous)
        previous_records = read_table(spark, previous / "records")
    if incremental:
        if previous_records is None:
            raise UsageError("--incremental needs --previous (an earlier output folder)")
        model = Model.from_dict(json.loads((previous / "model.json").read_text(encoding="utf-8")))
        result = resolve_incremental(previous_records, records, config, model, salt=run_date,
                                     truth_column=truth_column)
    else:
        previous_ids = None
        if previous_records is not None:
            previous_ids = previous_records.select("record_key", config.ids.column)
        result = resolve(records, config, previous_ids=previous_ids, truth_column=truth_column, salt=run_date)
    result.report["input"] = str(input_path)
    write_outputs(result, config, output, output_format)
    return result.report
