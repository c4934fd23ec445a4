"""Adding a source: validate every contract, and preview one against a delivered extract.

``citylake sources validate`` prints one line per contract: valid, or what is wrong (file and
field). ``citylake sources preview <name>`` reads a sample of the source's extract, maps it to
the standard fields, standardises it, and shows the mapped rows (personal data masked) and how
many rows each rule of the source's suite would fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from citylake import contracts, identity, quality, storage
from citylake.landing import Landed, quote_name, read_extract
from citylake.masking import mask_name_col
from citylake.settings import Settings
from citylake.standardise import map_columns, standardise


def raw_frame(landed: Landed, source: str, batch: str) -> DataFrame:
    """The landed rows as delivered (all strings) with batch metadata."""
    return landed.rows.select(
        *[F.col(quote_name(name)) for name in landed.columns],
        F.lit(source).alias("_source"),
        F.lit(batch).alias("_batch_id"),
        F.lit(landed.file).alias("_file"),
        F.col("_line_number").cast("int").alias("_line_number"),
        F.current_timestamp().alias("_ingested_at"),
    )


def validate_all(directory: Path = contracts.SOURCES_DIR) -> list[tuple[Path, str | None]]:
    """(contract file, None when valid or the problem) for every contract, none skipped."""
    outcomes = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            contract = contracts.parse(path)
            suite = quality.EXPECTATIONS_DIR / f"standard.{contract.name}.json"
            if not suite.exists():
                raise contracts.ContractError(f"{path}: no suite {suite.name} in expectations/")
            quality.load_suite(f"standard.{contract.name}")
            outcomes.append((path, None))
        except (contracts.ContractError, quality.SuiteError) as error:
            outcomes.append((path, str(error)))
    return outcomes


@dataclass
class Preview:
    source: str
    location: str
    rows_read: int
    unreadable: int
    sample: list[dict]
    violations: dict[str, int]
    rules: list[quality.Rule]


def _masked(frame: DataFrame, contract: contracts.Contract) -> DataFrame:
    """Personal data masked for display: identity numbers 4+4, names keep the surname."""
    columns = []
    for column in contract.columns:
        value = F.col(column.standard)
        if column.personal_data == contracts.PersonalData.sensitive and "identity_number" in column.standard:
            value = identity.mask_col(value)
        elif column.personal_data == contracts.PersonalData.personal and column.standard.endswith("name"):
            value = mask_name_col(value)
        elif column.personal_data != contracts.PersonalData.none:
            value = F.when(value.isNotNull(), F.lit("***"))
        columns.append(value.cast("string").alias(column.standard))
    return frame.select("_line_number", *columns)


def preview(spark: SparkSession, settings: Settings, name: str, run_date: str, limit: int = 1000,
            show: int = 5) -> Preview:
    """A sample of the night's extract (its first ``limit`` rows, read by the same reader as the
    land job), mapped and standardised, with the rule violations it would have."""
    contract = contracts.load(name)
    location = contract.location_for(storage.incoming_root(settings), run_date)
    with read_extract(spark, settings, contract, run_date, limit=limit) as landed:
        raw = raw_frame(landed, name, f"{name}/{run_date}")
        # a column of the contract that the sample does not carry (a JSON key never given)
        absent = [column for column in contract.mapping if column not in landed.columns]
        raw = raw.select("*", *[F.lit(None).cast("string").alias(column) for column in absent])
        checked = standardise(map_columns(raw, contract.mapping), contract).persist()
        _, rules = quality.load_suite(f"standard.{name}")
        violations = quality.violation_counts(checked, rules)
        sample = [row.asDict() for row in
                  _masked(checked, contract).orderBy("_line_number").limit(show).collect()]
        checked.unpersist()
    return Preview(name, location, landed.rows_read, landed.rows_quarantined, sample, violations, rules)
