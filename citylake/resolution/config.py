"""The resolution configuration: one YAML file per library (resolution/person.yaml, ...), validated
by a typed model. A broken file fails naming the file and the field, for example
``resolution/person.yaml: comparisons.1.field: 'nme' is not a declared field``.

The format is documented in resolution/README.md and in the package docstring
(citylake/resolution/__init__.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from citylake.settings import PROJECT_ROOT

CONFIG_DIR = PROJECT_ROOT / "resolution"

Normaliser = Literal[
    "identity_number",  # GB 11643, 15 -> 18, full-width, masked numbers (3423011964****3224) kept
    "credit_code",  # GB 32100, both checks
    "organisation_code",  # GB 11714 (hyphen before the check character removed)
    "registration_number",  # 15 digits, MOD 11,10
    "person_name",  # characters and pinyin
    "company_name",  # normal form, core (legal form removed), sorted characters
    "date",
    "sex",  # GB/T 2261.1 codes; unknown and unstated become null
    "code",  # upper-cased, no white space
    "division_code",  # GB/T 2260: as code, with its city (4) and province (2) prefixes
    "address",  # half-width, no white space
    "text",  # trimmed
    "source_identifier",  # a department's own number for the party (an insured person number): as code
]
IDENTIFIER_NORMALISERS = ("identity_number", "credit_code", "organisation_code", "registration_number",
                          "source_identifier")

ComparisonType = Literal[
    "exact",  # exact
    "person_name",  # exact, pinyin (homophones), one_character, one_character_short, same_surname_pinyin
    "company_name",  # exact (normal form), core, same_characters, core_close
    "date",  # exact, one_part, within_days
    "identifier",  # all_but_check, visible (masked numbers), close
    "code_prefix",  # exact, then each prefix length
    "levels",  # your own levels, as Spark SQL over l.<feature> and r.<feature>
]
# Which normalisers each built-in comparison type accepts.
COMPARISON_NORMALISERS: dict[str, tuple[str, ...]] = {
    "person_name": ("person_name",),
    "company_name": ("company_name",),
    "date": ("date",),
    "identifier": IDENTIFIER_NORMALISERS,
}


class ConfigError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldSpec(_Strict):
    """An input column (or a Spark SQL expression over input columns) and how it is normalised."""

    # the input column, or several: the first of them present in the input and not blank
    # (default: the field's own name); a field whose columns are all absent is null
    column: str | list[str] | None = None
    expr: str | None = None  # instead of column: Spark SQL over the input's columns
    normaliser: Normaliser

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if self.column is not None and self.expr is not None:
            raise ValueError("give column or expr, not both")
        return self


class Level(_Strict):
    label: str
    when: str  # Spark SQL over l.<feature> and r.<feature>


class ComparisonSpec(_Strict):
    name: str
    type: ComparisonType
    field: str | None = None  # every type but levels
    levels: list[Level] | None = None  # type levels only
    null_when: str | None = None  # type levels: when the comparison says nothing (weight 0)
    prefix_lengths: list[int] | None = None  # code_prefix: e.g. [4, 2]
    within_days: int = Field(default=366, gt=0)  # date: the third level

    @model_validator(mode="after")
    def _shape(self) -> ComparisonSpec:
        if self.type == "levels":
            if not self.levels:
                raise ValueError("a comparison of type levels declares levels: [{label, when}, ...]")
            if self.field is not None:
                raise ValueError("a comparison of type levels names features in its levels, not a field")
        else:
            if self.field is None:
                raise ValueError(f"a comparison of type {self.type} needs a field")
            if self.levels is not None:
                raise ValueError(f"levels are only for type levels, not {self.type}")
        if self.type == "code_prefix" and not self.prefix_lengths:
            raise ValueError("a code_prefix comparison needs prefix_lengths, e.g. [4, 2]")
        return self


class BlockingRule(_Strict):
    name: str
    keys: list[str] = Field(min_length=1)  # Spark SQL over features; a null key leaves the record out
    when: str | None = None  # only records meeting this condition are blocked by this rule


class Blocking(_Strict):
    rules: list[BlockingRule] = Field(min_length=1)
    max_block_size: int = Field(default=1000, ge=2)
    oversized: Literal["drop", "split"] = "split"


class EM(_Strict):
    max_iterations: int = Field(default=100, ge=1)
    tolerance: float = Field(default=1e-6, gt=0)
    random_pairs: int = Field(default=1_000_000, ge=100)  # for u
    fix_u: bool = True  # u from random pairs only; false: EM updates u as well
    prior_pairs: float = Field(default=10.0, ge=0)  # pseudo-matches smoothing m (small tables)
    seed: int = 42


class Thresholds(_Strict):
    accept_probability: float = Field(default=0.8, gt=0, lt=1)
    review_probability: float = Field(default=0.2, gt=0, lt=1)
    match_weight: float | None = None  # overrides accept_probability when given

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review_probability > self.accept_probability:
            raise ValueError("review_probability must not exceed accept_probability")
        return self


class Conflicts(_Strict):
    disagree_on: list[str] = Field(default_factory=list)  # comparison names
    action: Literal["hold_out", "flag"] = "hold_out"
    representative_order: list[str] = Field(default_factory=list)  # SQL, ascending; first wins


class Clustering(_Strict):
    max_iterations: int = Field(default=50, ge=1)


class Ids(_Strict):
    column: str = "cluster_id"
    prefix: str = "C"


class ResolutionConfig(_Strict):
    library: str
    description: str = ""
    record_key: list[str] = Field(min_length=1)
    fields: dict[str, FieldSpec] = Field(min_length=1)
    # input columns that say where and how often a record was delivered (batch, line), not what it
    # holds: the content hash covers every other column. An incremental night keeps a record whose
    # content is as it was last night as it was written then, these columns included
    provenance: list[str] = Field(default_factory=list)
    # input columns a record's content is a function of, when a few are (a hash of the row it was
    # made from and a fingerprint of how it was made): the content hash then covers only these,
    # and an incremental night reads only these (with the key and provenance) of every record
    content: list[str] = Field(default_factory=list)
    identifiers: list[str] = Field(default_factory=list)  # in precedence order
    comparisons: list[ComparisonSpec] = Field(min_length=1)
    blocking: Blocking
    em: EM = Field(default_factory=EM)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    conflicts: Conflicts = Field(default_factory=Conflicts)
    clustering: Clustering = Field(default_factory=Clustering)
    ids: Ids = Field(default_factory=Ids)

    _source: str = PrivateAttr(default="<config>")

    @model_validator(mode="before")
    @classmethod
    def _key_as_list(cls, data):
        if isinstance(data, dict) and isinstance(data.get("record_key"), str):
            data = {**data, "record_key": [data["record_key"]]}
        return data

    @model_validator(mode="after")
    def _references(self) -> ResolutionConfig:
        problems = []
        for index, name in enumerate(self.content):
            if name in self.provenance or name in self.record_key:
                problems.append(f"content.{index}: {name!r} is also in "
                                f"{'provenance' if name in self.provenance else 'record_key'}")
        for index, name in enumerate(self.identifiers):
            field = self.fields.get(name)
            if field is None:
                problems.append(f"identifiers.{index}: {name!r} is not a declared field")
            elif field.normaliser not in IDENTIFIER_NORMALISERS:
                problems.append(f"identifiers.{index}: {name!r} has normaliser {field.normaliser}, "
                                f"not one of {', '.join(IDENTIFIER_NORMALISERS)}")
        names = set()
        for index, comparison in enumerate(self.comparisons):
            if comparison.name in names:
                problems.append(f"comparisons.{index}.name: {comparison.name!r} is declared twice")
            names.add(comparison.name)
            if comparison.field is None:
                continue
            field = self.fields.get(comparison.field)
            if field is None:
                problems.append(f"comparisons.{index}.field: {comparison.field!r} is not a declared field")
                continue
            accepted = COMPARISON_NORMALISERS.get(comparison.type)
            if accepted and field.normaliser not in accepted:
                problems.append(f"comparisons.{index}.field: a {comparison.type} comparison needs a field "
                                f"normalised as {' or '.join(accepted)}, {comparison.field!r} is {field.normaliser}")
        for index, name in enumerate(self.conflicts.disagree_on):
            if name not in names:
                problems.append(f"conflicts.disagree_on.{index}: {name!r} is not a comparison")
        if self.conflicts.disagree_on and not self.identifiers:
            problems.append("conflicts.disagree_on: conflicts are checked within identifiers; declare identifiers")
        rules = [rule.name for rule in self.blocking.rules]
        for name in {rule for rule in rules if rules.count(rule) > 1}:
            problems.append(f"blocking.rules: {name!r} is declared twice")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def source(self) -> str:
        """The file this configuration came from (for error messages)."""
        return self._source

    def comparison(self, name: str) -> ComparisonSpec:
        return next(comparison for comparison in self.comparisons if comparison.name == name)


def _format(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


def parse(document: dict, source: str = "<config>") -> ResolutionConfig:
    """A configuration from an already-read document; errors name ``source`` and the field."""
    try:
        config = ResolutionConfig.model_validate(document)
    except ValidationError as error:
        raise ConfigError(f"{source}: {_format(error)}") from None
    config._source = source
    return config


def load_config(path: str | Path) -> ResolutionConfig:
    """Reads and validates a configuration file; a name without folder or suffix (``person``)
    means ``resolution/<name>.yaml``."""
    path = Path(path)
    if not path.suffix and path.parent == Path("."):
        path = CONFIG_DIR / f"{path}.yaml"
    if not path.exists():
        raise ConfigError(f"{path}: no such configuration file")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return parse(document, str(path))
