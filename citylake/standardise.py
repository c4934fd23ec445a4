"""Raw (as delivered) -> standardised (typed, normalised, with flag columns), driven by the contract.

One generic, pure DataFrame -> DataFrame function, :func:`standardise`, built from Spark's own
functions (no Python UDF). Each contract column's ``kind`` decides how its value is normalised in
place and which flag and derived columns are added beside it, named from the field:

  identity_number         <f>_valid (form, check character, plausible birth date), <f>_division_known
                          (positions 1-6 ever issued, historical codes included)
  masked_identity_number  <f>_valid, <f>_visible_prefix, <f>_visible_suffix
  credit_code             <f>_valid (both checks), <f>_organisation_code (positions 9-17)
  organisation_code       <f>_valid
  registration_number     <f>_valid
  taxpayer_id             <f>_type (credit_code | division_organisation_code | unknown), <f>_valid,
                          <f>_credit_code, <f>_organisation_code, <f>_division_code
  party_id                <f>_type (identity_number | masked_identity_number | credit_code |
                          organisation_code | unknown), <f>_valid, <f>_visible_prefix,
                          <f>_visible_suffix, <f>_organisation_code
  company_name, party_name  <f>_normal (the company-name normal form, a matching key)
  division_code           <f>_known (a code of the city, historical codes included)
  phone                   <f>_valid
  date, decimal, integer  <f>_parsed
  person_name, address, text, code, sex, ethnicity   the value only
Across fields: ``<p>birth_date_matches_identity`` for every pair ``<p>identity_number`` +
``<p>birth_date`` (the same person), and ``party_identifiable`` for a credit record's counterparty
(contracts with a party_name field): one of the record's own identifiers (fields named after their
kind: credit_code, organisation_code, registration_number, identity_number, party_id, ...) is valid,
a masked identity number counting only with the party's name.

Every row also gets ``_row_hash``: a hash of all of the above (the fields and the columns added),
not of the batch metadata. A row the department delivers again as it was has the same hash in
every batch, so a base library's incremental night finds tonight's new and changed records by
their rows' hashes, without mapping every row again (citylake/base.py).

Flags describe a delivered value: they are null when the field is null (a gate's not-null rule
decides whether the field may be missing; GX's column rules skip nulls), except
``party_identifiable``, which is false when nothing identifies the party. Derived codes are only
filled from valid identifiers, so that nothing links through a broken code. The gate checks the
flags, so its results never carry the personal data itself.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import codes, credit_code, divisions, identity
from citylake.contracts import Contract
from citylake.resolution.features import content_hash

ROW_HASH = "_row_hash"  # see the module doc
BATCH_COLUMNS = ["_source", "_batch_id", "_file", "_line_number", "_ingested_at"]
# "yyyy/M/d" also reads yyyy/MM/dd; a time part ("2024-03-05 00:00:00", Excel datetime cells) is
# cut off before parsing.
DATE_FORMATS = ("yyyy-MM-dd", "yyyyMMdd", "yyyy/M/d", "yyyy年M月d日", "yyyy.MM.dd")
TIME_OF_DAY = r"[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?$"
FULL_WIDTH_PUNCTUATION = "（）【】，．　"
HALF_WIDTH_PUNCTUATION = "()[],. "
# Full-width ASCII (U+FF01-U+FF5E) and the ideographic space, and their half-width twins.
FULL_WIDTH_ASCII = "".join(chr(code) for code in range(0xFF01, 0xFF5F)) + "\u3000"
HALF_WIDTH_ASCII = "".join(chr(code) for code in range(0x21, 0x7F)) + " "

UNKNOWN = "unknown"
PARTY_ID_TYPES = ("identity_number", "masked_identity_number", "credit_code", "organisation_code", UNKNOWN)
TAXPAYER_ID_TYPES = ("credit_code", "division_organisation_code", UNKNOWN)

# Flag and derived columns added per kind, as suffixes of the field name (in this order).
SUFFIXES: dict[str, tuple[str, ...]] = {
    "identity_number": ("valid", "division_known"),
    "masked_identity_number": ("valid", "visible_prefix", "visible_suffix"),
    "credit_code": ("valid", "organisation_code"),
    "organisation_code": ("valid",),
    "registration_number": ("valid",),
    "taxpayer_id": ("type", "valid", "credit_code", "organisation_code", "division_code"),
    "party_id": ("type", "valid", "visible_prefix", "visible_suffix", "organisation_code"),
    "person_name": (),
    "company_name": ("normal",),
    "party_name": ("normal",),
    "address": (),
    "date": ("parsed",),
    "sex": (),
    "ethnicity": (),
    "division_code": ("known",),
    "phone": ("valid",),
    "decimal": ("parsed",),
    "integer": ("parsed",),
    "code": (),
    "text": (),
}
PARSED_KINDS = ("date", "decimal", "integer")
# Kinds whose old 15-digit identity numbers are upgraded to 18 characters (GB 11643).
UPGRADED_KINDS = ("identity_number", "masked_identity_number", "party_id")
# The kinds that identify a person or an organisation (a credit record's counterparty among them).
IDENTIFIER_KINDS = ("identity_number", "masked_identity_number", "credit_code", "organisation_code",
                    "registration_number", "taxpayer_id", "party_id")
PARTY_IDENTIFIABLE = "party_identifiable"
MATCHES_IDENTITY = "matches_identity"

_MASKED = r"^[0-9]{4,17}\*+([0-9]*[0-9X])?$"  # 18 characters with the length check
_ORGANISATION_HYPHENATED = r"^[0-9A-Z]{8}-[0-9X]$"  # MA1MRHG2-0, as printed on certificates


class StandardiseError(ValueError):
    pass


def map_columns(raw: DataFrame, mapping: dict[str, str]) -> DataFrame:
    """Source column names -> standard field names; batch metadata kept, other columns dropped.
    A contract column the raw table does not have (an optional column no night has delivered
    yet) is null: landing has refused every batch that lacked a required one."""
    held = {name.lower() for name in raw.columns}
    return raw.select(
        *[(F.col(f"`{source}`") if source.lower() in held else F.lit(None).cast("string")).alias(standard)
          for source, standard in mapping.items()],
        *BATCH_COLUMNS,
    )


DUPLICATE_RULE = "STD-DUPLICATE"


def duplicate_deliveries(checked: DataFrame, keys: list[str], rule: str) -> DataFrame:
    """Adds ``_duplicate`` (true on a row the contract's ``duplicates`` rule takes out) and
    ``_duplicate_reason``: rows sharing every key field (none null) are one key delivered again.
    latest: the row on the latest line is kept, the others taken out; quarantine and fail: every
    row of such a key is (fail then fails the gate); keep: none is (the libraries take a key's
    latest delivery, citylake/base.py). Pure: a window over the key."""
    from pyspark.sql import Window

    key = [F.col(f"`{name}`") for name in keys]
    complete = F.lit(True)
    for part in key:
        complete = complete & part.isNotNull()
    by_key = Window.partitionBy(*key)
    lines = F.when(complete, F.count(F.lit(1)).over(by_key)).otherwise(F.lit(1))
    last = F.max("_line_number").over(by_key)
    fields = ", ".join(keys)
    if rule == "keep":  # a source whose key repeats by design (a person's enrolments over the years)
        return checked.withColumns({"_duplicate": F.lit(False), "_duplicate_reason": F.lit(None).cast("string")})
    if rule == "latest":
        duplicate = (lines > 1) & (F.col("_line_number") < last)
        reason = F.format_string(f"key ({fields}) delivered again on line %d, the latest, which is kept", last)
    elif rule in ("quarantine", "fail"):
        duplicate = lines > 1
        reason = F.format_string(f"key ({fields}) delivered on %d lines; contract rule duplicates: {rule}", lines)
    else:
        raise ValueError(f"unknown duplicates rule {rule!r}")
    return checked.withColumns({"_duplicate": duplicate, "_duplicate_reason": F.when(duplicate, reason)})


# --- value normalisers ----------------------------------------------------------------------


def _null_if_blank(value: Column) -> Column:
    return F.when(value == "", F.lit(None).cast("string")).otherwise(value)


def half_width(value: Column) -> Column:
    """Full-width letters, digits, punctuation and the ideographic space -> half-width."""
    return F.translate(value, FULL_WIDTH_ASCII, HALF_WIDTH_ASCII)


def clean_text(value: Column) -> Column:
    """Trims, turns full-width punctuation half-width, collapses runs of white space."""
    half = F.translate(value, FULL_WIDTH_PUNCTUATION, HALF_WIDTH_PUNCTUATION)
    cleaned = F.trim(F.regexp_replace(half, r"\s+", " "))
    return F.when(cleaned == "", F.lit(None).cast("string")).otherwise(cleaned)


def parse_date(value: Column) -> Column:
    """The first of DATE_FORMATS that parses (a time of day ignored); null when none does."""
    text = F.regexp_replace(F.trim(value), TIME_OF_DAY, "")
    return F.to_date(F.coalesce(*[F.try_to_timestamp(text, F.lit(fmt)) for fmt in DATE_FORMATS]))


def company_name_normal_form(name: Column) -> Column:
    """A matching key for company names: half-width, no spaces or brackets, 有限责任公司 -> 有限公司."""
    cleaned = F.regexp_replace(clean_text(name), r"[\s()\[\]]", "")
    return F.regexp_replace(cleaned, "有限责任公司$", "有限公司")


def person_name(value: Column) -> Column:
    """Names carry no white space: 张 三 -> 张三; full-width letters and punctuation half-width."""
    return _null_if_blank(F.regexp_replace(half_width(clean_text(value)), r"\s", ""))


def compact_code(value: Column) -> Column:
    """Identifier characters only: half-width, upper case, no white space; null when empty."""
    return _null_if_blank(F.upper(F.regexp_replace(half_width(value), r"\s", "")))


def normalise_organisation_code(value: Column) -> Column:
    """Compact, and the hyphen printed before the check character (MA1MRHG2-0) removed."""
    code = compact_code(value)
    return F.when(code.rlike(_ORGANISATION_HYPHENATED), F.regexp_replace(code, "-", "")).otherwise(code)


def _decimal(value: Column, source_type: T.DataType) -> Column:
    if isinstance(source_type, T.NumericType):
        return value.try_cast("decimal(18,4)")
    text = F.regexp_replace(F.trim(half_width(value.cast("string"))), ",", "")
    return text.try_cast("decimal(18,4)")


def _integer(value: Column, source_type: T.DataType) -> Column:
    if isinstance(source_type, T.IntegralType):
        return value.try_cast("int")
    number = _decimal(value, source_type)  # "2023.0" from a spreadsheet cell is 2023
    return F.when(number == F.floor(number), number.try_cast("int"))


def _date(value: Column, source_type: T.DataType) -> Column:
    if isinstance(source_type, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return F.to_date(value)
    return parse_date(half_width(value.cast("string")))


def _code_table(lookup: Callable[[Column], Column], value: Column) -> Column:
    # unrecognised values stay as delivered, for the gate's code-table rules to catch
    return F.coalesce(lookup(value), _null_if_blank(F.trim(value)))


def normalise(kind: str, value: Column, source_type: T.DataType = T.StringType()) -> Column:
    """The standard value of a delivered value of this kind."""
    prepared = _prepare(kind, value, source_type)
    return identity.normalise_col(prepared) if kind in UPGRADED_KINDS else prepared


def _prepare(kind: str, value: Column, source_type: T.DataType) -> Column:
    """The standard value, but for the 15-to-18 upgrade of UPGRADED_KINDS (a second step, which
    reads the prepared value some forty times: given a column rather than an expression, the plan
    stays small)."""
    text = value if isinstance(source_type, T.StringType) else value.cast("string")
    if kind in ("identity_number", "masked_identity_number", "credit_code", "taxpayer_id",
                "registration_number", "division_code"):
        return compact_code(text)
    if kind in ("organisation_code", "party_id"):  # a party id may be a hyphenated organisation code
        return normalise_organisation_code(text)
    if kind == "person_name":
        return person_name(text)
    if kind in ("company_name", "party_name", "address", "text"):
        return clean_text(text)
    if kind == "date":
        return _date(value, source_type)
    if kind == "sex":
        return _code_table(codes.sex_code_col, text)
    if kind == "ethnicity":
        return _code_table(codes.ethnicity_code_col, text)
    if kind == "phone":
        return codes.normalise_phone_col(text)
    if kind == "decimal":
        return _decimal(value, source_type)
    if kind == "integer":
        return _integer(value, source_type)
    if kind == "code":
        return _null_if_blank(F.trim(text))
    raise StandardiseError(f"no standardisation for kind {kind!r}")


# --- flags and derived codes of a normalised value ------------------------------------------
# A kind's flags come in stages: each stage's expressions read the normalised value and the
# columns of earlier stages only. Every check is computed once, in its own column, so the plan
# never repeats a validator inside another (which would outgrow Java's 64 KB method limit);
# names starting with "__" are helpers, dropped at the end.
Stage = dict[str, Column]


def identity_number_valid(number: Column) -> Column:
    """GB 11643: well-formed, right check character, birth date real and not in the future."""
    return identity.is_valid_col(number) & identity.birth_date_plausible_col(number)


def masked_identity_number_valid(number: Column) -> Column:
    """18 characters: at least 4 visible leading digits, a run of *, the visible rest."""
    return F.coalesce(number.rlike(_MASKED) & (F.length(number) == 18), F.lit(False))


def _visible(number: Column, masked: Column) -> Stage:
    return {
        "visible_prefix": F.when(masked, F.regexp_extract(number, r"^([0-9]*)\*", 1)),
        "visible_suffix": F.when(masked, F.regexp_extract(number, r"\*([0-9X]*)$", 1)),
    }


def _division_ever_issued(field: str) -> Column:
    """Positions 1-6 are a county code issued since 1980: one SQL IN list (7,000 codes), which
    Spark turns into a hash set, built from one string rather than 7,000 literals over Py4J."""
    issued = ", ".join(f"'{code}'" for code in sorted(divisions.national()) if code.isdigit())
    return F.expr(f"substring(`{field}`, 1, 6) IN ({issued})")


def _when_present(value: Column, flag: Column) -> Column:
    return F.when(value.isNotNull(), flag)


def _party_id_stages(value: Column, own) -> list[Stage]:
    """Type: a valid identifier decides first, then the form alone (an 18-digit number that
    passes neither check is taken for a mistyped identity number)."""
    checks = {
        "__identity": identity_number_valid(value),
        "__credit": credit_code.is_valid_col(value),
        "__organisation": codes.organisation_code_valid_col(value),
        "__masked": masked_identity_number_valid(value),
    }
    kind_of = (
        F.when(value.isNull(), F.lit(None).cast("string"))
        .when(value.contains("*"), F.lit("masked_identity_number"))
        .when(own("__identity"), F.lit("identity_number"))
        .when(own("__credit"), F.lit("credit_code"))
        .when(value.rlike(r"^[0-9]{17}[0-9X]$"), F.lit("identity_number"))
        .when(value.rlike(r"^[0-9A-Z]{18}$"), F.lit("credit_code"))
        .when(value.rlike(r"^[0-9A-Z]{8}[0-9X]$"), F.lit("organisation_code"))
        .otherwise(F.lit(UNKNOWN))
    )
    type_ = own("type")
    valid = (
        F.when(type_ == "identity_number", own("__identity"))
        .when(type_ == "masked_identity_number", own("__masked"))
        .when(type_ == "credit_code", own("__credit"))
        .when(type_ == "organisation_code", own("__organisation"))
        .otherwise(F.lit(False))
    )
    organisation = (
        F.when(type_ == "credit_code", credit_code.organisation_code_col(value))
        .when(type_ == "organisation_code", value)
    )
    return [
        checks,
        {"type": kind_of},
        {"valid": _when_present(value, valid), **_visible(value, type_ == "masked_identity_number")},
        {"organisation_code": F.when(own("valid"), organisation)},
    ]


def _taxpayer_id_stages(value: Column, own) -> list[Stage]:
    """18 characters: a credit code; 15: division code (6 digits) + organisation code (9)."""
    kind_of = (
        F.when(value.isNull(), F.lit(None).cast("string"))
        .when(F.length(value) == 18, F.lit("credit_code"))
        .when(F.length(value) == 15, F.lit("division_organisation_code"))
        .otherwise(F.lit(UNKNOWN))
    )
    legacy = F.substring(value, 1, 6).rlike("^[0-9]{6}$") & codes.organisation_code_valid_col(
        F.substring(value, 7, 9)
    )
    credit = own("type") == "credit_code"
    valid = (
        F.when(credit, credit_code.is_valid_col(value))
        .when(own("type") == "division_organisation_code", legacy)
        .otherwise(F.lit(False))
    )
    return [
        {"type": kind_of},
        {"valid": _when_present(value, valid)},
        {
            "credit_code": F.when(own("valid") & credit, value),
            "organisation_code": F.when(own("valid"), F.when(credit, F.substring(value, 9, 9))
                                        .otherwise(F.substring(value, 7, 9))),
            "division_code": F.when(own("valid"), F.when(credit, F.substring(value, 3, 6))
                                    .otherwise(F.substring(value, 1, 6))),
        },
    ]


def _stages(kind: str, field: str, delivered: str | None = None) -> list[Stage]:
    """The flag and derived columns of a field (suffix -> expression), in stages."""
    value = F.col(field)

    def own(suffix: str) -> Column:
        return F.col(_column_name(field, suffix))

    if kind == "identity_number":
        return [{
            "valid": _when_present(value, identity_number_valid(value)),
            "division_known": _division_ever_issued(field),
        }]
    if kind == "masked_identity_number":
        masked = value.contains("*")
        valid = F.when(masked, masked_identity_number_valid(value)).otherwise(identity_number_valid(value))
        return [{"valid": _when_present(value, valid), **_visible(value, masked)}]
    if kind == "credit_code":
        return [
            {"valid": _when_present(value, credit_code.is_valid_col(value))},
            {"organisation_code": F.when(own("valid"), credit_code.organisation_code_col(value))},
        ]
    if kind == "organisation_code":
        return [{"valid": _when_present(value, codes.organisation_code_valid_col(value))}]
    if kind == "registration_number":
        return [{"valid": _when_present(value, codes.registration_number_valid_col(value))}]
    if kind == "taxpayer_id":
        return _taxpayer_id_stages(value, own)
    if kind == "party_id":
        return _party_id_stages(value, own)
    if kind in ("company_name", "party_name"):
        return [{"normal": company_name_normal_form(value)}]
    if kind == "division_code":
        return [{"known": value.isin(*sorted(divisions.ALL))}]
    if kind == "phone":
        return [{"valid": _when_present(value, codes.phone_valid_col(value))}]
    if kind in PARSED_KINDS:
        # something was delivered (not blank) and it was read; null when nothing was delivered
        return [{"parsed": F.when(F.col(delivered).isNotNull(), value.isNotNull())}]
    return []


def _column_name(field: str, suffix: str) -> str:
    return f"__{field}{suffix}" if suffix.startswith("__") else f"{field}_{suffix}"


# --- across fields -----------------------------------------------------------------------------


def birth_date_pairs(contract: Contract) -> list[tuple[str, str]]:
    """(identity number field, birth date field) of the same person: <p>identity_number with
    <p>birth_date (identity_number + birth_date, husband_identity_number + husband_birth_date)."""
    kinds = {column.standard: column.kind for column in contract.columns}
    pairs = []
    for field, kind in kinds.items():
        if kind == "identity_number" and field.endswith("identity_number"):
            birth = field.removesuffix("identity_number") + "birth_date"
            if kinds.get(birth) == "date":
                pairs.append((field, birth))
    return pairs


def own_identifiers(contract: Contract) -> list[str]:
    """The record's own identifier fields: those named after their kind (credit_code, party_id,
    ...), not a related party's (authority_credit_code, employer_credit_code)."""
    return [c.standard for c in contract.columns if c.kind in IDENTIFIER_KINDS and c.standard == c.kind]


def _party_name(contract: Contract) -> str | None:
    return next((c.standard for c in contract.columns if c.kind == "party_name"), None)


def _party_identifiable(contract: Contract) -> Column:
    name_given = F.col(_party_name(contract)).isNotNull()
    identified = F.lit(False)
    for field in own_identifiers(contract):
        valid = F.coalesce(F.col(f"{field}_valid"), F.lit(False))
        if field == "party_id":
            valid = valid & ((F.col("party_id_type") != "masked_identity_number") | name_given)
        elif field == "masked_identity_number":
            valid = valid & (~F.col(field).contains("*") | name_given)
        identified = identified | valid
    return identified


def _cross_field(contract: Contract) -> dict[str, Column]:
    derived = {}
    for number, birth in birth_date_pairs(contract):
        matches = F.col(birth) == identity.birth_date_col(F.col(number))
        derived[f"{birth}_{MATCHES_IDENTITY}"] = F.when(F.col(f"{number}_valid"), matches)
    if _party_name(contract) is not None:
        derived[PARTY_IDENTIFIABLE] = _party_identifiable(contract)
    return derived


def added_columns(contract: Contract) -> list[str]:
    """The flag and derived columns :func:`standardise` adds for this contract, in order."""
    added = [f"{c.standard}_{suffix}" for c in contract.columns for suffix in SUFFIXES[c.kind]]
    added += [f"{birth}_{MATCHES_IDENTITY}" for _, birth in birth_date_pairs(contract)]
    if _party_name(contract) is not None:
        added.append(PARTY_IDENTIFIABLE)
    return added


def standard_columns(contract: Contract) -> list[str]:
    """Every column of the contract's standardised table except the batch metadata."""
    return content_columns(contract) + [ROW_HASH]


def content_columns(contract: Contract) -> list[str]:
    """The columns a standard row's hash covers: the fields and the columns added, in order."""
    return [column.standard for column in contract.columns] + added_columns(contract)


def row_hash(contract: Contract) -> Column:
    """``_row_hash`` over a standard table of ``contract``: 32 hex digits of a hash of the row's
    :func:`content_columns` (their names are fixed by the contract, their order too)."""
    return content_hash([F.col(f"`{name}`") for name in content_columns(contract)])


def standardise(mapped: DataFrame, contract: Contract) -> DataFrame:
    """Mapped rows (standard field names, values as delivered) -> standardised rows.

    Each field normalised in place by its kind and followed by the flag and derived columns of
    :func:`added_columns`, then ``_row_hash`` (see the module doc); other columns (batch metadata,
    a replay's quarantine_id) pass through untouched, last.
    """
    types = {field.name: field.dataType for field in mapped.schema.fields}
    missing = [column.standard for column in contract.columns if column.standard not in types]
    if missing:
        raise StandardiseError(f"{contract.name}: mapped rows lack the field(s) {', '.join(missing)}")
    kinds = {column.standard: column.kind for column in contract.columns}

    # parsed kinds keep their delivered text a moment longer, to tell unreadable from missing
    parsed = [field for field, kind in kinds.items() if kind in PARSED_KINDS]
    delivered = {field: f"__delivered_{field}" for field in parsed}
    prepared = mapped.select(
        *[
            _prepare(kinds[name], F.col(f"`{name}`"), types[name]).alias(name) if name in kinds
            else F.col(f"`{name}`")
            for name in mapped.columns
        ],
        *[clean_text(F.col(f"`{field}`").cast("string")).alias(delivered[field]) for field in parsed],
    )
    upgraded = {field: identity.normalise_col(F.col(field))
                for field, kind in kinds.items() if kind in UPGRADED_KINDS}
    normalised = prepared.withColumns(upgraded) if upgraded else prepared

    stages: list[Stage] = []
    for column in contract.columns:
        for index, stage in enumerate(_stages(column.kind, column.standard, delivered.get(column.standard))):
            if index == len(stages):
                stages.append({})
            stages[index] |= {_column_name(column.standard, suffix): expression
                              for suffix, expression in stage.items()}
    stages.append(_cross_field(contract))
    flagged = normalised
    for stage in stages:
        flagged = flagged.withColumns(stage) if stage else flagged
    added = added_columns(contract)
    unexpected = [name for stage in stages for name in stage if not name.startswith("__") and name not in added]
    if unexpected:  # a programming error, caught by the tests
        raise StandardiseError(f"{contract.name}: flags {unexpected} missing from SUFFIXES")
    fields = [name for name in mapped.columns if name in kinds]
    others = [name for name in mapped.columns if name not in kinds]  # batch metadata, quarantine_id
    return flagged.select(*[F.col(f"`{name}`") for name in [*fields, *added]], row_hash(contract).alias(ROW_HASH),
                          *[F.col(f"`{name}`") for name in others])
