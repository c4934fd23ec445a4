"""Helpers for the resolution tests: valid identity numbers, a fixed model, literal tables."""

from __future__ import annotations

import pytest

from citylake import identity
from citylake.resolution import Model, load_config
from citylake.resolution.model import ComparisonModel

PERSON_COLUMNS = "record_key string, identity_number string, name string, birth_date string, sex string, " \
                 "division_code string, address string"

# log2 weights per level (else last) for resolution/person.yaml's comparisons, as a clerk might set
# them: decisive agreements strongly positive, disagreements strongly negative
PERSON_WEIGHTS = {
    "name": [12, 9, 4, 1, -3, -12],  # exact, pinyin, one_character, one_character_short, surname, else
    "birth_date": [12, 3, -2, -12],  # exact, one_part, within_days, else
    "sex": [1, -6],
    "place": [10, 3, -2, -5],  # same_address, same_division, same_city, else
    "identity_number": [16, 14, 8, -10],  # all_but_check, visible, close, else
}


def number(first17: str) -> str:
    """A valid identity number from its first 17 digits."""
    return first17 + identity.check_char(first17)


def wrong_check(first17: str) -> str:
    right = identity.check_char(first17)
    return first17 + ("1" if right != "1" else "2")


def fixed_model(config, weights: dict[str, list[float]], accept: float = 18.0, review: float = 12.0) -> Model:
    """A model with the given log2 weights (m = 2^w, u = 1: only the ratio counts)."""
    comparisons = []
    for spec in config.comparisons:
        from citylake.resolution.comparisons import built

        labels = built(spec).labels
        values = weights[spec.name]
        assert len(values) == len(labels), (spec.name, labels)
        comparisons.append(ComparisonModel(spec.name, labels, [2.0 ** w for w in values], [1.0] * len(values)))
    return Model(comparisons, 0.001, accept, review, 0.8, 0.2)


@pytest.fixture(scope="session")
def person_config():
    return load_config("person")


@pytest.fixture(scope="session")
def person_model(person_config):
    return fixed_model(person_config, PERSON_WEIGHTS)
