"""Normalisers: input columns -> the feature columns that comparisons and blocking read.

Each field of the configuration is normalised once per record, with Spark's built-in functions
(no Python UDF); comparisons then only compare precomputed columns. A field ``f`` gives:

  identity_number      f (18 characters; 15-digit numbers upgraded, full-width digits, spaces and x
                       fixed; masked numbers keep their *), f_valid (GB 11643 check and a real
                       birth date; false for masked numbers), f_masked, f_head and f_tail (the
                       visible characters before the first and after the last *; the whole
                       number when unmasked), f_body (all but the check character, unmasked)
  credit_code          f, f_valid (both checks), f_masked (false), f_head, f_tail, f_body,
                       f_organisation_code (positions 9-17 of a valid code)
  organisation_code    f (MA1MRHG2-0 -> MA1MRHG20; from an 18-character credit code, its positions
                       9-17), f_valid, f_masked, f_head, f_tail, f_body
  registration_number  f, f_valid (MOD 11,10), f_masked, f_head, f_tail, f_body
  person_name          f (no white space, half-width), f_pinyin (syllables, space separated),
                       f_surname (compound surnames such as 欧阳 recognised), f_surname_pinyin,
                       f_given, f_given_pinyin, f_length, f_variant1..4 (hashes of the name with
                       one position blanked: equal for two names one replaced character apart)
  company_name         f, f_normal (half-width, no spaces or brackets, 有限责任公司 -> 有限公司),
                       f_core (f_normal without the legal form 有限公司/股份有限公司/公司),
                       f_sorted (f_core's characters sorted: 十堰鑫源 = 鑫源(十堰))
  date                 f (a date; strings in the formats departments use), f_days (days since
                       1970-01-01), f_year, f_month, f_day
  sex                  f (GB/T 2261.1: 1 or 2; unknown and unstated null)
  code                 f (upper case, no white space)
  division_code        f (GB/T 2260, upper case, no white space), f_city (first 4), f_province
                       (first 2)
  address, text        f (half-width, white space removed or collapsed)

Pinyin comes from pypinyin as a lookup table: the distinct CJK characters of the data are read
once (one small job), their pinyin (tones dropped, the generator's homophone rule) put into a
small table, and each name's characters looked up by position through broadcast hash joins with
it, so the per-record work stays inside generated JVM code (no Python UDF, no shuffle).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from citylake import codes, credit_code, identity
from citylake.checkpoint import local_checkpoint
from citylake.resolution.config import ConfigError, FieldSpec, ResolutionConfig

RID = "__rid"  # a row id, fixed for one run
KEY = "__key"  # the configured record key, as one string
HASH = "__hash"  # a hash of the fields' delivered values (what changed since last night)
TRUTH = "__truth"  # the true key, when evaluating

FULL_WIDTH_ASCII = "".join(chr(code) for code in range(0xFF01, 0xFF5F)) + "\u3000"
HALF_WIDTH_ASCII = "".join(chr(code) for code in range(0x21, 0x7F)) + " "
DATE_FORMATS = ("yyyy-MM-dd", "yyyyMMdd", "yyyy/M/d", "yyyy年M月d日", "yyyy.MM.dd", "yyyy-M-d")
TIME_OF_DAY = r"[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?$"
COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "端木", "独孤", "南宫", "西门", "申屠", "公羊", "澹台", "呼延", "太史",
    "闻人", "万俟", "钟离", "宗政", "濮阳", "淳于", "单于", "百里", "东郭", "赫连", "拓跋",
)
NAME_POSITIONS = 8  # characters looked up one by one; the rest of a longer name is kept as it is
LEGAL_FORM = r"(股份有限公司|有限公司|公司)$"

IDENTIFIER_SUFFIXES = ("valid", "masked", "head", "tail", "body")
VARIANTS = 4  # f_variant1..4: hashes of the name with one position blanked (one-character changes)
SUFFIXES: dict[str, tuple[str, ...]] = {
    "identity_number": IDENTIFIER_SUFFIXES,
    "credit_code": (*IDENTIFIER_SUFFIXES, "organisation_code"),
    "organisation_code": IDENTIFIER_SUFFIXES,
    "registration_number": IDENTIFIER_SUFFIXES,
    "source_identifier": IDENTIFIER_SUFFIXES,
    "person_name": ("pinyin", "surname", "surname_pinyin", "given", "given_pinyin", "length",
                    *(f"variant{i}" for i in range(1, VARIANTS + 1))),
    "company_name": ("normal", "core", "sorted"),
    "date": ("days", "year", "month", "day"),
    "sex": (),
    "code": (),
    "division_code": ("city", "province"),
    "address": (),
    "text": (),
}


def feature_columns(config: ResolutionConfig) -> list[str]:
    """Every feature column the configuration's fields produce, in order."""
    return [name for field, spec in config.fields.items()
            for name in (field, *(f"{field}_{suffix}" for suffix in SUFFIXES[spec.normaliser]))]


# --- text helpers ---------------------------------------------------------------------------------


def _blank_to_null(value: Column) -> Column:
    return F.when(value != "", value)


def half_width(value: Column) -> Column:
    return F.translate(value, FULL_WIDTH_ASCII, HALF_WIDTH_ASCII)


def compact(value: Column) -> Column:
    """Half-width, upper case, no white space; null when nothing is left."""
    return _blank_to_null(F.upper(F.regexp_replace(half_width(value), r"\s", "")))


def clean_text(value: Column) -> Column:
    return _blank_to_null(F.trim(F.regexp_replace(half_width(value), r"\s+", " ")))


def clean_name(value: Column) -> Column:
    """Names carry no white space (张　三 -> 张三); middle dots of minority names unified."""
    return _blank_to_null(F.regexp_replace(F.translate(half_width(value), "•・‧", "···"), r"\s", ""))


# --- pinyin ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PinyinTable:
    """Character -> pinyin (tones dropped, pypinyin's reading of the character alone: the rule the
    generator's homophones follow), for the CJK characters of the data."""

    readings: dict[str, str]

    @classmethod
    def of(cls, characters: set[str]) -> PinyinTable:
        from pypinyin import Style, lazy_pinyin

        readings = {}
        for character in sorted(c for c in characters if len(c) == 1 and _is_cjk(c)):
            reading = lazy_pinyin(character, style=Style.NORMAL, errors=lambda text: [""])
            if reading and reading[0]:
                readings[character] = reading[0]
        return cls(readings)

    @property
    def characters(self) -> int:
        return len(self.readings)

    def frame(self, spark) -> DataFrame:
        rows = sorted(self.readings.items()) or [("", "")]
        return spark.createDataFrame(rows, "character string, pinyin string")


def _is_cjk(character: str) -> bool:
    code = ord(character)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3134F


def pinyin_table(frame: DataFrame, columns: list[Column]) -> PinyinTable:
    """Reads the distinct characters of the given name columns (one small job)."""
    if not columns:
        return PinyinTable({})
    characters = frame.select(F.explode(F.array_distinct(F.split(F.concat_ws("", *columns), ""))).alias("c"))
    return PinyinTable.of({row.c for row in characters.distinct().collect()})


def _position(field: str, position: int) -> str:
    return f"__{field}_pinyin_{position}"


def with_character_pinyin(frame: DataFrame, field: str, table: PinyinTable) -> DataFrame:
    """One column per character position (1..NAME_POSITIONS) with that character's pinyin (the
    character itself when it has none, null past the name's end), by broadcast hash joins of each
    position's character with the table: no shuffle, and the lookup stays in generated code."""
    lookup = F.broadcast(table.frame(frame.sparkSession))
    for position in range(1, NAME_POSITIONS + 1):
        character = F.substring(F.col(field), position, 1)
        found = lookup.select(F.col("character").alias("__character"), F.col("pinyin").alias("__pinyin"))
        frame = (frame.join(found, character == F.col("__character"), "left")
                 .withColumn(_position(field, position),
                             F.when(F.length(F.col(field)) >= position, F.coalesce(F.col("__pinyin"), character)))
                 .drop("__character", "__pinyin"))
    return frame


def _syllables(field: str, first: int, last: int) -> Column:
    """Pinyin of the characters at positions first..last (1-based), space separated."""
    return F.concat_ws(" ", *[F.col(_position(field, p)) for p in range(first, last + 1)])


def person_name_features(field: str) -> list[dict[str, Column]]:
    name = F.col(field)
    compound = F.substring(name, 1, 2).isin(*COMPOUND_SURNAMES) & (F.length(name) > 2)
    surname_length = F.when(compound, F.lit(2)).otherwise(F.lit(1))
    rest = F.when(F.length(name) > NAME_POSITIONS, F.substring(name, NAME_POSITIONS + 1, 10_000))
    full = F.concat_ws(" ", _syllables(field, 1, NAME_POSITIONS), rest)
    given_two = F.concat_ws(" ", _syllables(field, 3, NAME_POSITIONS), rest)
    given_one = F.concat_ws(" ", _syllables(field, 2, NAME_POSITIONS), rest)
    return [{
        f"{field}_pinyin": F.when(name.isNotNull(), full),
        f"{field}_surname": F.when(name.isNotNull(), F.substring(name, 1, surname_length)),
        f"{field}_surname_pinyin": F.when(name.isNotNull(), F.when(compound, _syllables(field, 1, 2))
                                          .otherwise(F.col(_position(field, 1)))),
        f"{field}_given": _blank_to_null(F.when(compound, F.substring(name, 3, 10_000))
                                         .otherwise(F.substring(name, 2, 10_000))),
        f"{field}_given_pinyin": _blank_to_null(F.when(compound, given_two).otherwise(given_one)),
        f"{field}_length": F.length(name),
        # the name with position i blanked, hashed: two names of one length that differ in one
        # position share that variant (a comparison of longs instead of an edit distance)
        **{f"{field}_variant{i}": F.when(F.length(name) >= i, F.xxhash64(
            F.length(name), F.substring(name, 1, i - 1), F.substring(name, i + 1, 10_000)))
           for i in range(1, VARIANTS + 1)},
    }]


# --- the other kinds -----------------------------------------------------------------------------------


def parse_date(value: Column, source_type: T.DataType) -> Column:
    if isinstance(source_type, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return F.to_date(value)
    text = F.regexp_replace(F.trim(half_width(value.cast("string"))), TIME_OF_DAY, "")
    return F.to_date(F.coalesce(*[F.try_to_timestamp(text, F.lit(fmt)) for fmt in DATE_FORMATS]))


def company_normal_form(name: Column) -> Column:
    cleaned = F.regexp_replace(clean_text(name), r"[\s()\[\]（）【】]", "")
    return _blank_to_null(F.regexp_replace(cleaned, "有限责任公司$", "有限公司"))


def _identifier(field: str, valid: Column) -> list[dict[str, Column]]:
    value = F.col(field)
    masked = F.coalesce(value.contains("*"), F.lit(False))
    return [{
        f"{field}_valid": F.coalesce(~masked & valid, F.lit(False)),
        f"{field}_masked": masked,
        f"{field}_head": F.when(masked, F.regexp_extract(value, r"^([^*]*)\*", 1)).otherwise(value),
        f"{field}_tail": F.when(masked, F.regexp_extract(value, r"\*([^*]*)$", 1)).otherwise(value),
        # all but the last (check) character of an unmasked number
        f"{field}_body": F.when(~masked, F.expr(f"left(`{field}`, length(`{field}`) - 1)")),
    }]


def normalised_value(normaliser: str, value: Column, source_type: T.DataType) -> Column:
    text = value if isinstance(source_type, T.StringType) else value.cast("string")
    if normaliser == "identity_number":
        return compact(F.translate(text, "＊", "*"))  # 15 -> 18 in derived_stages
    if normaliser in ("credit_code", "registration_number", "code", "division_code", "source_identifier"):
        return compact(text)
    if normaliser == "organisation_code":
        # printed with a hyphen (MA1MRHG2-0); a credit code carries it at positions 9-17
        code = compact(text)
        return (F.when(code.rlike(r"^[0-9A-Z]{8}-[0-9X]$"), F.regexp_replace(code, "-", ""))
                .when(F.length(code) == 18, F.substring(code, 9, 9))
                .otherwise(code))
    if normaliser == "person_name":
        return clean_name(text)
    if normaliser == "company_name":
        return clean_text(text)
    if normaliser == "date":
        return parse_date(value, source_type)
    if normaliser == "sex":
        code = codes.sex_code_col(text)
        return F.when(code.isin("1", "2"), code)
    if normaliser == "address":
        return _blank_to_null(F.regexp_replace(half_width(text), r"\s", ""))
    if normaliser == "text":
        return clean_text(text)
    raise ValueError(f"no normaliser {normaliser!r}")


def derived_stages(field: str, normaliser: str) -> list[dict[str, Column]]:
    """The feature columns derived from a normalised field value, in stages."""
    value = F.col(field)
    if normaliser == "identity_number":
        return _identity_stages(field)
    if normaliser == "credit_code":
        stages = _identifier(field, credit_code.is_valid_col(value))
        stages.append({f"{field}_organisation_code": F.when(F.col(f"{field}_valid"), F.substring(value, 9, 9))})
        return stages
    if normaliser == "organisation_code":
        return _identifier(field, codes.organisation_code_valid_col(value))
    if normaliser == "registration_number":
        return _identifier(field, codes.registration_number_valid_col(value))
    if normaliser == "source_identifier":  # any delivered value identifies, within its department
        return _identifier(field, value.isNotNull())
    if normaliser == "person_name":
        return person_name_features(field)
    if normaliser == "company_name":
        normal = company_normal_form(value)
        return [
            {f"{field}_normal": normal},
            {f"{field}_core": _blank_to_null(F.regexp_replace(F.col(f"{field}_normal"), LEGAL_FORM, ""))},
            {f"{field}_sorted": F.when(F.col(f"{field}_core").isNotNull(),
                                       F.array_join(F.array_sort(F.split(F.col(f"{field}_core"), "")), ""))},
        ]
    if normaliser == "division_code":
        return [{f"{field}_city": F.when(F.length(value) >= 4, F.substring(value, 1, 4)),
                 f"{field}_province": F.when(F.length(value) >= 2, F.substring(value, 1, 2))}]
    if normaliser == "date":
        return [{
            f"{field}_days": F.datediff(value, F.lit("1970-01-01").cast("date")),
            f"{field}_year": F.year(value),
            f"{field}_month": F.month(value),
            f"{field}_day": F.dayofmonth(value),
        }]
    return []


def _check_character(first17: Column) -> Column:
    """GB 11643 check character of a column of 17 digits (see citylake/identity.py)."""
    total = sum((F.ascii(F.substring(first17, i + 1, 1)) - F.lit(48)) * F.lit(w)
                for i, w in enumerate(identity.WEIGHTS))
    return F.substring(F.lit(identity.CHECK_CHARS), F.pmod(total, F.lit(11)) + 1, 1)


def _identity_stages(field: str) -> list[dict[str, Column]]:
    """identity.normalise_col and is_valid_col, in stages: each stage reads the previous one's
    columns, so no expression holds another many times over (the plans stay small and quick to
    compile, which matters more than the rows for small tables)."""
    value = F.col(field)
    first17, check = f"__{field}_first17", f"__{field}_check"
    fifteen = value.rlike(r"^[0-9]{15}$")
    return [
        {first17: F.when(fifteen, F.concat(F.substring(value, 1, 6), F.lit("19"), F.substring(value, 7, 9)))
                   .when(value.rlike(r"^[0-9]{17}[0-9X]$"), F.substring(value, 1, 17))},
        {check: _check_character(F.col(first17))},
        {field: F.when(fifteen, F.concat(F.col(first17), F.col(check))).otherwise(value)},
        _identifier(field, F.col(first17).isNotNull() & (F.substring(value, 18, 1) == F.col(check))
                    & identity.birth_date_plausible_col(value))[0],
    ]


# --- the features of a table --------------------------------------------------------------------------


def _source(spec: FieldSpec, field: str, columns: set[str]) -> tuple[Column, bool]:
    """The field's delivered value and whether its input is present."""
    if spec.expr is not None:
        return F.expr(spec.expr), True
    names = spec.column if isinstance(spec.column, list) else [spec.column or field]
    present = [name for name in names if name in columns]
    if not present:
        return F.lit(None).cast("string"), False
    if len(present) == 1:
        return F.col(f"`{present[0]}`"), True
    values = [F.col(f"`{name}`").cast("string") for name in present]
    return F.coalesce(*[F.when(F.trim(value) != "", value) for value in values]), True


def build(records: DataFrame, config: ResolutionConfig, truth_column: str | None = None,
          hashed: set[str] = frozenset()) -> tuple[DataFrame, DataFrame, dict]:
    """(records with a row id, the feature table, facts for the report).

    The feature table holds the row id, the record key, a content hash of the delivered record
    (:func:`delivery`), the truth key when given, and the feature columns of
    :func:`feature_columns`. Both tables are checkpointed: the row id must not change while the run
    reads them many times.
    ``hashed``: features that also get a 64-bit hash twin ``<feature>_hash`` (null for null).
    """
    base, delivered = deliver(records, config, truth_column)
    features, facts = normalise(delivered, config, hashed)
    return base, features, {"missing_fields": missing_fields(config, records.columns)} | facts


def missing_fields(config: ResolutionConfig, columns: list[str]) -> list[str]:
    """The configured fields the input has no column for."""
    return [field for field, spec in config.fields.items() if not _source(spec, field, set(columns))[1]]


def content_hash(values: list[Column]) -> Column:
    """A hash of ``values`` (as text, in order): 32 hex digits of the SHA-256 of an encoding that
    tells every list of values apart, each value as its length, a colon and the value, a null as
    a dash (so "ab", null and null, "ab" differ, as do "a", "bc" and "ab", "c"). Cheaper than the
    JSON it replaced, which took about a fifth of an incremental night's diff at 100k."""
    encoded = [F.coalesce(F.concat(F.length(text).cast("string"), F.lit(":"), text), F.lit("-"))
               for text in (value.cast("string") for value in values)]
    return F.substring(F.sha2(F.concat(*encoded), 256), 1, 32)


def made_of(config: ResolutionConfig, columns: Iterable[str]) -> bool:
    """Whether records with ``columns`` are hashed by the configuration's ``content`` columns: it
    names some and they are all there (a plain table without them is hashed by all it holds)."""
    return bool(config.content) and set(config.content) <= set(columns)


def delivery(records: DataFrame, config: ResolutionConfig, truth_column: str | None = None) -> dict[str, Column]:
    """The delivered values as columns over ``records`` (checked against its columns), by name:
    the record key (KEY), the truth key (TRUTH) when given, a content hash (HASH) of the fields'
    values and of every column but the record key, the truth and the configuration's
    ``provenance`` (by name), or of the configuration's ``content`` columns only when it names
    some and the input has them all (:func:`made_of`), and each field's source value, unnormalised
    (``__src_<field>``)."""
    columns = set(records.columns)
    missing_keys = [key for key in config.record_key if key not in columns]
    if missing_keys:
        raise ConfigError(f"{config.source}: record_key: the input has no column(s) {', '.join(missing_keys)}")
    if truth_column is not None and truth_column not in columns:
        raise ValueError(f"truth column {truth_column!r} is not in the input")
    sources = {}
    for field, spec in config.fields.items():
        column, _ = _source(spec, field, columns)
        if spec.expr is not None:
            try:
                records.select(column).schema
            except Exception as error:  # noqa: BLE001 - parse and analysis errors alike
                raise ConfigError(f"{config.source}: fields.{field}.expr: {spec.expr!r}: "
                                  f"{str(error).splitlines()[0]}") from None
        sources[field] = column
    if made_of(config, columns):  # what the record is made of, hashed instead of what it holds
        content = content_hash([F.col(f"`{name}`") for name in config.content])
    else:
        rest = sorted(columns - set(config.record_key) - set(config.provenance) - {truth_column})
        content = content_hash([*sources.values(), *[F.col(f"`{name}`") for name in rest]])
    return {
        KEY: F.concat_ws("|", *[F.coalesce(F.col(f"`{key}`").cast("string"), F.lit("")) for key in config.record_key]),
        **({TRUTH: F.col(f"`{truth_column}`").cast("string")} if truth_column else {}),
        HASH: content,
        **{f"__src_{field}": column for field, column in sources.items()},
    }


def deliver(records: DataFrame, config: ResolutionConfig, truth_column: str | None = None
            ) -> tuple[DataFrame, DataFrame]:
    """(records with a row id, checkpointed; the delivered values (:func:`delivery`) with the row id).

    The delivered values are what an incremental night diffs (record key and content hash) before
    it normalises anything: :func:`normalise` then runs on the records that need it only."""
    columns = delivery(records, config, truth_column)
    base = records.withColumn(RID, F.monotonically_increasing_id()).transform(local_checkpoint)
    return base, base.select(RID, *[column.alias(name) for name, column in columns.items()])


def normalise(delivered: DataFrame, config: ResolutionConfig, hashed: set[str] = frozenset()
              ) -> tuple[DataFrame, dict]:
    """The feature table (checkpointed) of delivered values (:func:`deliver`), and facts."""
    truth = [TRUTH] if TRUTH in delivered.columns else []
    types = {f.name: f.dataType for f in delivered.schema.fields}
    normal = delivered.select(
        RID, KEY, *truth, HASH,
        *[normalised_value(spec.normaliser, F.col(f"__src_{field}"), types[f"__src_{field}"]).alias(field)
          for field, spec in config.fields.items()],
    )
    names = [field for field, spec in config.fields.items() if spec.normaliser == "person_name"]
    table = pinyin_table(normal, [F.col(name) for name in names])
    featured = normal
    for name in names:
        featured = with_character_pinyin(featured, name, table)
    stages: list[dict[str, Column]] = []
    for field, spec in config.fields.items():
        for index, stage in enumerate(derived_stages(field, spec.normaliser)):
            if index == len(stages):
                stages.append({})
            stages[index] |= stage
    for stage in stages:
        featured = featured.withColumns(stage)
    produced = feature_columns(config)
    unknown = sorted(name for name in hashed if name not in produced)
    if unknown:
        raise ConfigError(f"{config.source}: no feature {', '.join(unknown)} to hash "
                          f"(the features: {', '.join(produced)})")
    twins = [F.when(F.col(name).isNotNull(), F.xxhash64(F.col(name))).alias(f"{name}_hash") for name in sorted(hashed)]
    kept = [RID, KEY, *truth, HASH, *produced]
    features = featured.select(*kept, *twins).transform(local_checkpoint)
    return features, {"pinyin_characters": table.characters}
