"""The credit library (信用库): every credit record linked to a person or an entity, profiles, and
the joint-punishment list.

:func:`credit_records` puts licences, penalties, dishonest-debtor records and tax ratings into one
shape; :func:`link` gives each the person_id or entity_id its party resolved to (the resolution
records of citylake/population.py and citylake/legal_entity.py share its record keys) and splits
them into linked records and unlinked ones with the reason:

  party_category_unknown        neither a natural person nor an organisation
  person_not_in_population      the party resolved to no person a population source knows
  entity_not_in_legal_entity    the party resolved to no entity the registry or the social
                                organisations know
Every credit record read is in one of the two. :func:`entity_profiles` and
:func:`person_profiles` summarise them; :func:`joint_punishment` lists the dishonest entities,
their legal representatives, and dishonest persons.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from citylake.base import as_records, latest_per_record, union_all
from citylake.legal_entity import ORGANISATION
from citylake.population import NATURAL_PERSON

CREDIT_SOURCES = ["administrative_licences", "administrative_penalties", "dishonest_debtors",
                  "taxpayer_credit_ratings"]
RECORD_SCHEMA = {
    "record_type": "string", "party_kind": "string", "party_name": "string", "reference": "string",
    "decision_date": "date", "detail": "string", "amount_wan": "decimal(18,4)", "authority": "string",
    "valid_until": "date",
}
LINKED_COLUMNS = ["record_key", "source", *RECORD_SCHEMA, "person_id", "entity_id", "_batch_id", "_line_number"]


def _kind(category: str) -> F.Column:
    return (F.when(F.col(category) == NATURAL_PERSON, F.lit("person"))
            .when(F.col(category).isin(*ORGANISATION), F.lit("entity")))


def credit_records(standards: dict[str, DataFrame]) -> DataFrame:
    """One row per credit record (the latest delivery of each), keyed as the resolution records."""
    builders = {
        "administrative_licences": lambda s: as_records(s, "administrative_licences", ["decision_document_number"], {
            "record_type": F.lit("licence"), "party_kind": _kind("party_category"), "party_name": "party_name",
            "reference": "decision_document_number", "decision_date": "decision_date",
            "detail": "licence_certificate_name", "authority": "authority_name", "valid_until": "valid_to",
        }, RECORD_SCHEMA),
        "administrative_penalties": lambda s: as_records(s, "administrative_penalties", ["decision_document_number"], {
            "record_type": F.lit("penalty"), "party_kind": _kind("party_category"), "party_name": "party_name",
            "reference": "decision_document_number", "decision_date": "decision_date",
            "detail": "penalty_category", "amount_wan": "fine_wan", "authority": "authority_name",
            "valid_until": "publicity_end_date",
        }, RECORD_SCHEMA),
        "dishonest_debtors": lambda s: as_records(s, "dishonest_debtors", ["case_number", "party_name"], {
            "record_type": F.lit("dishonest_debtor"), "party_kind": _kind("party_type"), "party_name": "party_name",
            "reference": "case_number", "decision_date": "published_date", "detail": "performance",
            "authority": "court_name",
        }, RECORD_SCHEMA),
        "taxpayer_credit_ratings": lambda s: as_records(s, "taxpayer_credit_ratings", ["taxpayer_id", "rating_year"], {
            "record_type": F.lit("tax_rating"), "party_kind": F.lit("entity"), "party_name": "taxpayer_name",
            "reference": F.col("rating_year").cast("string"), "decision_date": "rated_date",
            "detail": "credit_rating", "authority": "tax_authority",
        }, RECORD_SCHEMA),
    }
    frames = [builders[source](standard) for source, standard in standards.items() if source in builders]
    if not frames:
        raise ValueError("no credit source among: " + ", ".join(sorted(standards)))
    return latest_per_record(union_all(frames))


def link(records: DataFrame, person_links: DataFrame, entity_links: DataFrame, population: DataFrame,
         legal_entity: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(linked credit records, unlinked ones with ``reason``): :func:`linkage`, split."""
    return split(linkage(records, person_links, entity_links, population, legal_entity))


def linkage(records: DataFrame, person_links: DataFrame, entity_links: DataFrame, population: DataFrame,
            legal_entity: DataFrame) -> DataFrame:
    """Every credit record with its person_id or entity_id and, when it links to neither, the
    ``reason`` (null when linked).

    ``person_links``/``entity_links``: the resolution records (record_key -> person_id /
    entity_id); ``population``/``legal_entity``: the golden libraries (who counts as known)."""
    people = person_links.select("record_key", "person_id").join(population.select("person_id"), "person_id",
                                                                   "left_semi")
    entities = entity_links.select("record_key", "entity_id").join(legal_entity.select("entity_id"), "entity_id",
                                                                   "left_semi")
    joined = records.join(people, "record_key", "left").join(entities, "record_key", "left")
    person = F.col("party_kind") == "person"
    entity = F.col("party_kind") == "entity"
    joined = joined.withColumns({
        "person_id": F.when(person, F.col("person_id")),
        "entity_id": F.when(entity, F.col("entity_id")),
    })
    reason = (F.when(F.col("party_kind").isNull(), F.lit("party_category_unknown"))
              .when(person & F.col("person_id").isNull(), F.lit("person_not_in_population"))
              .when(entity & F.col("entity_id").isNull(), F.lit("entity_not_in_legal_entity")))
    return joined.select(*LINKED_COLUMNS, reason.alias("reason"))


def split(flagged: DataFrame) -> tuple[DataFrame, DataFrame]:
    """:func:`linkage`'s records as (linked ones, unlinked ones with ``reason``)."""
    return (flagged.where(F.col("reason").isNull()).select(*LINKED_COLUMNS),
            flagged.where(F.col("reason").isNotNull()))


def _latest_rating(credit: DataFrame) -> DataFrame:
    ratings = credit.where(F.col("record_type") == "tax_rating")
    newest = Window.partitionBy("entity_id").orderBy(F.col("reference").desc(), F.col("decision_date").desc_nulls_last())
    return (ratings.withColumn("__rank", F.row_number().over(newest)).where("__rank = 1")
            .select("entity_id", F.col("detail").alias("tax_rating"), F.col("reference").alias("tax_rating_year")))


def _counts(credit: DataFrame, key: str) -> DataFrame:
    kind = F.col("record_type")
    return credit.where(F.col(key).isNotNull()).groupBy(key).agg(
        F.sum((kind == "licence").cast("int")).alias("licences"),
        F.sum((kind == "penalty").cast("int")).alias("penalties"),
        F.sum(F.when(kind == "penalty", F.col("amount_wan"))).alias("fines_wan"),
        F.max(F.when(kind == "penalty", F.col("decision_date"))).alias("latest_penalty_date"),
        F.sum((kind == "dishonest_debtor").cast("int")).alias("dishonest_cases"),
    )


def entity_profiles(legal_entity: DataFrame, credit: DataFrame) -> DataFrame:
    """One row per entity of the legal-entity library, with its credit record counts."""
    counts = _counts(credit, "entity_id")
    zero = {"licences": 0, "penalties": 0, "dishonest_cases": 0}
    return (legal_entity.select("entity_id", "credit_code", "entity_name", "legal_representative_person_id")
            .join(counts, "entity_id", "left").join(_latest_rating(credit), "entity_id", "left")
            .fillna(zero).withColumn("dishonest", F.col("dishonest_cases") > 0))


def person_profiles(population: DataFrame, credit: DataFrame) -> DataFrame:
    """One row per person with at least one credit record."""
    return (_counts(credit, "person_id").join(population.select("person_id"), "person_id")
            .withColumn("dishonest", F.col("dishonest_cases") > 0))


def joint_punishment(legal_entity: DataFrame, credit: DataFrame) -> DataFrame:
    """Who the joint punishment applies to: dishonest entities, their legal representatives, and
    dishonest persons (list_kind, entity_id, person_id, cases, latest_published_date)."""
    debtors = credit.where(F.col("record_type") == "dishonest_debtor")
    by_entity = debtors.where(F.col("entity_id").isNotNull()).groupBy("entity_id").agg(
        F.count(F.lit(1)).alias("cases"), F.max("decision_date").alias("latest_published_date"))
    by_person = debtors.where(F.col("person_id").isNotNull()).groupBy("person_id").agg(
        F.count(F.lit(1)).alias("cases"), F.max("decision_date").alias("latest_published_date"))
    entities = by_entity.join(legal_entity.select("entity_id", "legal_representative_person_id"), "entity_id")
    return (entities.select(F.lit("dishonest_entity").alias("list_kind"), "entity_id",
                            F.lit(None).cast("string").alias("person_id"), "cases", "latest_published_date")
            .unionByName(entities.where(F.col("legal_representative_person_id").isNotNull()).select(
                F.lit("legal_representative").alias("list_kind"), "entity_id",
                F.col("legal_representative_person_id").alias("person_id"), "cases", "latest_published_date"))
            .unionByName(by_person.select(F.lit("dishonest_person").alias("list_kind"),
                                          F.lit(None).cast("string").alias("entity_id"), "person_id", "cases",
                                          "latest_published_date")))
