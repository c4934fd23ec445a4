"""Raw (as delivered) -> standardised (typed, normalised, with validity flags).

Pure DataFrame -> DataFrame functions built from Spark's own functions. Validity is recorded in
flag columns (identity_number_valid, credit_code_valid, ...) that the quality gate checks, so that
the gate's results never need to carry the personal data itself.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from citylake import codes, credit_code, divisions, identity

BATCH_COLUMNS = ["_source", "_batch_id", "_file", "_line_number", "_ingested_at"]
DATE_FORMATS = ("yyyy-MM-dd", "yyyyMMdd", "yyyy/MM/dd", "yyyy年M月d日", "yyyy.MM.dd")
FULL_WIDTH_PUNCTUATION = "（）【】，．　"
HALF_WIDTH_PUNCTUATION = "()[],. "


def map_columns(raw: DataFrame, mapping: dict[str, str]) -> DataFrame:
    """Source column names -> standard field names; batch metadata kept, other columns dropped."""
    return raw.select(
        *[F.col(f"`{source}`").alias(standard) for source, standard in mapping.items()],
        *BATCH_COLUMNS,
    )


def clean_text(value: Column) -> Column:
    """Trims, turns full-width punctuation half-width, collapses runs of white space."""
    half = F.translate(value, FULL_WIDTH_PUNCTUATION, HALF_WIDTH_PUNCTUATION)
    cleaned = F.trim(F.regexp_replace(half, r"\s+", " "))
    return F.when(cleaned == "", F.lit(None).cast("string")).otherwise(cleaned)


def parse_date(value: Column) -> Column:
    """The first of DATE_FORMATS that parses; null when none does (never an error)."""
    text = F.trim(value)
    return F.to_date(F.coalesce(*[F.try_to_timestamp(text, F.lit(fmt)) for fmt in DATE_FORMATS]))


def company_name_normal_form(name: Column) -> Column:
    """A matching key for company names: half-width, no spaces or brackets, 有限责任公司 -> 有限公司."""
    cleaned = F.regexp_replace(clean_text(name), r"[\s()\[\]]", "")
    return F.regexp_replace(cleaned, "有限责任公司$", "有限公司")


def standardise_population(mapped: DataFrame) -> DataFrame:
    """Identity numbers valid when well-formed, with the right check character and a plausible
    birth date; whether their division code was ever issued is a separate flag (historical codes
    included), as is agreement with the delivered birth date."""
    number = identity.normalise_col(F.col("identity_number"))
    return (
        mapped.withColumn("identity_number", number)
        .withColumn(
            "identity_number_valid",
            identity.is_valid_col(F.col("identity_number"))
            & identity.birth_date_plausible_col(F.col("identity_number")),
        )
        .withColumn(
            "identity_division_known",
            F.substring(F.col("identity_number"), 1, 6).isin(*sorted(divisions.national())),
        )
        .withColumn("name", F.regexp_replace(clean_text(F.col("name")), " ", ""))
        # unrecognised values stay as delivered, for the gate's code-table rules to catch
        .withColumn("sex", F.coalesce(codes.sex_code_col(F.col("sex")), F.trim(F.col("sex"))))
        .withColumn(
            "ethnicity",
            F.coalesce(codes.ethnicity_code_col(F.col("ethnicity")), F.trim(F.col("ethnicity"))),
        )
        .withColumn("birth_date", parse_date(F.col("birth_date")))
        .withColumn(
            "birth_date_matches_identity",
            F.coalesce(
                F.col("birth_date") == identity.birth_date_col(F.col("identity_number")),
                F.lit(False),
            ),
        )
        .withColumn("household_address", clean_text(F.col("household_address")))
        .withColumn("division_code", F.trim(F.col("division_code")))
        .withColumn("division_known", F.col("division_code").isin(*divisions.ALL))
    )


def standardise_legal_entity(mapped: DataFrame) -> DataFrame:
    code = credit_code.normalise_col(F.col("credit_code"))
    representative = identity.normalise_col(F.col("legal_representative_identity_number"))
    return (
        mapped.withColumn("credit_code", code)
        .withColumn("credit_code_valid", credit_code.is_valid_col(F.col("credit_code")))
        .withColumn("organisation_code", credit_code.organisation_code_col(F.col("credit_code")))
        .withColumn("entity_name", clean_text(F.col("entity_name")))
        .withColumn("entity_name_normal", company_name_normal_form(F.col("entity_name")))
        .withColumn(
            "legal_representative_name",
            F.regexp_replace(clean_text(F.col("legal_representative_name")), " ", ""),
        )
        .withColumn("legal_representative_identity_number", representative)
        .withColumn(
            "legal_representative_identity_valid",
            identity.is_valid_col(F.col("legal_representative_identity_number")),
        )
        .withColumn("established_date", parse_date(F.col("established_date")))
        .withColumn(
            "registered_capital_wan",
            F.expr("try_cast(trim(registered_capital_wan) AS DECIMAL(18,4))"),
        )
        .withColumn("registered_address", clean_text(F.col("registered_address")))
        .withColumn("division_code", F.trim(F.col("division_code")))
        .withColumn("division_known", F.col("division_code").isin(*divisions.ALL))
        .withColumn("status", F.trim(F.col("status")))
    )


STANDARDISERS = {
    "population": standardise_population,
    "legal_entity": standardise_legal_entity,
}
