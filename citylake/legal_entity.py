"""The legal-entity library (法人库): organisation records from every source, and golden records.

:func:`entity_records` turns the standard tables into one table of organisation records (the
fields resolution/legal_entity.yaml reads: credit code, organisation code, registration number,
name, division, legal representative); the resolution engine gives each an entity_id. Legacy
organisation codes link through positions 9-17 of a credit code, registration numbers through the
registry's records that carry both, names through the company-name normal form (the engine's
identifiers and comparisons). :func:`golden_legal_entity` keeps one golden record per entity the
registry or the social organisations know, keyed by its credit code, by survivorship (the
registry, then the social organisations, then credit sources; within a source the latest record
first, by the date it records: established, decided, published, rated; then the record key), and
links the legal representative to the population by the representative's valid identity number.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from citylake.base import Pick, as_records, latest_per_record, priority, survivors, union_all

ORGANISATION = ("法人及非法人组织", "法人或其他组织")
RECORD_SCHEMA = {
    "credit_code": "string", "organisation_code": "string", "registration_number": "string",
    "name": "string", "division_code": "string", "legal_representative": "string",
    "legal_representative_identity_number": "string", "entity_name_normal": "string",
    "established_date": "date", "registered_capital_wan": "decimal(18,4)", "registered_address": "string",
    "status": "string", "entity_type": "string", "recorded_on": "date",
}
LEGAL_ENTITY_SOURCES = ["enterprise_registry", "social_organisations"]
CREDIT_ENTITY_SOURCES = ["administrative_licences", "administrative_penalties", "dishonest_debtors",
                         "taxpayer_credit_ratings"]
ENTITY_SOURCES = LEGAL_ENTITY_SOURCES + CREDIT_ENTITY_SOURCES
GOLDEN_FIELDS = ["credit_code", "organisation_code", "registration_number", "entity_name", "entity_name_normal",
                 "entity_type", "legal_representative_name", "legal_representative_identity_number",
                 "established_date", "registered_capital_wan", "registered_address", "division_code", "status"]
# what an entity's golden record is made of, per record (besides its record_key and entity_id)
GOLDEN_INPUTS = ["source", "credit_code", "organisation_code", "registration_number", "name", "entity_name_normal",
                 "entity_type", "legal_representative", "legal_representative_identity_number", "established_date",
                 "registered_capital_wan", "registered_address", "division_code", "status", "recorded_on",
                 "resolved_by", "review_reason"]


def _valid(column: str) -> F.Column:
    return F.when(F.col(f"{column}_valid"), F.col(column))


def _register(standard: DataFrame, source: str, entity_type: str) -> DataFrame:
    has_registration = "registration_number" in standard.columns
    return as_records(standard, source, ["credit_code"], {
        "credit_code": "credit_code", "organisation_code": "credit_code_organisation_code",
        "registration_number": "registration_number" if has_registration else None, "name": "entity_name",
        "division_code": "division_code", "legal_representative": "legal_representative_name",
        "legal_representative_identity_number": _valid("legal_representative_identity_number"),
        "entity_name_normal": "entity_name_normal", "established_date": "established_date",
        "registered_capital_wan": "registered_capital_wan", "registered_address": "registered_address",
        "status": "status", "entity_type": F.lit(entity_type), "recorded_on": "established_date",
    }, RECORD_SCHEMA)


def _double_publicity(standard: DataFrame, source: str) -> DataFrame:
    return as_records(standard, source, ["decision_document_number"], {
        "credit_code": "credit_code", "organisation_code": F.coalesce(
            _valid("organisation_code"), F.col("credit_code_organisation_code")),
        "registration_number": "registration_number", "name": "party_name",
        "legal_representative": "legal_representative_name", "entity_name_normal": "party_name_normal",
        "recorded_on": "decision_date",
    }, RECORD_SCHEMA, where=F.col("party_category").isin(*ORGANISATION))


def entity_records(standards: dict[str, DataFrame], every_delivery: bool = False) -> DataFrame:
    """Every source's organisation records (see the module doc), the latest delivery of each (with
    ``every_delivery``: every delivery's, none picked)."""
    builders = {
        "enterprise_registry": lambda s: _register(s, "enterprise_registry", "enterprise"),
        "social_organisations": lambda s: _register(s, "social_organisations", "social_organisation"),
        "administrative_licences": lambda s: _double_publicity(s, "administrative_licences"),
        "administrative_penalties": lambda s: _double_publicity(s, "administrative_penalties"),
        "dishonest_debtors": lambda s: as_records(s, "dishonest_debtors", ["case_number", "party_name"], {
            "credit_code": F.when(F.col("party_id_type") == "credit_code", F.col("party_id")),
            "organisation_code": F.col("party_id_organisation_code"),
            "name": "party_name", "legal_representative": "legal_representative_name",
            "entity_name_normal": "party_name_normal", "recorded_on": "published_date",
        }, RECORD_SCHEMA, where=F.col("party_type").isin(*ORGANISATION)),
        "taxpayer_credit_ratings": lambda s: as_records(s, "taxpayer_credit_ratings", ["taxpayer_id", "rating_year"], {
            "credit_code": "taxpayer_id_credit_code", "organisation_code": "taxpayer_id_organisation_code",
            "division_code": "taxpayer_id_division_code", "name": "taxpayer_name",
            "entity_name_normal": "taxpayer_name_normal", "recorded_on": "rated_date",
        }, RECORD_SCHEMA),
    }
    frames = [builders[source](standard) for source, standard in standards.items() if source in builders]
    if not frames:
        raise ValueError("no organisation source among: " + ", ".join(sorted(standards)))
    records = union_all(frames)
    return records if every_delivery else latest_per_record(records)


def golden_legal_entity(resolved: DataFrame, population_records: DataFrame) -> DataFrame:
    """One row per entity_id the registry or the social organisations know (see the module doc):
    :func:`entity_survivors` with :func:`with_representative`.

    ``resolved``: :func:`entity_records` with the engine's entity_id and resolved_by;
    ``population_records``: the population's resolution records (identity_number, name,
    person_id, resolved_by), to link the legal representative."""
    return with_representative(entity_survivors(resolved), population_records)


def entity_survivors(resolved: DataFrame) -> DataFrame:
    """The golden records without the representative's person_id. Reads only GOLDEN_INPUTS (and
    the key), so an entity whose records' inputs are as they were keeps last night's
    (:func:`citylake.base.refreshed`)."""
    records = resolved.where(F.col("entity_id").isNotNull()).withColumnsRenamed(
        {"name": "entity_name", "legal_representative": "legal_representative_name"})
    first = (-priority(F.col("source"), ENTITY_SOURCES), F.col("recorded_on"))
    registered = F.col("source").isin(LEGAL_ENTITY_SOURCES)
    picks = [Pick("credit_code", first, where=registered & (F.col("resolved_by") == "credit_code")),
             *[Pick(field, first) for field in GOLDEN_FIELDS[1:]]]
    facts = (
        F.count(F.lit(1)).alias("source_records"),
        F.array_sort(F.collect_set("source")).alias("sources"),
        F.max(F.when(F.col("review_reason").isNotNull(), True).otherwise(False)).alias("flagged_for_review"),
        F.max(registered).alias("__known"),
    )
    golden = survivors(records, "entity_id", picks, facts).where(F.col("__known"))
    provenance = F.map_from_arrays(F.array(*[F.lit(f) for f in GOLDEN_FIELDS]),
                                   F.array(*[F.col(f"{f}_record") for f in GOLDEN_FIELDS]))
    return golden.select("entity_id", *GOLDEN_FIELDS, "source_records", "sources", "flagged_for_review",
                         F.map_filter(provenance, lambda _, record: record.isNotNull()).alias("provenance"))


def with_representative(golden: DataFrame, population_records: DataFrame) -> DataFrame:
    """Golden entities with legal_representative_person_id: the person whose records carry the
    representative's valid identity number (resolved by it)."""
    people = (population_records.where(F.col("resolved_by") == "identity_number")
              .groupBy(F.col("identity_number").alias("legal_representative_identity_number"))
              .agg(F.first("person_id").alias("legal_representative_person_id")))
    return (golden.drop("legal_representative_person_id").join(people, "legal_representative_identity_number", "left")
            .select("entity_id", *GOLDEN_FIELDS, "legal_representative_person_id", "source_records", "sources",
                    "flagged_for_review", "provenance"))
