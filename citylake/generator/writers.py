"""Writing extracts as departments deliver them, with line-level damage, and their ground truth.

Formats: CSV in the contract's encoding (GBK, GB18030, UTF-8, with a byte-order mark where the
department exports from Excel), Excel workbooks (.xlsx, a new sheet every 1,048,575 rows), JSON
Lines, and exchange-database tables (staged as UTF-8 CSV with their row key and batch date, then
loaded into PostgreSQL by ``citylake generate``). Line-level noise, per delivered record:

  duplicate_row      the same record delivered twice (2%; the copy comes at the end, and is the
                     one kept: the earlier line is quarantined, STD-DUPLICATE)
  malformed_line     CSV: an extra field; JSON Lines: a line cut short; xlsx: a cell beyond the
                     header (0.3%) -> quarantined at landing
  undecodable_line   bytes that are not in the declared encoding (0.1%, CSV and JSON Lines)
                     -> quarantined at landing

Every delivered line gets a truth row: line number (as landing numbers it), the true party,
the expected outcome and the other parties it mentions.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterable

from citylake.contracts import Contract
from citylake.generator.extracts import Record
from citylake.generator.noise import NOISE, Dice

BOM = b"\xef\xbb\xbf"
WITH_BOM = {"death_certificates", "administrative_licences", "administrative_penalties"}
XLSX_ROWS_PER_SHEET = 1_048_575  # a sheet holds 1,048,576 rows, the header among them
TRUTH_COLUMNS = ["line_number", "truth_key", "outcome", "related"]


@dataclass
class Written:
    """Counts of what was delivered, as every layer should end up with them."""

    rows_read: int = 0
    landing_quarantined: int = 0
    standardise_quarantined: int = 0
    digests: dict[str, int] = field(default_factory=dict)  # record key -> hash of its values

    def expected(self) -> dict[str, int]:
        landed = self.rows_read - self.landing_quarantined
        return {
            "rows_read": self.rows_read,
            "landed": landed,
            "landing_quarantined": self.landing_quarantined,
            "standardised": landed - self.standardise_quarantined,
            "standardise_quarantined": self.standardise_quarantined,
        }


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def record_digest(record: Record) -> int:
    return hash(tuple((column, _text(value)) for column, value in record.values.items()))


class _Delivery:
    """Counts, truth rows and damage for one extract, whatever its format."""

    def __init__(self, contract: Contract, seed: int, truth_path: Path, keep_digests: bool):
        self.contract, self.seed = contract, seed
        self.columns = [column.source for column in contract.columns]
        self.written = Written()
        self.keep_digests = keep_digests
        truth_path.parent.mkdir(parents=True, exist_ok=True)
        self._truth_file = truth_path.open("w", encoding="utf-8", newline="")
        self._truth = csv.writer(self._truth_file)
        self._truth.writerow(TRUTH_COLUMNS)
        self.resent: list[Record] = []

    def damage(self, record: Record, allowed: tuple[str, ...]) -> str | None:
        """Which line damage this record suffers, if any; notes re-sent copies."""
        dice = Dice(self.seed, self.contract.name + "#line", record.key)
        rates = NOISE["line"]
        if dice.chance(rates["duplicate_row"]):
            self.resent.append(record)
        draw = dice.random()
        if "malformed" in allowed and draw < rates["malformed_line"]:
            return "malformed"
        if "undecodable" in allowed and draw < rates["malformed_line"] + rates["undecodable_line"]:
            return "undecodable"
        return None

    def record(self, line_number: int, record: Record, damaged: bool, copy: bool = False) -> None:
        outcome = "landing_quarantine" if damaged else record.outcome
        if not copy and not damaged and self.resent and self.resent[-1] is record:
            # its copy comes later and lands: the contract's duplicates rule (latest) keeps the copy
            outcome = "standardise_quarantine"
        self.written.rows_read += 1
        if damaged:
            self.written.landing_quarantined += 1
        elif outcome == "standardise_quarantine":
            self.written.standardise_quarantined += 1
        if self.keep_digests and not copy:
            self.written.digests[record.key] = record_digest(record)
        self._truth.writerow([line_number, record.truth_key, outcome, record.related])

    def values(self, record: Record) -> list:
        return [record.values.get(column, "") for column in self.columns]

    def close(self) -> Written:
        self._truth_file.close()
        return self.written


def write_csv(contract: Contract, records: Iterable[Record], path: Path, truth: Path, seed: int,
              keep_digests: bool = False) -> Written:
    delivery = _Delivery(contract, seed, truth, keep_digests)
    encoding = contract.encoding
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="")

    def line(values: list) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_text(v) for v in values])
        return buffer.getvalue()

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        if contract.name in WITH_BOM:
            out.write(BOM)
        out.write((line(delivery.columns) + "\n").encode(encoding))

        def encode(record: Record, damage: str | None) -> bytes:
            text = line(delivery.values(record))
            if damage == "malformed":
                text += ",多余字段"
            raw = text.encode(encoding)
            if damage == "undecodable":
                cut = raw.index(b",") + 1
                raw = raw[:cut] + b"\xff\xfe" + raw[cut:]
            return raw

        _write_lines(out, delivery, records, encode, header_lines=1)
    return delivery.close()


def _write_lines(out, delivery: "_Delivery", records: Iterable[Record], encode, header_lines: int) -> None:
    """One line per record, then per re-sent copy (never damaged), numbered after the header
    lines: ``encode(record, damage)`` gives a line's bytes, ``damage`` "malformed",
    "undecodable" or None."""
    line_number = header_lines

    def emit(record: Record, copy: bool) -> None:
        nonlocal line_number
        line_number += 1
        damage = None if copy else delivery.damage(record, ("malformed", "undecodable"))
        out.write(encode(record, damage) + b"\n")
        delivery.record(line_number, record, damage is not None, copy)

    for record in records:
        emit(record, False)
    for record in delivery.resent:
        emit(record, True)


def write_jsonl(contract: Contract, records: Iterable[Record], path: Path, truth: Path, seed: int,
                keep_digests: bool = False) -> Written:
    delivery = _Delivery(contract, seed, truth, keep_digests)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:

        def encode(record: Record, damage: str | None) -> bytes:
            values = {column: record.values[column] for column in delivery.columns if column in record.values}
            raw = json.dumps(values, ensure_ascii=False, default=_text).encode("utf-8")
            if damage == "malformed":
                raw = raw[: len(raw) // 2]
            elif damage == "undecodable":
                raw = raw[:2] + b"\xff\xfe" + raw[2:]
            return raw

        _write_lines(out, delivery, records, encode, header_lines=0)
    return delivery.close()


def write_xlsx(contract: Contract, records: Iterable[Record], path: Path, truth: Path, seed: int,
               keep_digests: bool = False) -> Written:
    from openpyxl import Workbook

    delivery = _Delivery(contract, seed, truth, keep_digests)
    workbook = Workbook(write_only=True)
    sheet, rows_on_sheet, line_number = None, XLSX_ROWS_PER_SHEET, 1

    def emit(record: Record, copy: bool) -> None:
        nonlocal sheet, rows_on_sheet, line_number
        if rows_on_sheet == XLSX_ROWS_PER_SHEET:
            sheet = workbook.create_sheet(f"Sheet{len(workbook.worksheets) + 1}")
            sheet.append(delivery.columns)
            rows_on_sheet = 0
        line_number += 1
        rows_on_sheet += 1
        damage = None if copy else delivery.damage(record, ("malformed",))
        values = delivery.values(record)
        sheet.append(values + ["多余字段"] if damage == "malformed" else values)
        delivery.record(line_number, record, damage is not None, copy)

    for record in records:
        emit(record, False)
    for record in delivery.resent:
        emit(record, True)
    if not workbook.worksheets:
        workbook.create_sheet("Sheet1").append(delivery.columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return delivery.close()


def write_exchange_table(contract: Contract, records: Iterable[Record], path: Path, truth: Path,
                         seed: int, run_date: date, keep_digests: bool = False) -> Written:
    """An exchange-database table's night, staged as CSV: the row's number in its night (the
    order column), the batch date, then the columns (citylake/departments_db.py loads it)."""
    assert contract.jdbc is not None
    delivery = _Delivery(contract, seed, truth, keep_digests)
    path.parent.mkdir(parents=True, exist_ok=True)
    night = run_date.isoformat()
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([contract.jdbc.order_column, contract.jdbc.batch_column, *delivery.columns])
        line_number = 0

        def emit(record: Record, copy: bool) -> None:
            nonlocal line_number
            line_number += 1
            if not copy:
                delivery.damage(record, ())
            writer.writerow([line_number, night, *(_text(v) for v in delivery.values(record))])
            delivery.record(line_number, record, False, copy)

        for record in records:
            emit(record, False)
        for record in delivery.resent:
            emit(record, True)
    return delivery.close()
