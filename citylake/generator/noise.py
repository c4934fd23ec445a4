"""The kinds of noise departments' extracts really carry, each with its rate, and the dice.

Noise is drawn per record from a hash of (seed, dataset, record key), not from one running random
stream: a record that did not change between two nights is delivered byte for byte the same, so
the second night's changed share is the city's, not the dice's.
"""

from __future__ import annotations

import hashlib
from datetime import date
from functools import lru_cache

from citylake import credit_code, identity

# Rates per record. Each kind is documented where it is applied (citylake/generator/extracts.py).
NOISE: dict[str, dict[str, float]] = {
    "identity": {  # every identity number a department types in
        "invalid_check": 0.02,  # wrong check character -> quarantined
        "missing": 0.005,  # left empty -> quarantined
        "fifteen_digit": 0.02,  # the old 15-digit form (people born in the 1900s) -> upgraded
        "full_width": 0.01,  # full-width digits -> normalised
        "spaces": 0.005,  # spaces typed inside or around -> normalised
        "lower_x": 0.5,  # of numbers ending in X: written x -> normalised
    },
    "name": {  # names outside the household register (which is the authority for names)
        "homophone": 0.02,  # a given-name character replaced by another with the same pinyin
        "typo": 0.005,  # a given-name character replaced by an unrelated one
        "full_width_space": 0.005,  # 张　三: a full-width space inside the name
    },
    "company": {  # how other departments refer to an enterprise
        "by_organisation_code": 0.08,  # legacy 9-character organisation code only, no credit code
        "by_registration_number": 0.04,  # legacy 15-digit registration number only (pre-2015 firms)
        "by_name_only": 0.03,  # only the name
        "bracket_style": 0.3,  # 华泰物流（十堰）有限公司 written with (), or () with （）
        "liability_suffix": 0.1,  # 有限责任公司 written for 有限公司
    },
    "line": {  # what goes wrong with a delivered line
        "duplicate_row": 0.02,  # the same line delivered twice (re-sent records)
        "malformed_line": 0.003,  # an extra field (wrong column count) -> quarantined at landing
        "undecodable_line": 0.001,  # bytes not in the declared encoding -> quarantined at landing
    },
    "address": {
        "stale": 0.2,  # a department still holds the person's previous address
    },
    "credit_code": {
        "invalid_check": 0.015,  # registry: a credit code with a wrong check character
    },
}

FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
SWAP_BRACKETS = str.maketrans("（）()", "()（）")
_SCALE = float(1 << 32)


class Dice:
    """Deterministic uniform draws in [0, 1) for one record: 8 per digest, more on demand."""

    __slots__ = ("_key", "_digest", "_index", "_round")

    def __init__(self, seed: int, dataset: str, key: str):
        self._key = f"{seed}:{dataset}:{key}".encode()
        self._round = 0
        self._digest = hashlib.blake2b(self._key, digest_size=32).digest()
        self._index = 0

    def random(self) -> float:
        if self._index == 32:
            self._round += 1
            self._digest = hashlib.blake2b(self._key + b"#%d" % self._round, digest_size=32).digest()
            self._index = 0
        value = int.from_bytes(self._digest[self._index : self._index + 4], "little") / _SCALE
        self._index += 4
        return value

    def choice(self, options):
        return options[int(self.random() * len(options))]

    def chance(self, rate: float) -> bool:
        return self.random() < rate


# --- identity numbers -------------------------------------------------------------------------


def identity_as_typed(number: str, dice: Dice, rates: dict[str, float] = NOISE["identity"]) -> tuple[str, bool]:
    """(the number as a clerk typed it, whether it is still a valid number after normalising)."""
    draw = dice.random()
    edge = rates["invalid_check"]
    if draw < edge:
        wrong = dice.choice([c for c in identity.CHECK_CHARS if c != number[17]])
        return number[:17] + wrong, False
    edge += rates["missing"]
    if draw < edge:
        return "", False
    typed = number
    edge += rates["fifteen_digit"]
    if draw < edge:
        if number[6:8] == "19":
            typed = number[:6] + number[8:17]
    elif draw < edge + rates["full_width"]:
        typed = number.translate(FULL_WIDTH_DIGITS)
    elif draw < edge + rates["full_width"] + rates["spaces"]:
        typed = f" {number[:6]} {number[6:]}"
    if typed.endswith("X") and dice.chance(rates["lower_x"]):
        typed = typed[:-1] + "x"
    return typed, True


def masked_as_courts_publish(number: str) -> str:
    """3423011964****3224: birth month and day hidden, as the courts' public list shows them."""
    return number[:10] + "****" + number[14:]


# --- names --------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def homophone_table(characters: str) -> dict[str, tuple[str, ...]]:
    """Character -> other characters of the pool with the same pinyin (tones ignored)."""
    from pypinyin import Style, lazy_pinyin

    by_sound: dict[str, list[str]] = {}
    for character in characters:
        by_sound.setdefault(lazy_pinyin(character, style=Style.NORMAL)[0], []).append(character)
    return {
        character: tuple(other for other in group if other != character)
        for group in by_sound.values()
        for character in group
        if len(group) > 1
    }


def name_as_written(name: str, surname_length: int, dice: Dice, pool: str,
                    rates: dict[str, float] = NOISE["name"]) -> tuple[str, str | None]:
    """(the name as another department wrote it, the kind of variant or None)."""
    given = name[surname_length:]
    if not given:
        return name, None
    draw = dice.random()
    position = int(dice.random() * len(given))
    if draw < rates["homophone"]:
        sounds = homophone_table(pool).get(given[position])
        if sounds:
            given = given[:position] + dice.choice(sounds) + given[position + 1 :]
            return name[:surname_length] + given, "homophone"
        return name, None
    draw -= rates["homophone"]
    if draw < rates["typo"]:
        replacement = dice.choice(pool)
        if replacement != given[position]:
            return name[:surname_length] + given[:position] + replacement + given[position + 1 :], "typo"
        return name, None
    draw -= rates["typo"]
    if draw < rates["full_width_space"]:
        return name[:surname_length] + "\u3000" + given, "full_width_space"
    return name, None


# --- companies ----------------------------------------------------------------------------------


def company_name_as_written(name: str, dice: Dice, rates: dict[str, float] = NOISE["company"]) -> str:
    if dice.chance(rates["liability_suffix"]):
        name = name.replace("有限公司", "有限责任公司")
    if dice.chance(rates["bracket_style"]):
        name = name.translate(SWAP_BRACKETS)
    return name


def invalid_credit_code(code: str, dice: Dice) -> str:
    wrong = dice.choice([c for c in credit_code.ALPHABET if c != code[17]])
    return code[:17] + wrong


# --- dates ----------------------------------------------------------------------------------------

DATE_STYLES = {
    "iso": "{d:%Y-%m-%d}",
    "compact": "{d:%Y%m%d}",
    "slash": "{d:%Y/%m/%d}",
    "slash_unpadded": "{d.year}/{d.month}/{d.day}",
    "chinese": "{d.year}年{d.month}月{d.day}日",
    "dotted": "{d:%Y.%m.%d}",
}


def date_as_written(value: date | None, dice: Dice, styles: dict[str, float]) -> str:
    """The date in one of a department's styles, drawn by weight (styles: name -> weight)."""
    if value is None:
        return ""
    draw, edge = dice.random(), 0.0
    for style, weight in styles.items():
        edge += weight
        if draw < edge:
            return DATE_STYLES[style].format(d=value)
    return DATE_STYLES["iso"].format(d=value)
