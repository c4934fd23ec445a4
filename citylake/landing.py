"""Reading a delivered extract with Spark so that every row read is accounted for.

One entry point for every delivery format a contract declares,
``read_extract(spark, settings, contract, run_date) -> Landed``:

csv    Spark's text source reads each line's raw bytes; they are decoded with the contract's
       encoding (any Java charset: gbk, gb18030, utf-8, utf-8 with a byte-order mark) and split
       into fields by ``from_csv`` (RFC 4180 quoting). Line 1 is the header.
jsonl  the same lines, each a JSON object (``from_json`` as MAP<STRING,STRING>: non-string
       values come back as their JSON text). The columns are the keys seen in the batch: the
       contract's source columns in contract order, then unknown keys (sorted).
xlsx   departments' Excel workbooks, read with openpyxl in the driver (Spark has no xlsx reader)
       and handed to Spark through Arrow in chunks. The first row of the first sheet is the
       header; every sheet with the same header is part of the batch. Dates are written
       yyyy-MM-dd and whole numbers without ".0", as a clerk reads them.
jdbc   the night's rows of a department's exchange table (batch column = run date) over JDBC,
       every column cast to string; the line number is the row's rank by the order column.

Each data line ends in exactly one place: landed (its fields as delivered, all strings, with its
line number) or quarantined (its line number, the rule, the reason, and the line as far as it
could be decoded, cut to MAX_FIELD_CHARS). Rules: LAND-ENCODING (bytes that are not the declared
encoding), LAND-COLUMNS (too few or too many fields, or cells beyond the header), LAND-OVERSIZED
(a field longer than MAX_FIELD_CHARS), LAND-PARSE (a JSON line that is not a JSON object).
Reasons name the file, line, sheet and column, never a value: lines hold identity numbers.

Line numbers are the file's own: the header is line 1 and data lines follow from 2 (JSON Lines
from 1); blank lines carry no row but keep their number. Spark numbers the lines of a file read in
many splits without a sort: rows of one split get consecutive ids, so a line's number is the
count of lines in earlier splits plus its place in its split. That count per split comes from the
same single aggregate that counts the outcomes; each input is read and parsed once (the parsed
lines are kept on the executors' disks until Landed.release()).

A batch that cannot be read at all is rejected whole with a LandingRejected naming the file and
what is wrong, and nothing of it is written: missing file (storage.MissingExtract), empty CSV or workbook,
unreadable header, missing required or duplicated columns, and a wrong declared encoding. A wrong
encoding shows either in the header (it will not decode) or in the lines: when more than
UNDECODABLE_SHARE of a batch's lines do not decode, the batch is refused rather than quarantined
line by line, and charset-normalizer names the encoding the bytes look like. A file with only a
header lands no rows, and so does an empty JSON Lines file (no records that night).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from decimal import Decimal
from typing import Callable, Iterable, Iterator

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

from citylake import identity, storage
from citylake.checkpoint import local_checkpoint
from citylake.contracts import Contract, ContractError, JdbcTable
from citylake.settings import Settings

log = logging.getLogger("citylake.landing")

MAX_FIELD_CHARS = 4000
ENCODING, COLUMNS, OVERSIZED, PARSE = "LAND-ENCODING", "LAND-COLUMNS", "LAND-OVERSIZED", "LAND-PARSE"
SHEET = "LAND-SHEET"  # a workbook's row on a sheet whose header is not the batch's
RULES = (ENCODING, COLUMNS, OVERSIZED, PARSE, SHEET)
LANDED, BLANK = "landed", "blank"  # the other outcomes of a line

# A batch whose lines mostly do not decode was declared in the wrong encoding: damaged lines are
# rare (a tenth of a percent in departments' extracts) while a wrong encoding breaks nearly every
# line that holds Chinese text. Above this share the whole batch is refused.
UNDECODABLE_SHARE = 0.5
UNDECODABLE_MIN_LINES = 10  # below this a batch's damaged lines are quarantined, whatever their share
HEADER_MAX_BYTES = 1 << 20  # the header line must end within the file's first MiB
SAMPLE_BYTES = 1 << 16  # what charset-normalizer looks at
# Parsed lines are kept, as rows on the executors' disks, from the aggregate until written.
KEPT_AS = StorageLevel.DISK_ONLY
CSV_PARSER_MAX_FIELDS = 20_000  # from_csv's parser stops at 20480
XLSX_CHUNK_ROWS = 100_000  # rows per Arrow batch handed from openpyxl to Spark
JDBC_ROWS_PER_PARTITION = 1_000_000  # exchange tables beyond this are read in order-column ranges

QUARANTINED_SCHEMA = StructType(
    [
        StructField("_line_number", IntegerType(), False),
        StructField("rule_id", StringType(), False),
        StructField("reason", StringType(), False),
        StructField("raw", StringType(), True),
    ]
)


class LandingRejected(ValueError):
    """The whole batch is refused; the message names the file and the reason, with any
    identity-number-like run in it (a header cell, a key) masked."""

    def __init__(self, message: object) -> None:
        super().__init__(identity.mask_identity_numbers(str(message)))


@dataclass
class Landed:
    """One batch as read: its rows (every source column a string, as delivered, plus
    ``_line_number``) and its quarantined lines (``_line_number, rule_id, reason, raw``).

    rows_read = rows_landed + rows_quarantined. Call release() (or use ``with``) once written.
    """

    file: str
    columns: list[str]
    rows: DataFrame
    quarantined: DataFrame
    rows_read: int
    rows_landed: int
    rows_quarantined: int
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    kept: list[DataFrame] = field(default_factory=list, repr=False)

    def release(self) -> None:
        """Frees what was kept of the batch's parsed lines (see keep)."""
        for frame in self.kept:
            release(frame)
        self.kept.clear()

    def __enter__(self) -> Landed:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def read_extract(spark: SparkSession, settings: Settings, contract: Contract, run_date: str,
                 limit: int | None = None) -> Landed:
    """The night's extract of a source, read by the reader of its format.

    ``limit`` reads a sample (the first lines or rows) for a preview instead of the whole batch.
    Raises storage.MissingExtract when the extract was never delivered, LandingRejected when the
    batch cannot be read at all.
    """
    incoming = storage.incoming_root(settings)
    try:
        location = contract.location_for(incoming, run_date)
    except ContractError as error:
        raise LandingRejected(str(error)) from None
    if contract.format == "jdbc":
        return read_exchange_table(spark, settings, contract, run_date, limit)
    if not location.startswith("s3://"):
        refuse_links(incoming, location)
    delivery = inspect_delivery(settings, location)
    if contract.format == "xlsx":
        return read_workbook(spark, delivery, contract, limit)
    check_line_encoding(spark, location, contract.encoding)
    lines = sample_lines(spark, delivery, limit) if limit is not None else file_lines(spark, delivery.path)
    if contract.format == "jsonl":
        return read_json_lines(lines, delivery, contract)
    return read_delimited(lines, delivery, contract)


# --- the delivered file, as the driver sees it -------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What the driver learns of a delivered file without reading it whole."""

    location: str  # as the contract names it (s3://... or a path): used in every message
    path: str  # as Spark reads it (s3a://...)
    size: int  # bytes stored (compressed, for a .gz)
    head: bytes  # the first HEADER_MAX_BYTES, decompressed
    ends_with_newline: bool  # taken as true for a compressed file whose head is not all of it

    @property
    def whole(self) -> bool:
        """Whether head holds the whole (decompressed) file."""
        return len(self.head) < HEADER_MAX_BYTES


def refuse_links(incoming: str, location: str) -> None:
    """A local delivery must be a regular file reached from the drop folder through real
    folders: a symbolic link (the file or any folder on its way) could point anywhere."""
    import os
    import stat

    root = os.path.abspath(incoming)
    current = root
    for part in os.path.relpath(os.path.abspath(location), root).split(os.sep):
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            raise storage.MissingExtract(f"{location}: extract not delivered") from None
        if stat.S_ISLNK(mode):
            raise LandingRejected(f"{location}: {os.path.relpath(current, root)} in the drop folder is a "
                                  "symbolic link; deliveries must be regular files")
    if not stat.S_ISREG(os.lstat(location).st_mode):
        raise LandingRejected(f"{location}: not a regular file")
    if os.path.commonpath([os.path.realpath(location), os.path.realpath(root)]) != os.path.realpath(root):
        raise LandingRejected(f"{location}: resolves outside the drop folder")


def spark_path(location: str) -> str:
    return "s3a://" + location.removeprefix("s3://") if location.startswith("s3://") else location


# the compressed files Spark's text source reads through a Hadoop codec, and Python's twin of each
_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstandard"}


def _decompressing(stream, suffix: str):
    if _CODECS[suffix] == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=stream)
    if _CODECS[suffix] == "bz2":
        import bz2

        return bz2.BZ2File(stream)
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(stream)


def inspect_delivery(settings: Settings, location: str) -> Delivery:
    """Size, first bytes and last byte of a delivered file, read from the drop folder or the
    object store by this process (a Spark Connect client reaches no file system through Spark);
    compressed files (.gz, .bz2, .zst) are read through their codec, as Spark's text source reads
    them."""
    suffix = next((name for name in _CODECS if location.lower().endswith(name)), None)
    if location.startswith("s3://"):
        bucket, key = storage.split_s3(location)
        client = storage.s3_client(settings)
        try:
            size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except client.exceptions.ClientError as error:
            if storage.not_found(error):
                raise storage.MissingExtract(f"{location}: extract not delivered") from None
            raise
        ranged = (lambda first, last: client.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")["Body"])
        if suffix is None:
            head = ranged(0, HEADER_MAX_BYTES - 1).read() if size else b""
            last = head[-1:] if size <= HEADER_MAX_BYTES else ranged(size - 1, size - 1).read()
            return Delivery(location, spark_path(location), size, head, last in (b"\n", b"\r"))
        opened = client.get_object(Bucket=bucket, Key=key)["Body"]
    else:
        if not os.path.isfile(location):
            raise storage.MissingExtract(f"{location}: extract not delivered")
        size = os.path.getsize(location)
        opened = open(location, "rb")  # noqa: SIM115 - closed below
    try:
        if suffix is None:
            head = opened.read(HEADER_MAX_BYTES)
            if len(head) < HEADER_MAX_BYTES:
                ends_with_newline = head[-1:] in (b"\n", b"\r")
            else:
                opened.seek(size - 1)
                ends_with_newline = opened.read(1) in (b"\n", b"\r")
        else:
            try:
                head = _decompressing(opened, suffix).read(HEADER_MAX_BYTES)
            except Exception as error:  # noqa: BLE001 - gzip, bz2 and zstandard each raise their own
                raise LandingRejected(f"{location}: not a readable {suffix} file ({type(error).__name__})") from None
            ends_with_newline = head[-1:] in (b"\n", b"\r") if len(head) < HEADER_MAX_BYTES else True
    finally:
        opened.close()
    return Delivery(location, spark_path(location), size, head, ends_with_newline)


def file_lines(spark: SparkSession, path: str) -> DataFrame:
    """Every line of a file as its raw bytes, with where it was read (for its line number).

    ``_split`` is the byte offset of the file split the line was read in, ``_row`` an id that
    grows by one from line to line within a split.
    """
    return spark.read.text(path).select(
        F.input_file_block_start().alias("_split"),
        F.monotonically_increasing_id().alias("_row"),
        F.col("value").cast("binary").alias("_bytes"),
    )


def sample_lines(spark: SparkSession, delivery: Delivery, limit: int) -> DataFrame:
    """The first lines of a file (header and ``limit`` more) in the shape of file_lines."""
    lines = delivery.head.splitlines()
    if not delivery.whole:
        lines = lines[:-1]  # the head may end inside a line
    rows = [(0, row, bytearray(line)) for row, line in enumerate(lines[: limit + 1])]
    schema = "_split LONG, _row LONG, _bytes BINARY"
    return spark.createDataFrame(rows, schema)


# --- encodings -----------------------------------------------------------------------------------

_JAVA_CHARSETS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gbk": "GBK", "gb18030": "GB18030",
                  "gb2312": "GB2312", "big5": "Big5", "big5hkscs": "Big5-HKSCS"}


def java_charset(encoding: str) -> str:
    """The Java charset for a contract's (Python) encoding name."""
    name = codecs.lookup(encoding).name
    return _JAVA_CHARSETS.get(name, name)


def check_line_encoding(spark: SparkSession, file: str, encoding: str) -> None:
    """Lines are found and split as bytes: newline, comma, quote and braces must be the ASCII
    bytes (GBK, GB18030, UTF-8... are; UTF-16 is not), and Java must know the charset."""
    plain = codecs.lookup(encoding).name == "utf-8-sig" or '\n,"{}'.encode(encoding) == b'\n,"{}'
    if not plain:
        raise LandingRejected(f"{file}: encoding {encoding} cannot be read line by line (its newlines "
                              "and commas are not single ASCII bytes)")
    try:
        spark.range(1).select(F.decode(F.lit(b"A"), java_charset(encoding))).collect()
    except Exception:  # noqa: BLE001 - Spark's error for an unknown charset differs by version and client
        raise LandingRejected(f"{file}: encoding {encoding} has no Java charset to decode it") from None


def python_codec(encoding: str) -> str:
    """The codec that decodes a header like the Java charset does, byte-order mark aside."""
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8" else name


def detected_encoding(sample: bytes, declared: str, header: bytes | None = None) -> str | None:
    """The encoding charset-normalizer sees in the sample, when it differs from the declared one
    and really decodes the sample (and the header, when given); None otherwise."""
    from charset_normalizer import from_bytes

    cut = sample.rfind(b"\n")
    sample = sample[: cut + 1] if cut > 0 else sample
    best = from_bytes(sample).best()
    if best is None or codecs.lookup(best.encoding).name == codecs.lookup(declared).name:
        return None
    try:
        (header or sample).decode(best.encoding)
    except UnicodeDecodeError:
        return None
    return best.encoding


def wrong_encoding(file: str, declared: str, detected: str) -> LandingRejected:
    return LandingRejected(f"{file}: declared {declared} but the bytes look like {detected} "
                           "(charset-normalizer); fix the contract's encoding")


# --- header and columns --------------------------------------------------------------------------


def contract_spelling(columns: list[str], contract: Contract) -> list[str]:
    """Column names as the contract spells them: a delivered name that differs from a contract
    column only in letter case is that column (Spark and Delta match names ignoring case)."""
    spelled = {column.source.lower(): column.source for column in contract.columns}
    return [spelled.get(name.lower(), name) for name in columns]


def check_columns(file: str, columns: list[str], required: Iterable[str]) -> None:
    """Rejects a batch whose columns cannot be landed as they are."""
    unnamed = [str(position) for position, name in enumerate(columns, start=1) if not name]
    if unnamed:
        raise LandingRejected(f"{file}: column(s) {', '.join(unnamed)} have no name")
    # Spark and Delta take column names case-insensitively
    folded = [name.casefold() for name in columns]
    duplicated = sorted({name for name in columns if folded.count(name.casefold()) > 1})
    if duplicated:
        raise LandingRejected(f"{file}: duplicated column(s) {', '.join(duplicated)}")
    missing = [name for name in required if name not in columns]
    if missing:
        raise LandingRejected(f"{file}: missing required column(s) {', '.join(missing)}")


def csv_header(delivery: Delivery, contract: Contract) -> list[str]:
    """The header's column names (byte-order mark stripped), or the reason the batch is refused."""
    file, encoding = delivery.location, contract.encoding
    first = delivery.head.splitlines()[:1]
    if not first or not first[0].removeprefix(codecs.BOM_UTF8).strip():
        raise LandingRejected(f"{file}: empty file, no header line")
    if len(first[0]) == len(delivery.head) and not delivery.whole:
        raise LandingRejected(f"{file}: header line longer than {HEADER_MAX_BYTES} bytes")
    header = first[0]
    try:
        text = header.decode(python_codec(encoding)).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        detected = detected_encoding(delivery.head[:SAMPLE_BYTES], encoding, header)
        if detected:
            raise wrong_encoding(file, encoding, detected) from None
        raise LandingRejected(f"{file}: header line is not {encoding} (byte {error.start}); is "
                              "the declared encoding right?") from None
    columns = contract_spelling([name.strip() for name in next(csv.reader([text]), [])], contract)
    try:
        check_columns(file, columns, contract.required_columns)
    except LandingRejected:
        # a header that decodes, wrongly, in the declared encoding (UTF-8 read as GBK is mostly
        # valid GBK): name the right encoding when its header holds the required columns
        detected = detected_encoding(delivery.head[:SAMPLE_BYTES], encoding, header)
        if detected:
            in_detected = header.decode(detected).lstrip("\ufeff")
            names = contract_spelling([name.strip() for name in next(csv.reader([in_detected]), [])], contract)
            # a header that reads the same in both (GBK is a part of GB18030) is not the encoding's fault
            if names != columns and all(name in names for name in contract.required_columns):
                raise wrong_encoding(file, encoding, detected) from None
        raise
    return columns


# --- classifying lines (pure DataFrame -> DataFrame) ---------------------------------------------

_BLANK_CHARACTERS = " \t\r\x0b\x0c"
# a field quoted from its start to its closing quote (or to the end of a line that never closes it)
_QUOTED_FIELD = r'(?:^|(?<=,))"(?:[^"]|"")*(?:"|$)'


def _decoded(charset: str) -> Column:
    """The line decoded; bytes that are not the charset become U+FFFD (legacy coding errors)."""
    return F.decode(F.col("_bytes"), charset)


def _other_encoding(charset: str) -> Column:
    """A line of a non-UTF-8 extract (GBK, GB18030...) whose bytes are UTF-8 text beyond ASCII:
    a line pasted in from another system. It would decode, as mojibake (王伟 as 鐜嬩紵), so it
    is told apart by its bytes: Chinese text in GBK is almost never valid UTF-8."""
    if charset == "UTF-8":
        return F.lit(False)
    as_utf8 = F.decode(F.col("_bytes"), "UTF-8")
    return (F.length(as_utf8) < F.octet_length(F.col("_bytes"))) & (F.instr(as_utf8, "\ufffd") == 0)


def _undecodable_reason(text: Column, encoding: str, charset: str) -> Column:
    prefix = F.substring(text, F.lit(1), F.instr(text, "\ufffd") - 1)
    return F.when(F.col("_utf8"), F.lit(f"line is UTF-8, not the declared {encoding} (mixed encodings)")
                  ).otherwise(F.format_string(f"undecodable bytes for {encoding} at byte %d",
                                              F.octet_length(F.encode(prefix, charset))))


def _oversized_reason(names: Column) -> Column:
    return F.format_string(f"oversized field(s) %s over {MAX_FIELD_CHARS} characters", names)


def _first_outcome(*conditions: tuple[Column, str]) -> Column:
    """The outcome of the first condition that holds, else landed."""
    (condition, name), *rest = conditions
    outcome = F.when(condition, F.lit(name))
    for condition, name in rest:
        outcome = outcome.when(condition, F.lit(name))
    return outcome.otherwise(F.lit(LANDED))


def classify_delimited(lines: DataFrame, field_count: int, encoding: str,
                       names: list[str] | None = None) -> DataFrame:
    """Lines (``_split, _row, _bytes``) -> their outcome, reason, raw text and fields ``f0..fn``.

    Outcomes: blank, LAND-ENCODING, LAND-COLUMNS, LAND-OVERSIZED or landed; empty fields are
    "" as delivered. ``names`` (the header's) name the oversized columns in reasons. A line
    without a quote character is split at its commas; only quoted lines go through the CSV
    parser (from_csv, RFC 4180 quoting), which costs five times as much.
    """
    charset = java_charset(encoding)
    names = names or [f"column {position}" for position in range(1, field_count + 1)]
    schema = ", ".join(f"f{position} STRING" for position in range(field_count)) + ", _corrupt STRING"
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt", "escape": '"'}
    decoded = lines.select("_split", "_row", F.octet_length("_bytes").alias("_size"),
                           _decoded(charset).alias("_text"), _other_encoding(charset).alias("_utf8"))
    text = F.col("_text")
    split = decoded.select("_split", "_row", "_size", "_text", "_utf8", F.split(text, ",", -1).alias("_pieces"))
    parsed = split.select(
        "_split", "_row", "_size", "_text", "_utf8", "_pieces",
        # the CSV parser fails the job (quoting the line) past 20480 fields: such a line has the
        # wrong number of fields anyway
        F.when((F.instr(text, '"') > 0) & (F.size("_pieces") <= CSV_PARSER_MAX_FIELDS),
               F.from_csv(text, schema, options)).alias("_quoted"),
    )
    plain, pieces, quoted = F.col("_quoted").isNull(), F.col("_pieces"), F.col("_quoted")
    fields = [
        F.coalesce(F.when(plain, F.get(pieces, position)).otherwise(quoted[f"f{position}"]), F.lit(""))
        for position in range(field_count)
    ]
    # an odd number of quote characters leaves a field open: the parser would read it to the end
    # of the line, but it is no RFC 4180 record (quoted_records joins those whose field closes later)
    open_quote = (F.length(text) - F.length(F.replace(text, F.lit('"'), F.lit("")))) % 2 == 1
    wrong_count = F.when(plain, F.size(pieces) != field_count).otherwise(quoted["_corrupt"].isNotNull() | open_quote)
    # the fields as one array, computed once: the optimizer would otherwise copy each field's
    # expression into every check on it, and a wide extract's plan grows until the driver's heap
    # runs out canonicalising it
    fielded = parsed.select("_split", "_row", "_size", "_text", "_utf8", F.array(*fields).alias("_fields"),
                            wrong_count.alias("_wrong_count"))
    # a field can only be too long on a line with more bytes than MAX_FIELD_CHARS characters
    oversized = (F.col("_size") > MAX_FIELD_CHARS) & F.exists("_fields", lambda value: F.length(value) > MAX_FIELD_CHARS)
    outcome = _first_outcome(
        (F.length(F.btrim(text, F.lit(_BLANK_CHARACTERS))) == 0, BLANK),
        ((F.instr(text, "\ufffd") > 0) | F.col("_utf8"), ENCODING),
        (F.col("_wrong_count"), COLUMNS),
        (oversized, OVERSIZED),
    )
    classified = fielded.select(
        "_split", "_row", "_text", "_utf8", outcome.alias("_outcome"), open_quote.alias("_open"),
        *[F.col("_fields")[position].alias(f"f{position}") for position in range(field_count)],
    )
    found = F.size(F.split(F.regexp_replace(text, _QUOTED_FIELD, ""), ",", -1))
    columns_reason = F.when(
        found != field_count,
        F.format_string(f"wrong column count: expected {field_count}, found %d", found),
    ).otherwise(F.lit(f"fields cannot be split into {field_count} columns (unbalanced quotes)"))
    oversized_names = F.concat_ws(", ", *[F.when(F.length(F.col(f"f{position}")) > MAX_FIELD_CHARS,
                                                 F.lit(name)) for position, name in enumerate(names)])
    return classified.select(
        "_split", "_row", "_outcome", "_open",
        F.when(F.col("_outcome") == ENCODING, _undecodable_reason(text, encoding, charset))
        .when(F.col("_outcome") == COLUMNS, columns_reason)
        .when(F.col("_outcome") == OVERSIZED, _oversized_reason(oversized_names))
        .alias("_reason"),
        _raw(),
        *[f"f{position}" for position in range(field_count)],
    )


def classify_json_lines(lines: DataFrame, encoding: str) -> DataFrame:
    """Lines (``_split, _row, _bytes``) -> their outcome, reason, raw text and ``_record`` (a
    map of the line's keys to their values as text)."""
    charset = java_charset(encoding)
    decoded = lines.select("_split", "_row", _decoded(charset).alias("_text"), _other_encoding(charset).alias("_utf8"))
    text = F.col("_text")
    without_mark = F.when(text.startswith("\ufeff"), F.substring(text, 2, 1 << 30)).otherwise(text)
    parsed = decoded.select(
        "_split", "_row", "_text", "_utf8",
        F.from_json(without_mark, "MAP<STRING,STRING>").alias("_record"),
    )
    record = F.col("_record")
    too_long = F.map_filter(record, lambda key, value: F.length(value) > MAX_FIELD_CHARS)
    # from_json keeps every key of an object, a key given twice too (and F.col()[key] would read
    # the first): keys are matched ignoring case, so one given twice in any spelling is refused
    keys = F.map_keys(record)
    key_twice = F.size(F.array_distinct(F.transform(keys, F.lower))) < F.size(keys)
    not_object = record.isNull() | ~F.rtrim(text, F.lit(_BLANK_CHARACTERS)).endswith("}")
    outcome = _first_outcome(
        (F.length(F.btrim(text, F.lit(_BLANK_CHARACTERS))) == 0, BLANK),
        ((F.instr(text, "\ufffd") > 0) | F.col("_utf8"), ENCODING),
        # from_json reads the first value and ignores what follows: a line is one object
        (not_object | key_twice, PARSE),
        (F.size(too_long) > 0, OVERSIZED),
    )
    classified = parsed.select("_split", "_row", "_text", "_utf8", "_record", outcome.alias("_outcome"),
                               not_object.alias("_not_object"))
    return classified.select(
        "_split", "_row", "_outcome",
        F.when(F.col("_outcome") == ENCODING, _undecodable_reason(text, encoding, charset))
        .when((F.col("_outcome") == PARSE) & F.col("_not_object"), F.lit("not a JSON object"))
        .when(F.col("_outcome") == PARSE, F.lit("a key given twice (keys match ignoring letter case)"))
        .when(F.col("_outcome") == OVERSIZED,
              _oversized_reason(F.array_join(F.array_sort(F.map_keys(too_long)), ", ")))
        .alias("_reason"),
        _raw(),
        F.when(F.col("_outcome") == LANDED, record).alias("_record"),
    )


def _raw() -> Column:
    """A quarantined line as far as it could be decoded, cut to MAX_FIELD_CHARS."""
    quarantined = F.col("_outcome").isin(*RULES)
    return F.when(quarantined, F.substring("_text", 1, MAX_FIELD_CHARS)).alias("_raw")


def keep(frame: DataFrame) -> DataFrame:
    """The frame, computed by the first action on it and kept until released (KEPT_AS).

    A local checkpoint of its rows: Spark's columnar cache (persist) compresses every string column
    as it stores it, which costs more than decoding and parsing the lines did. The price: an
    executor lost before the batch is written fails the job (rerun it) instead of recomputing.
    """
    return local_checkpoint(frame, eager=False, storageLevel=KEPT_AS)


def release(kept: DataFrame) -> None:
    """Frees the rows ``keep`` kept (an in-process session's checkpoint blocks, or a Spark
    Connect server's reference to them, whose blocks its cleaner then frees)."""
    from citylake import spark as citylake_spark

    if citylake_spark.is_remote(kept.sparkSession):
        citylake_spark.release_checkpoint(kept)
    else:
        kept._jdf.queryExecution().analyzed().rdd().unpersist(False)


@contextmanager
def released_on_error(kept: DataFrame) -> Iterator[DataFrame]:
    """Releases what was kept when the batch is rejected (or anything fails) before it is read."""
    try:
        yield kept
    except BaseException:
        release(kept)
        raise


# --- counting and numbering ------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """The one aggregate over a batch's classified lines."""

    splits: list[tuple[int, int, int]]  # (split, its first row id, lines in earlier splits)
    lines: int  # every line, header and blank lines included
    outcomes: dict[str, int]  # per outcome, header excluded
    keys: frozenset[str] = frozenset()  # JSON Lines: the keys of the landed records
    open_quotes: int = 0  # CSV: lines with an odd number of quote characters

    @property
    def rows_read(self) -> int:
        return sum(count for outcome, count in self.outcomes.items() if outcome != BLANK)

    @property
    def quarantined(self) -> dict[str, int]:
        return {rule: self.outcomes[rule] for rule in RULES if self.outcomes.get(rule)}


def tally(classified: DataFrame, header_lines: int, keys: Column | None = None) -> Tally:
    """Counts lines per split and per outcome in one aggregate.

    The header (the first line of the file's first split) is classified like any line; its
    outcome is taken back out of the counts here.
    """
    outcomes = (LANDED, BLANK, *RULES)
    aggregates = [
        F.count(F.lit(1)).alias("lines"),
        F.min("_row").alias("first_row"),
        F.min_by("_outcome", "_row").alias("first_outcome"),
        *[F.count_if(F.col("_outcome") == outcome).alias(outcome) for outcome in outcomes],
    ]
    if keys is not None:
        aggregates.append(F.collect_set(keys).alias("keys"))
    if "_open" in classified.columns:
        aggregates.append(F.count_if("_open").alias("open_quotes"))
    per_split = sorted(classified.groupBy("_split").agg(*aggregates).collect(), key=lambda row: row._split)
    splits, before, counts, seen, opened = [], 0, dict.fromkeys(outcomes, 0), set(), 0
    for row in per_split:
        opened += row["open_quotes"] if "_open" in classified.columns else 0
        splits.append((row._split, row.first_row, before))
        before += row.lines
        for outcome in outcomes:
            counts[outcome] += row[outcome]
        if keys is not None:
            seen.update(key for key_set in row["keys"] for key in key_set)
    if header_lines and per_split:
        counts[per_split[0].first_outcome] -= 1
    return Tally(splits, before, counts, frozenset(seen), opened)


def number_lines(classified: DataFrame, counted: Tally) -> DataFrame:
    """Adds ``_line_number``: lines in earlier splits + place in its split + 1."""
    spark = classified.sparkSession
    offsets = spark.createDataFrame(
        counted.splits or [(0, 0, 0)],
        StructType([StructField("_split", LongType()), StructField("_first_row", LongType()),
                    StructField("_lines_before", LongType())]),
    )
    line_number = F.col("_lines_before") + F.col("_row") - F.col("_first_row") + 1
    return classified.join(F.broadcast(offsets), "_split").withColumn(
        "_line_number", line_number.cast("int")
    )


def quarantined_lines(numbered: DataFrame, counted: Tally, header_lines: int,
                      ends_with_newline: bool = True) -> DataFrame:
    reason = F.col("_reason")
    if not ends_with_newline:
        truncated = (F.col("_line_number") == counted.lines) & (F.col("_outcome") == COLUMNS)
        reason = F.when(truncated, F.concat(reason, F.lit(" (truncated last line)"))).otherwise(reason)
    return numbered.filter(
        (F.col("_line_number") > header_lines) & F.col("_outcome").isin(*RULES)
    ).select(
        # a reason names columns and keys, which a department may have named with an identity number
        "_line_number", F.col("_outcome").alias("rule_id"), identity.mask_identity_numbers_col(reason).alias("reason"),
        F.col("_raw").alias("raw"),
    )


def _landed_rows(numbered: DataFrame, header_lines: int) -> DataFrame:
    return numbered.filter((F.col("_line_number") > header_lines) & (F.col("_outcome") == LANDED))


def _accounted(file: str, columns: list[str], rows: DataFrame, quarantined: DataFrame,
               counted: Tally, kept: list[DataFrame]) -> Landed:
    by_rule = counted.quarantined
    landed = Landed(file, columns, rows, quarantined, counted.rows_read, counted.outcomes[LANDED],
                    sum(by_rule.values()), by_rule, kept)
    assert landed.rows_read == landed.rows_landed + landed.rows_quarantined
    return landed


def _refuse_undecodable(delivery: Delivery, encoding: str, counted: Tally) -> None:
    """Rejects the batch when most of its lines do not decode (UNDECODABLE_SHARE)."""
    undecodable = counted.outcomes[ENCODING]
    if undecodable >= UNDECODABLE_MIN_LINES and undecodable > UNDECODABLE_SHARE * counted.rows_read:
        detected = detected_encoding(delivery.head[:SAMPLE_BYTES], encoding)
        if detected:
            raise wrong_encoding(delivery.location, encoding, detected)
        raise LandingRejected(
            f"{delivery.location}: declared {encoding} but {undecodable} of {counted.rows_read} "
            "lines do not decode; fix the contract's encoding"
        )


# --- readers ------------------------------------------------------------------------------------------


MAX_RECORD_LINES = 50  # a quoted field may hold line breaks; a record spans at most this many lines


def quoted_records(lines: DataFrame, counted: Tally, charset: str) -> DataFrame:
    """Lines (``_split, _row, _bytes``) -> records in the same shape (``_row`` its first line's
    number less one, one split): lines whose quote characters leave a quoted field open are joined
    with the next ones (a newline between) until it closes (RFC 4180). A field that does not close
    within MAX_RECORD_LINES lines, or at all, joins nothing: its lines stay as they are (and are
    quarantined for their unbalanced quotes). One window over the whole file, in one partition:
    taken only for a file that has such lines."""
    from pyspark.sql import Window

    text = _decoded(charset)
    odd = ((F.length(text) - F.length(F.replace(text, F.lit('"'), F.lit("")))) % 2).cast("int")
    numbered = number_lines(lines, counted).select("_line_number", "_bytes", odd.alias("_odd"))
    ordered = Window.orderBy("_line_number")
    before = F.coalesce(F.sum("_odd").over(ordered.rowsBetween(Window.unboundedPreceding, -1)), F.lit(0)) % 2
    starts = F.when(before == 0, F.col("_line_number"))
    record = F.max(starts).over(ordered.rowsBetween(Window.unboundedPreceding, 0))
    grouped = numbered.withColumn("_record", record).groupBy("_record").agg(
        F.sort_array(F.collect_list(F.struct("_line_number", "_bytes"))).alias("_parts"),
        (F.sum("_odd") % 2 == 0).alias("_closed"),
    )
    joined = F.unhex(F.array_join(F.transform("_parts", lambda part: F.hex(part["_bytes"])), "0A"))
    whole = F.col("_closed") & (F.size("_parts") <= MAX_RECORD_LINES)
    one = F.array(F.struct(F.col("_record").alias("_line_number"), joined.alias("_bytes")))
    parts = grouped.select(F.explode(F.when(whole, one).otherwise(F.col("_parts"))).alias("_part"))
    return parts.select(F.lit(0).cast("long").alias("_split"), (F.col("_part._line_number") - 1).cast("long").alias("_row"),
                        F.col("_part._bytes").alias("_bytes"))


def read_delimited(lines: DataFrame, delivery: Delivery, contract: Contract) -> Landed:
    """CSV: header from the driver, lines classified, counted and numbered by Spark; lines that
    leave a quoted field open are read again as records (quoted_records)."""
    import dataclasses

    columns = csv_header(delivery, contract)
    classify = partial(classify_delimited, field_count=len(columns), encoding=contract.encoding, names=columns)
    classified = keep(classify(lines))
    with released_on_error(classified):
        counted = tally(classified, header_lines=1)
    if counted.open_quotes:
        release(classified)
        classified = keep(classify(quoted_records(lines, counted, java_charset(contract.encoding))))
        with released_on_error(classified):
            counted = dataclasses.replace(tally(classified, header_lines=1), lines=counted.lines)
    with released_on_error(classified):
        _refuse_undecodable(delivery, contract.encoding, counted)
    numbered = number_lines(classified, counted)
    rows = _landed_rows(numbered, 1).select(
        *[F.col(f"f{position}").alias(name) for position, name in enumerate(columns)], "_line_number"
    )
    quarantined = quarantined_lines(numbered, counted, 1, delivery.ends_with_newline)
    return _accounted(delivery.location, columns, rows, quarantined, counted, [classified])


KEY_SEPARATOR = "\u0000"  # between a key's lower-case form and its spelling, in the tally


def json_columns(contract: Contract, keys: Iterable[str]) -> dict[str, str]:
    """Column name -> the key it is read from (lower case): the contract's source columns that were
    seen, in contract order, then unknown keys sorted. Keys match ignoring letter case (``keys``
    are ``<lower>\\0<as delivered>``): a contract column keeps the contract's spelling, an unknown
    key the first of its spellings."""
    spellings: dict[str, set[str]] = {}
    for key in keys:
        lowered, _, spelled = key.partition(KEY_SEPARATOR)
        spellings.setdefault(lowered, set()).add(spelled)
    known = {column.source: column.source.lower() for column in contract.columns
             if column.source.lower() in spellings}
    unknown = sorted((min(spelled), lowered) for lowered, spelled in spellings.items()
                     if lowered not in known.values())
    return known | dict(unknown)


def read_json_lines(lines: DataFrame, delivery: Delivery, contract: Contract) -> Landed:
    """JSON Lines: one object per line, numbered from 1; columns are the keys seen.

    A file without lines is a night without records (it lands no rows, as a CSV header alone).
    """
    with released_on_error(keep(classify_json_lines(lines, contract.encoding))) as classified:
        spelled = F.transform(F.map_keys("_record"), lambda key: F.concat(F.lower(key), F.lit(KEY_SEPARATOR), key))
        counted = tally(classified, header_lines=0, keys=spelled)
        _refuse_undecodable(delivery, contract.encoding, counted)
        # a batch none of whose lines landed has no keys to check: it lands no rows, with the
        # contract's columns, as a CSV header alone does
        read_from = (json_columns(contract, counted.keys) if counted.outcomes[LANDED]
                     else {column.source: column.source.lower() for column in contract.columns})
        columns = list(read_from)
        check_columns(delivery.location, columns, contract.required_columns)
    numbered = number_lines(classified, counted)
    lowered = F.transform_keys("_record", lambda key, value: F.lower(key))  # landed records: no key twice
    rows = _landed_rows(numbered, 0).select(
        *[lowered.getItem(key).alias(name) for name, key in read_from.items()], "_line_number"
    )
    quarantined = quarantined_lines(numbered, counted, 0)
    return _accounted(delivery.location, columns, rows, quarantined, counted, [classified])


# --- Excel workbooks ------------------------------------------------------------------------------


def cell_text(value) -> str:
    """A cell as a clerk reads it: dates yyyy-MM-dd, whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    return str(value)


def _header_names(cells: tuple | None) -> list[str]:
    names = [cell_text(cell).strip() for cell in cells or ()]
    while names and not names[-1]:
        names.pop()
    return names


def _csv_text(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


@dataclass
class WorkbookRows:
    """A workbook's records sorted as read: landed ones handed on in columnar chunks of
    XLSX_CHUNK_ROWS (``on_chunk``), quarantined ones kept (they are few)."""

    columns: list[str]
    on_chunk: Callable[[dict[str, list]], None]
    quarantined: list[tuple[int, str, str, str]] = field(default_factory=list)
    landed: int = 0
    _chunk: dict[str, list] | None = None

    def land(self, line_number: int, cells: list[str]) -> None:
        if self._chunk is None:
            self._chunk = {name: [] for name in [*self.columns, "_line_number"]}
        for name, cell in zip(self.columns, cells):
            self._chunk[name].append(cell)
        self._chunk["_line_number"].append(line_number)
        self.landed += 1
        if len(self._chunk["_line_number"]) >= XLSX_CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._chunk is not None:
            self.on_chunk(self._chunk)
            self._chunk = None


def sheet_order(columns: list[str], names: list[str]) -> list[int] | None:
    """Where each of the batch's columns is on a sheet whose header is ``names``: the same
    names in any order (a clerk moved a column) are the batch's; other names are None."""
    if len(names) != len(columns) or sorted(names) != sorted(columns):
        return None
    return [names.index(name) for name in columns]


def sort_workbook_rows(sheets: Iterable[tuple], sorted_rows: WorkbookRows,
                       limit: int | None = None) -> WorkbookRows:
    """Rows of the workbook's sheets -> landed or quarantined; every row with a value is one
    or the other. ``sheets``: (title, rows after its header) or (title, header, rows).

    A sheet with the batch's header, its columns in any order, lands by column name; every row
    of a sheet with another header is quarantined (LAND-SHEET), with the difference named.
    Line numbers run across sheets: the first sheet's header is line 1, its rows 2, 3, ...; a
    later sheet's rows continue the count (its header is not counted again).
    """
    columns = sorted_rows.columns
    line_number = 1
    for sheet in sheets:
        title, names, rows = sheet if len(sheet) == 3 else (sheet[0], columns, sheet[1])
        order = sheet_order(columns, names)
        width = len(names) if order is None else len(columns)
        foreign = None
        if order is None:
            missing = [name for name in columns if name not in names]
            extra = [name for name in names if name not in columns]
            foreign = identity.mask_identity_numbers(
                "the sheet's header is not the first sheet's"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; other {', '.join(extra)}" if extra else "")
                + ("" if missing or extra else "; a column named twice"))
        for row_number, row in enumerate(rows, start=2):
            if limit is not None and sorted_rows.landed + len(sorted_rows.quarantined) >= limit:
                break
            line_number += 1
            cells = [cell_text(value) for value in row]
            if not any(cell.strip() for cell in cells):
                continue  # a blank row carries no record
            where = f"sheet {identity.mask_identity_numbers(title)} row {row_number}"
            beyond = sum(1 for cell in cells[width:] if cell.strip())
            cells = (cells + [""] * width)[:width]
            if order is not None:
                cells = [cells[position] for position in order]
            oversized = [name for name, cell in zip(columns, cells) if len(cell) > MAX_FIELD_CHARS]
            if foreign:
                rule, reason = SHEET, f"{where}: {foreign}"
            elif beyond:
                rule, reason = COLUMNS, f"{where}: {beyond} cell(s) beyond the header's {width} columns"
            elif oversized:
                rule, reason = OVERSIZED, (f"{where}: oversized field(s) {', '.join(oversized)} over "
                                           f"{MAX_FIELD_CHARS} characters")
            else:
                sorted_rows.land(line_number, cells)
                continue
            raw = _csv_text([cell_text(value) for value in row])[:MAX_FIELD_CHARS]
            sorted_rows.quarantined.append((line_number, rule, reason, raw))
    sorted_rows.flush()
    return sorted_rows


def file_bytes(spark: SparkSession, delivery: Delivery) -> bytes:
    """A whole (small) file into the driver, through Spark's binaryFile source."""
    return bytes(spark.read.format("binaryFile").load(delivery.path).select("content").head()[0])


def read_workbook(spark: SparkSession, delivery: Delivery, contract: Contract,
                  limit: int | None = None) -> Landed:
    """xlsx: read in the driver with openpyxl, landed rows handed to Spark through Arrow."""
    import zipfile

    import pandas as pd
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    file = delivery.location
    if delivery.size == 0:
        raise LandingRejected(f"{file}: empty file, not an Excel workbook")
    try:
        workbook = load_workbook(io.BytesIO(file_bytes(spark, delivery)), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError):
        raise LandingRejected(f"{file}: not an Excel workbook (xlsx)") from None
    frames: list[DataFrame] = []
    try:
        sheets = []
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # read every row, whatever size the file claims
            rows = sheet.iter_rows(values_only=True)
            sheets.append((sheet.title, _header_names(next(rows, None)), rows))
        sheets = [(title, contract_spelling(names, contract), rows) for title, names, rows in sheets]
        columns = sheets[0][1] if sheets else []
        if not columns:
            raise LandingRejected(f"{file}: empty workbook, no header row on its first sheet")
        check_columns(file, columns, contract.required_columns)
        other = [title for title, names, _ in sheets if names and sheet_order(columns, names) is None]
        if other:
            log.warning("%s: sheet(s) %s have another header: their rows are quarantined (%s)",
                        file, identity.mask_identity_numbers(", ".join(other)), SHEET)
        schema = StructType([StructField(name, StringType(), True) for name in columns]
                            + [StructField("_line_number", IntegerType(), False)])

        def to_spark(chunk: dict[str, list]) -> None:
            frames.append(spark.createDataFrame(pd.DataFrame(chunk), schema))  # through Arrow

        # every sheet: one whose first row is blank has its rows quarantined too, none dropped
        sorted_rows = sort_workbook_rows(sheets, WorkbookRows(columns, to_spark), limit)
    finally:
        workbook.close()

    rows = frames[0] if frames else spark.createDataFrame([], schema)
    for frame in frames[1:]:
        rows = rows.unionByName(frame)
    quarantined = spark.createDataFrame(
        pd.DataFrame(sorted_rows.quarantined, columns=QUARANTINED_SCHEMA.names), QUARANTINED_SCHEMA
    )
    by_rule = {rule: sum(1 for line in sorted_rows.quarantined if line[1] == rule) for rule in RULES}
    by_rule = {rule: count for rule, count in by_rule.items() if count}
    read = sorted_rows.landed + len(sorted_rows.quarantined)
    return Landed(file, columns, rows, quarantined, read, sorted_rows.landed,
                  len(sorted_rows.quarantined), by_rule)


# --- departments' exchange tables (JDBC) ------------------------------------------------------------


def quote_identifier(name: str) -> str:
    """A column (or one part of a table name) as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_table(name: str) -> str:
    """schema.table (or a bare table name) as SQL identifiers."""
    return ".".join(quote_identifier(part) for part in name.split("."))


def batch_query(table: JdbcTable, run_date: str) -> str:
    """The night's rows of an exchange table; the run date must be a date (and is quoted)."""
    night = dt.date.fromisoformat(run_date).isoformat()
    return (f"SELECT * FROM {quote_table(table.table)} "
            f"WHERE {quote_identifier(table.batch_column)} = '{night}'")


def classify_table_rows(rows: DataFrame, columns: list[str]) -> DataFrame:
    """Rows read in order-column order -> outcome (landed or LAND-OVERSIZED), reason, raw and
    fields ``f0..fn`` as strings; ``_split``/``_row`` number them like file lines."""
    fields = [f"f{position}" for position in range(len(columns))]
    as_text = rows.select(
        F.spark_partition_id().cast("long").alias("_split"),
        F.monotonically_increasing_id().alias("_row"),
        *[F.col(quote_name(name)).cast("string").alias(alias) for name, alias in zip(columns, fields)],
    )
    too_long = [F.coalesce(F.length(alias) > MAX_FIELD_CHARS, F.lit(False)) for alias in fields]
    oversized_names = F.concat_ws(", ", *[F.when(long, F.lit(name)) for long, name in zip(too_long, columns)])
    as_json = F.to_json(F.struct(*[F.col(alias).alias(name) for alias, name in zip(fields, columns)]))
    outcome = F.when(F.greatest(F.lit(False), *too_long), F.lit(OVERSIZED)).otherwise(F.lit(LANDED))
    return as_text.select(
        "_split", "_row", outcome.alias("_outcome"),
        F.when(outcome == OVERSIZED, _oversized_reason(oversized_names)).alias("_reason"),
        F.when(outcome == OVERSIZED, F.substring(as_json, 1, MAX_FIELD_CHARS)).alias("_raw"),
        *fields,
    )


def quote_name(name: str) -> str:
    """A column name for F.col, whatever characters it holds."""
    return "`" + name.replace("`", "``") + "`"


def read_exchange_table(spark: SparkSession, settings: Settings, contract: Contract, run_date: str,
                        limit: int | None = None) -> Landed:
    """jdbc: the night's rows, numbered by their rank in the order column; large nights are read
    in order-column ranges, one partition each."""
    table = contract.jdbc
    location = contract.location_for(storage.incoming_root(settings), run_date)
    db = settings.departments_db

    def reader(**options: str) -> DataFrame:
        return spark.read.format("jdbc").options(
            url=db.jdbc_url, user=db.user, password=db.password, driver="org.postgresql.Driver",
            fetchsize="10000", **options,
        ).load()

    query, order = batch_query(table, run_date), quote_identifier(table.order_column)
    if limit is not None:
        frame = reader(query=f"{query} ORDER BY {order} LIMIT {int(limit)}")
    else:
        night = reader(query=f"SELECT count(*) AS n, min({order}) AS low, max({order}) AS high "
                             f"FROM ({query}) AS night").first()
        if not night.n:
            raise storage.MissingExtract(f"{location}: extract not delivered (no rows for the night)")
        partitions = -(-night.n // JDBC_ROWS_PER_PARTITION)
        if partitions > 1 and isinstance(night.low, int):
            frame = reader(dbtable=f"({query}) AS night", partitionColumn=table.order_column,
                           lowerBound=str(night.low), upperBound=str(night.high + 1),
                           numPartitions=str(partitions))
        else:
            frame = reader(query=query)
    columns = frame.columns
    check_columns(location, columns, contract.required_columns)
    if table.order_column not in columns:
        raise LandingRejected(f"{location}: order column {table.order_column} is not in the table")
    ordered = frame.sortWithinPartitions(quote_name(table.order_column))
    with released_on_error(keep(classify_table_rows(ordered, columns))) as classified:
        counted = tally(classified, header_lines=0)
    numbered = number_lines(classified, counted)
    rows = _landed_rows(numbered, 0).select(
        *[F.col(f"f{position}").alias(name) for position, name in enumerate(columns)], "_line_number"
    )
    quarantined = quarantined_lines(numbered, counted, 0)
    return _accounted(location, columns, rows, quarantined, counted, [classified])
