"""Source contracts: one YAML file per department extract, validated by a typed model.

A broken contract fails with the file and the field named, for example
``sources/household_registration.yaml: columns.0.personal_data: Input should be 'none', ...``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from citylake.settings import PROJECT_ROOT

SOURCES_DIR = PROJECT_ROOT / "sources"


class ContractError(ValueError):
    pass


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
    freshness_days: int = 1  # the newest landed batch may be at most this old

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
        if value is not None and "{run_date}" not in value:
            raise ValueError("location must contain {run_date}")
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
        """Where the night's extract is: a file path or URI, or for jdbc ``jdbc:<table>``."""
        if self.jdbc is not None:
            return f"jdbc:{self.jdbc.table}?{self.jdbc.batch_column}={run_date}"
        return self.location.format(incoming=incoming, run_date=run_date)

    def column(self, standard: str) -> Column:
        return next(column for column in self.columns if column.standard == standard)


def parse(path: Path) -> Contract:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ContractError(f"{path}: not valid YAML: {error}") from error
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


def load_all(directory: Path = SOURCES_DIR) -> dict[str, Contract]:
    contracts = {}
    for path in sorted(directory.glob("*.yaml")):
        contract = parse(path)
        contracts[contract.name] = contract
    return contracts


def load(name: str, directory: Path = SOURCES_DIR) -> Contract:
    path = directory / f"{name}.yaml"
    if not path.exists():
        raise ContractError(f"no contract for source {name!r} ({path} does not exist)")
    return parse(path)
