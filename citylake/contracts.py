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


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    standard: str
    type: Literal["string", "date", "decimal", "integer"]
    required: bool
    personal_data: PersonalData


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    department: str
    dataset: str
    library: Literal["population", "legal_entity", "credit"]
    format: Literal["csv"]
    encoding: str
    location: str
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
    def _dated_location(cls, value: str) -> str:
        if "{run_date}" not in value:
            raise ValueError("location must contain {run_date}")
        return value

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
        return self.location.format(incoming=incoming, run_date=run_date)


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
