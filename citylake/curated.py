"""Base -> theme tables for analysts: joined, and masked by default.

Analysts never see an identity number or a full name here. A person carries a keyed pseudonym
(``person_key``: HMAC-SHA256 of the number under the key engineers hold, identity.pseudonym), for
joining tables, and of the number itself only its division (``identity_division``, the first six
digits); names keep the surname (张*, 欧阳*). A person's age band is that of their birth year, so
it tells no more than ``birth_year`` does: with the division, the birth year and the sex shown,
at least 365 x 500 valid numbers fit every person (bench/masking.py counts them).
"""

from __future__ import annotations

from itertools import chain

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from citylake import divisions, identity
from citylake.masking import mask_name_col

# The theme tables jobs/build_curated.py writes, in theme/<name>.
THEMES = ("enterprise_legal_representative", "person_profile", "entity_credit_profile", "district_population",
          "joint_punishment_list", "data_quality")


def division_name(code: Column) -> Column:
    names = F.create_map(*[F.lit(part) for part in chain.from_iterable(divisions.ALL.items())])
    return names[code]


def identity_division(number: Column) -> Column:
    """The division part (first six digits) of a valid identity number, else null."""
    return F.when(identity.is_valid_col(number), F.substring(number, 1, 6))


def enterprise_legal_representative(legal_entity: DataFrame, population: DataFrame, key: bytes) -> DataFrame:
    """Each enterprise with its district and its legal representative, masked (``key``: the
    pseudonyms' key)."""
    people = population.select(
        F.col("identity_number").alias("_representative_id"),
        F.col("division_code").alias("representative_division_code"),
    )
    joined = legal_entity.join(
        people, legal_entity.legal_representative_identity_number == people._representative_id,
        "left",
    )
    return joined.select(
        "credit_code",
        "entity_name",
        "status",
        "division_code",
        division_name(F.col("division_code")).alias("district"),
        mask_name_col(F.col("legal_representative_name")).alias("legal_representative_name"),
        identity.pseudonym_col(F.col("legal_representative_identity_number"), key).alias(
            "legal_representative_person_key"
        ),
        F.col("_representative_id").isNotNull().alias("representative_in_population"),
        "representative_division_code",
    )


AGE_BANDS = [(0, 14, "0-14"), (15, 29, "15-29"), (30, 44, "30-44"), (45, 59, "45-59"), (60, 74, "60-74"),
             (75, 200, "75+")]


def age_on(birth_date: Column, night: str) -> Column:
    """Whole years between the birth date and the night."""
    return F.floor(F.months_between(F.lit(night).cast("date"), birth_date) / 12).cast("int")


def age_band(age: Column) -> Column:
    band = F.lit(None).cast("string")
    for low, high, label in reversed(AGE_BANDS):
        band = F.when(age.between(low, high), F.lit(label)).otherwise(band)
    return band


def person_profile(population: DataFrame, person_credit: DataFrame, night: str, key: bytes) -> DataFrame:
    """One row per golden person, masked: pseudonym, district, sex, birth year and its age band,
    alive, credit standing (``key``: the pseudonyms' key)."""
    credit = person_credit.select("person_id", "penalties", "dishonest_cases", "dishonest")
    age = F.lit(int(night[:4])) - F.year("birth_date")  # the age reached in the night's year
    return population.join(credit, "person_id", "left").select(
        "person_id",
        identity.pseudonym_col(F.col("identity_number"), key).alias("person_key"),
        identity_division(F.col("identity_number")).alias("identity_division"),
        mask_name_col(F.col("name")).alias("name"),
        "sex", F.year("birth_date").alias("birth_year"), age_band(age).alias("age_band"),
        "division_code", division_name(F.col("division_code")).alias("district"),
        "alive", F.size("sources").alias("sources"),
        F.coalesce(F.col("penalties"), F.lit(0)).alias("penalties"),
        F.coalesce(F.col("dishonest_cases"), F.lit(0)).alias("dishonest_cases"),
        F.coalesce(F.col("dishonest"), F.lit(False)).alias("dishonest"),
    )


def entity_credit_profile(legal_entity: DataFrame, entity_profiles: DataFrame, joint: DataFrame) -> DataFrame:
    """One row per entity with a credit code: its credit standing and whether the joint punishment
    applies; sorted by credit code so a lookup reads one file's statistics and skips the rest."""
    listed = (joint.where(F.col("list_kind") == "dishonest_entity").select("entity_id")
              .withColumn("on_joint_punishment_list", F.lit(True)))
    profile = entity_profiles.drop("credit_code", "entity_name", "legal_representative_person_id")
    return (legal_entity.where(F.col("credit_code").isNotNull())
            .join(profile, "entity_id", "left").join(listed, "entity_id", "left")
            .select("credit_code", "entity_id", "entity_name", "entity_type", "status", "division_code",
                    division_name(F.col("division_code")).alias("district"),
                    mask_name_col(F.col("legal_representative_name")).alias("legal_representative_name"),
                    "licences", "penalties", "fines_wan", "latest_penalty_date", "dishonest_cases", "dishonest",
                    "tax_rating", "tax_rating_year",
                    F.coalesce(F.col("on_joint_punishment_list"), F.lit(False)).alias("on_joint_punishment_list"))
            .repartition(1).sortWithinPartitions("credit_code"))


def district_population(population: DataFrame, night: str) -> DataFrame:
    """Living persons per division, sex and age band (the age and sex structure)."""
    living = population.where(F.col("alive") & F.col("division_code").isNotNull())
    return (living.groupBy("division_code", "sex", age_band(age_on(F.col("birth_date"), night)).alias("age_band"))
            .agg(F.count(F.lit(1)).alias("persons"))
            .withColumn("district", division_name(F.col("division_code")))
            .select("division_code", "district", "sex", "age_band", "persons")
            .repartition(1).sortWithinPartitions("division_code", "sex", "age_band"))


def joint_punishment_list(joint: DataFrame, legal_entity: DataFrame, population: DataFrame,
                          key: bytes) -> DataFrame:
    """The joint-punishment list for analysts: entities by credit code and name, persons masked."""
    entities = legal_entity.select("entity_id", "credit_code", "entity_name")
    people = population.select("person_id", identity.pseudonym_col(F.col("identity_number"), key).alias("person_key"),
                               mask_name_col(F.col("name")).alias("name"))
    return (joint.join(entities, "entity_id", "left").join(people, "person_id", "left")
            .select("list_kind", "credit_code", "entity_name", "person_id", "person_key", "name", "cases",
                    "latest_published_date"))


def data_quality(ledger: DataFrame, quarantine: DataFrame, gates: DataFrame) -> DataFrame:
    """Per source and night: rows read, landed, quarantined at each stage, and the gate's status.

    ``gates``: (source, night, gate_passed) from the night's quality reports."""
    night = F.to_date(F.regexp_extract(F.col("batch_id"), r"(\d{4}-\d{2}-\d{2})$", 1))
    landed = (ledger.groupBy("source", night.alias("night"))
              .agg(F.sum("rows_read").alias("rows_read"), F.sum("rows_landed").alias("rows_landed"),
                   F.max(F.col("status") == "rejected").alias("extract_rejected")))
    held = (quarantine.where(F.col("status") == "open").groupBy("source", night.alias("night"))
            .pivot("stage", ["landing", "standardise", "credit_linkage"]).agg(F.count(F.lit(1))))
    return (landed.join(held, ["source", "night"], "left").join(gates, ["source", "night"], "left")
            .select("source", "night", "rows_read", "rows_landed",
                    F.coalesce(F.col("landing"), F.lit(0)).alias("quarantined_landing"),
                    F.coalesce(F.col("standardise"), F.lit(0)).alias("quarantined_standardise"),
                    F.coalesce(F.col("credit_linkage"), F.lit(0)).alias("quarantined_credit_linkage"),
                    "extract_rejected", "gate_passed"))
