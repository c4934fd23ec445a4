"""Person and organisation tables read straight from a generated night's extracts, with the truth.

For tests and benchmarks of resolution: the extracts the generator wrote (citylake/generator/) are
read line by line as landing numbers them (the header is line 1), lines the truth marks
``landing_quarantine`` (malformed or undecodable) are skipped, and each row gets its true person
or entity key from ``truth/<date>/<source>.csv``. Columns take the standard field names the
resolution configurations read (resolution/person.yaml, resolution/legal_entity.yaml); the record
key is ``<source>:<line number>``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

from citylake import contracts

PERSON_COLUMNS = ["record_key", "source", "identity_number", "name", "sex", "birth_date", "division_code",
                  "address", "truth_key"]
ENTITY_COLUMNS = ["record_key", "source", "credit_code", "organisation_code", "registration_number", "name",
                  "legal_representative", "division_code", "truth_key"]

# source -> standard column -> delivered column
PERSON_SOURCES = {
    "household_registration": {"identity_number": "公民身份号码", "name": "姓名", "sex": "性别",
                               "birth_date": "出生日期", "division_code": "行政区划代码", "address": "户籍地址"},
    "birth_certificates": {"name": "新生儿姓名", "sex": "性别", "birth_date": "出生日期",
                           "division_code": "行政区划代码"},
    "death_certificates": {"identity_number": "身份证件号码", "name": "姓名", "sex": "性别",
                           "birth_date": "出生日期", "division_code": "行政区划代码", "address": "常住地址"},
    "dishonest_debtors": {"identity_number": "cardNum", "name": "iname", "sex": "sexName"},
}
ENTITY_SOURCES = {
    "enterprise_registry": {"credit_code": "统一社会信用代码", "registration_number": "注册号", "name": "企业名称",
                            "legal_representative": "法定代表人", "division_code": "行政区划代码"},
    "social_organisations": {"credit_code": "统一社会信用代码", "name": "社会组织名称",
                             "legal_representative": "法定代表人", "division_code": "行政区划代码"},
    "administrative_licences": {"credit_code": "XK_XDR_SHXYM", "registration_number": "XK_XDR_GSZC",
                                "organisation_code": "XK_XDR_ZZJG", "name": "XK_XDR_MC",
                                "legal_representative": "XK_FRDB"},
    "administrative_penalties": {"credit_code": "CF_XDR_SHXYM", "registration_number": "CF_XDR_GSZC",
                                 "organisation_code": "CF_XDR_ZZJG", "name": "CF_XDR_MC",
                                 "legal_representative": "CF_FRDB"},
    "dishonest_debtors": {"credit_code": "cardNum", "name": "iname", "legal_representative": "businessEntity"},
}
# which rows of a mixed source are about persons, which about organisations
PERSON_ROWS = {"dishonest_debtors": ("partyTypeName", "自然人")}
ENTITY_ROWS = {"dishonest_debtors": ("partyTypeName", "法人或其他组织"),
               "administrative_licences": ("XK_XDR_LB", "法人及非法人组织"),
               "administrative_penalties": ("CF_XDR_LB", "法人及非法人组织")}


def _truth(truth_dir: Path, night: str, source: str) -> dict[int, dict]:
    with (truth_dir / night / f"{source}.csv").open(encoding="utf-8") as handle:
        return {int(row["line_number"]): row for row in csv.DictReader(handle)}


def _rows(contract: contracts.Contract, incoming_dir: Path, night: str):
    """(line number, delivered values by source column) for every line of the extract."""
    path = Path(contract.location_for(str(incoming_dir), night))
    raw = path.read_bytes()
    if contract.format == "jsonl":
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if line.strip():
                try:
                    yield number, json.loads(line.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    continue
        return
    if contract.format == "xlsx":  # one header row per sheet; lines numbered on across sheets
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(raw), read_only=True)
        number = 1
        for sheet in workbook.worksheets:
            rows = sheet.iter_rows(values_only=True)
            header = [str(cell) for cell in next(rows, ())]
            for cells in rows:
                number += 1
                yield number, {column: ("" if cell is None else str(cell)) for column, cell in zip(header, cells)}
        return
    if contract.format != "csv":
        raise ValueError(f"{contract.name}: {contract.format} extracts are not read here")
    encoding = "utf-8-sig" if contract.encoding.lower().replace("_", "-") == "utf-8" else contract.encoding
    lines = raw.split(b"\n")
    header = next(csv.reader([lines[0].decode(encoding)]))
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            values = next(csv.reader(io.StringIO(line.decode(encoding))))
        except (UnicodeDecodeError, StopIteration):
            continue
        if len(values) == len(header):
            yield number, dict(zip(header, values))


def _table(incoming_dir: Path, truth_dir: Path, run_date: date | str, sources: dict, selectors: dict,
           columns: list[str], wanted: list[str] | None) -> list[tuple]:
    night = run_date if isinstance(run_date, str) else f"{run_date:%Y-%m-%d}"
    declared = contracts.load_all()
    table = []
    for source, mapping in sources.items():
        if wanted is not None and source not in wanted:
            continue
        truth = _truth(truth_dir, night, source)
        selector = selectors.get(source)
        for number, values in _rows(declared[source], incoming_dir, night):
            fact = truth.get(number)
            if fact is None or fact["outcome"] == "landing_quarantine":
                continue
            if selector and str(values.get(selector[0])) != selector[1]:
                continue
            row = {"record_key": f"{source}:{number}", "source": source, "truth_key": fact["truth_key"]}
            for standard, delivered in mapping.items():
                value = values.get(delivered)
                row[standard] = None if value in (None, "") else str(value)
            table.append(tuple(row.get(column) for column in columns))
    return table


def person_rows(incoming_dir: Path, truth_dir: Path, run_date: date | str,
                sources: list[str] | None = None) -> list[tuple]:
    """Rows of PERSON_COLUMNS from the person extracts (default: all of PERSON_SOURCES)."""
    return _table(incoming_dir, truth_dir, run_date, PERSON_SOURCES, PERSON_ROWS, PERSON_COLUMNS, sources)


def entity_rows(incoming_dir: Path, truth_dir: Path, run_date: date | str,
                sources: list[str] | None = None) -> list[tuple]:
    """Rows of ENTITY_COLUMNS from the organisation extracts (default: all of ENTITY_SOURCES)."""
    return _table(incoming_dir, truth_dir, run_date, ENTITY_SOURCES, ENTITY_ROWS, ENTITY_COLUMNS, sources)


def person_table(spark, incoming_dir: Path, truth_dir: Path, run_date: date | str, sources: list[str] | None = None):
    return spark.createDataFrame(person_rows(incoming_dir, truth_dir, run_date, sources),
                                 ", ".join(f"{column} string" for column in PERSON_COLUMNS))


def entity_table(spark, incoming_dir: Path, truth_dir: Path, run_date: date | str, sources: list[str] | None = None):
    return spark.createDataFrame(entity_rows(incoming_dir, truth_dir, run_date, sources),
                                 ", ".join(f"{column} string" for column in ENTITY_COLUMNS))


def lake_truth(spark, truth_dir: Path, until: str):
    """The generator's truth of every night up to ``until`` as a frame: night, source,
    _line_number, truth_key, related (the ``role:key`` list: a marriage's wife, a licence's legal
    representative, ...). Every night's: a record an incremental night kept as it was carries the
    batch and line it came in, an earlier night's."""
    rows = []
    for night in sorted(path.name for path in Path(truth_dir).iterdir() if path.is_dir() and path.name <= until):
        for path in sorted((Path(truth_dir) / night).glob("*.csv")):
            with path.open(encoding="utf-8") as handle:
                rows += [(night, path.stem, int(row["line_number"]), row["truth_key"], row["related"])
                         for row in csv.DictReader(handle) if row["outcome"] != "landing_quarantine"]
    return spark.createDataFrame(
        rows, "night string, source string, _line_number long, truth_key string, related string")


def with_truth(records, truth):
    """Resolution records (citylake/base.py: source, _batch_id, _line_number, role) with their true
    key as ``truth``: the line's truth key, or for a marriage's wife the ``wife:`` key."""
    from pyspark.sql import functions as F

    night = F.regexp_extract(F.col("_batch_id"), r"(\d{4}-\d{2}-\d{2})$", 1)
    joined = records.withColumn("night", night).join(truth, ["night", "source", "_line_number"], "left")
    wife = F.regexp_extract(F.col("related"), r"wife:([A-Z0-9]+)", 1)
    return joined.withColumn("truth", F.when(F.col("role") == "wife", wife).otherwise(F.col("truth_key"))
                             ).drop("truth_key", "related")
