"""Source contracts: one YAML file per department extract, validated by a typed model.

A broken contract fails with the file and the field named, for example
``sources/household_registration.yaml: columns.0.personal_data: Input should be 'none', ...``.
Contracts are department input and checked as hostile: a source name is a plain identifier
(SOURCE_NAME), a location a template that can only address a file under ``{incoming}``
(only the ``{incoming}`` and ``{run_date}`` placeholders, no ``..``, no absolute part after it),
and a file that is too large, too deep or not YAML is a ContractError, never a crash.
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import re
import string
from enum import Enum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from citylake.settings import PROJECT_ROOT

SOURCES_DIR = PROJECT_ROOT / "sources"
log = logging.getLogger("citylake.contracts")


# a source's name becomes a file name, a table name and a DAG id: a plain identifier
SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
RUN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_CONTRACT_BYTES = 256 * 1024  # a contract is a page of YAML; anything larger is refused unread
PLACEHOLDERS = frozenset({"incoming", "run_date"})
# what a night does with several rows of one key (the contract's keys, as standardised): keep the
# one delivered last and quarantine the others, quarantine them all, or fail the night's gate
DUPLICATE_RULES = ("latest", "keep", "quarantine", "fail")


class ContractError(ValueError):
    pass


def checked_source_name(name: str) -> str:
    """The name, when it is a source's plain identifier; ContractError otherwise."""
    if not isinstance(name, str) or not SOURCE_NAME.fullmatch(name):
        raise ContractError(f"source name {name[:80]!r} is not a plain identifier "
                            f"(lower-case letters, digits, underscores)")
    return name


def checked_run_date(run_date: str) -> str:
    """The night as YYYY-MM-DD, when it is a real date; ValueError otherwise."""
    if not isinstance(run_date, str) or not RUN_DATE.fullmatch(run_date):
        raise ValueError(f"run date {str(run_date)[:40]!r} is not YYYY-MM-DD")
    return dt.date.fromisoformat(run_date).isoformat()


def location_problem(template: str) -> str | None:
    """What is wrong with a location template, or None: it must start at ``{incoming}/``, hold
    ``{run_date}``, name no other placeholder (no index, attribute or format spec) and no
    ``..`` or empty segment, so that it can only resolve to a file under the drop folder."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"not a valid template ({error})"
    fields = [(name, spec, conversion) for _, name, spec, conversion in parts if name is not None]
    odd = [name for name, spec, conversion in fields if name not in PLACEHOLDERS or spec or conversion]
    if odd:
        return (f"placeholder(s) {', '.join(repr('{' + n + '}') for n in odd)} not allowed: only "
                "{incoming} and {run_date}")
    if "run_date" not in [name for name, _, _ in fields]:
        return "location must contain {run_date}"
    if not template.startswith("{incoming}/") or template.count("{incoming}") != 1:
        return "location must start with {incoming}/ (the drop folder) and name it once"
    rest = template.removeprefix("{incoming}/")
    segments = rest.split("/")
    if any(segment in ("", ".", "..") for segment in segments) or "\\" in rest or "\x00" in rest:
        return "location must not hold '..', '.', empty segments, backslashes or NUL"
    return None


def inside(root: str, location: str) -> bool:
    """Whether ``location`` (a resolved template) is a path strictly under ``root``."""
    root = root.rstrip("/")
    if not location.startswith(root + "/"):
        return False
    rest = location[len(root) + 1:]  # a root may be a URI (s3://bucket/incoming): only the rest is normalised
    return all(segment not in ("", ".", "..") for segment in rest.split("/")) and \
        not posixpath.normpath(rest).startswith("..")


class PersonalData(str, Enum):
    none = "none"
    personal = "personal"  # names, addresses, birth dates
    sensitive = "sensitive"  # identity numbers, ethnicity (PIPL art. 28)


# What a column means, which decides how it is standardised (citylake/standardise.py).
Kind = Literal[
    "identity_number",  # 公民身份号码: 18 (or old 15) characters, GB 11643
    "masked_identity_number",  # as courts publish it: 3423011964****3224
    "credit_code",  # 统一社会信用代码, GB 32100
    "organisation_code",  # 组织机构代码, GB 11714 (9 characters)
    "registration_number",  # 注册号, 15 digits, MOD 11,10
    "taxpayer_id",  # 纳税人识别号: a credit code, or division (6) + organisation code (9)
    "party_id",  # a credit record's counterparty id: identity number or credit/organisation code
    "person_name",
    "company_name",
    "party_name",  # a credit record's counterparty: a person's or an organisation's name
    "address",
    "date",
    "sex",  # GB/T 2261.1
    "ethnicity",  # GB/T 3304
    "division_code",  # GB/T 2260
    "phone",
    "decimal",
    "integer",
    "code",  # a value from a short list, kept as delivered but trimmed
    "text",
]


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    standard: str
    type: Literal["string", "date", "decimal", "integer"]
    required: bool
    personal_data: PersonalData
    kind: Kind = "text"


class JdbcTable(BaseModel):
    """A department database table (前置库 exchange table) read over JDBC."""

    model_config = ConfigDict(extra="forbid")

    table: str  # schema.table in the departments' database (settings.departments_db)
    batch_column: str  # the night's rows are those whose batch column equals the run date
    order_column: str  # a unique, stable row key; its rank is the row's line number


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    department: str
    dataset: str
    library: Literal["population", "legal_entity", "credit"]
    format: Literal["csv", "jsonl", "xlsx", "jdbc"]
    encoding: str = "utf-8"  # csv and jsonl; xlsx and jdbc carry their own
    location: str | None = None  # files: a path or URI pattern with {incoming} and {run_date}
    jdbc: JdbcTable | None = None  # format jdbc: where the rows are
    schedule: str
    keys: list[str]
    columns: list[Column]
    freshness_days: int = 1  # the newest published batch may be at most this old
    duplicates: Literal[DUPLICATE_RULES] = "latest"  # rows of one key in a night (DUPLICATE_RULES)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not SOURCE_NAME.fullmatch(value):
            raise ValueError("must be a plain identifier (lower-case letters, digits, underscores)")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as error:
            raise ValueError(f"unknown encoding {value!r}") from error
        return value

    @field_validator("location")
    @classmethod
    def _dated_location(cls, value: str | None) -> str | None:
        problem = None if value is None else location_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _located(self) -> Contract:
        if self.format == "jdbc":
            if self.jdbc is None or self.location is not None:
                raise ValueError("a jdbc source declares jdbc: {table, batch_column, order_column} "
                                 "and no location")
        elif self.location is None or self.jdbc is not None:
            raise ValueError(f"a {self.format} source declares a location and no jdbc table")
        return self

    @model_validator(mode="after")
    def _keys_are_standard_fields(self) -> Contract:
        standard = {column.standard for column in self.columns}
        unknown = [key for key in self.keys if key not in standard]
        if unknown:
            raise ValueError(f"keys {unknown} are not standard fields of this contract")
        return self

    @property
    def required_columns(self) -> list[str]:
        return [column.source for column in self.columns if column.required]

    @property
    def mapping(self) -> dict[str, str]:
        """Source column name -> standard field name."""
        return {column.source: column.standard for column in self.columns}

    def location_for(self, incoming: str, run_date: str) -> str:
        """Where the night's extract is: a file path or URI under ``incoming``, or for jdbc
        ``jdbc:<table>``. ContractError when it would resolve outside the drop folder."""
        run_date = checked_run_date(run_date)
        if self.jdbc is not None:
            return f"jdbc:{self.jdbc.table}?{self.jdbc.batch_column}={run_date}"
        problem = location_problem(self.location)
        location = None if problem else self.location.format(incoming=incoming, run_date=run_date)
        if problem or not inside(incoming, location):
            raise ContractError(f"source {self.name}: location {self.location!r} does not stay "
                                f"inside the drop folder ({problem or 'resolves outside it'})")
        return location

    def column(self, standard: str) -> Column:
        return next(column for column in self.columns if column.standard == standard)


def parse(path: Path) -> Contract:
    """The contract in ``path``, or a ContractError naming the file and what is wrong."""
    try:
        if path.is_symlink() or not path.is_file():
            raise ContractError(f"{path}: not a regular file")
        if path.stat().st_size > MAX_CONTRACT_BYTES:
            raise ContractError(f"{path}: larger than {MAX_CONTRACT_BYTES} bytes; not read")
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ContractError(f"{path}: not valid YAML: {error}") from None
    except UnicodeDecodeError as error:
        raise ContractError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except RecursionError:
        raise ContractError(f"{path}: YAML nested too deeply to be a contract") from None
    if not isinstance(document, dict):
        raise ContractError(f"{path}: (top): a contract is a mapping of fields, not {type(document).__name__}")
    try:
        contract = Contract.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or '(top)'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ContractError(f"{path}: {problems}") from None
    if contract.name != path.stem:
        raise ContractError(f"{path}: name: {contract.name!r} must equal the file name")
    return contract


def load_each(directory: Path | None = None) -> tuple[dict[str, Contract], dict[str, str]]:
    """(valid contracts by name, broken ones: file stem -> what is wrong) of every contract in
    ``directory`` (default SOURCES_DIR): a broken contract disables its own source only."""
    directory = SOURCES_DIR if directory is None else directory
    valid, broken = {}, {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            contract = parse(path)
        except ContractError as error:
            broken[path.stem] = str(error)
            continue
        valid[contract.name] = contract
    return valid, broken


def load_all(directory: Path = SOURCES_DIR) -> dict[str, Contract]:
    """Every valid contract by name; each broken one is logged and left out (``citylake sources
    validate`` and its placeholder ingest DAG show it)."""
    valid, broken = load_each(directory)
    for stem, problem in broken.items():
        log.error("source %s disabled: %s", stem[:80], problem)
    return valid


def load(name: str, directory: Path = SOURCES_DIR) -> Contract:
    """The contract of source ``name`` (a plain identifier: nothing outside ``directory``)."""
    path = directory / f"{checked_source_name(name)}.yaml"
    if not path.exists():
        raise ContractError(f"no contract for source {name!r} ({path} does not exist)")
    return parse(path)
