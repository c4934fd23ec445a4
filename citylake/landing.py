"""Reading a delivered extract line by line so that every row read is accounted for.

Each data line ends in exactly one place: landed (its fields, as delivered, with its line number)
or quarantined (its line number, the reason, and the line as far as it could be decoded). A batch
that cannot be read at all (missing file, empty file, missing required columns) is rejected whole
with a LandingRejected naming the file and what is wrong; nothing of it is written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Iterable

MAX_FIELD_CHARS = 4000


class LandingRejected(ValueError):
    """The whole batch is refused; the message names the file and the reason."""


@dataclass
class QuarantinedLine:
    line_number: int
    rule_id: str  # LAND-ENCODING | LAND-COLUMNS | LAND-OVERSIZED
    reason: str
    raw: str


@dataclass
class ReadResult:
    file: str
    columns: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    quarantined: list[QuarantinedLine] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return len(self.rows) + len(self.quarantined)


def _parse_line(text: str) -> list[str]:
    return next(csv.reader([text]), [])


def read_delimited(
    lines: Iterable[bytes], *, file: str, encoding: str, required: Iterable[str] = ()
) -> ReadResult:
    """Parses CSV bytes line by line: line 1 is the header, data lines are numbered from 2."""
    iterator = iter(lines)
    header_bytes = next(iterator, None)
    if header_bytes is None or not header_bytes.strip():
        raise LandingRejected(f"{file}: empty file, no header line")
    header_encoding = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        header_text = header_bytes.decode(header_encoding).rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise LandingRejected(
            f"{file}: header line is not {encoding} (byte {error.start}); is the declared "
            "encoding right?"
        ) from None
    columns = [name.strip() for name in _parse_line(header_text)]
    missing = [name for name in required if name not in columns]
    if missing:
        raise LandingRejected(f"{file}: missing required column(s) {', '.join(missing)}")
    duplicated = sorted({name for name in columns if columns.count(name) > 1})
    if duplicated:
        raise LandingRejected(f"{file}: duplicated column(s) {', '.join(duplicated)}")

    result = ReadResult(file=file, columns=columns)
    for line_number, raw in enumerate(iterator, start=2):
        stripped = raw.rstrip(b"\r\n")
        if not stripped.strip():
            continue  # a blank line carries no row
        try:
            text = stripped.decode(encoding)
        except UnicodeDecodeError as error:
            result.quarantined.append(
                QuarantinedLine(
                    line_number,
                    "LAND-ENCODING",
                    f"undecodable bytes for {encoding} at byte {error.start}",
                    stripped.decode(encoding, errors="replace"),
                )
            )
            continue
        values = _parse_line(text)
        if len(values) != len(columns):
            reason = f"wrong column count: expected {len(columns)}, found {len(values)}"
            if not raw.endswith(b"\n"):
                reason += " (truncated last line)"
            result.quarantined.append(QuarantinedLine(line_number, "LAND-COLUMNS", reason, text))
            continue
        oversized = [name for name, value in zip(columns, values) if len(value) > MAX_FIELD_CHARS]
        if oversized:
            reason = f"oversized field(s) {', '.join(oversized)} over {MAX_FIELD_CHARS} characters"
            result.quarantined.append(
                QuarantinedLine(line_number, "LAND-OVERSIZED", reason, text[:MAX_FIELD_CHARS])
            )
            continue
        result.rows.append((line_number, values))
    return result

