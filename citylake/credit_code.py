"""Unified social credit codes (GB 32100-2015) and the organisation code inside them (GB 11714).

A full validator runs both checks: the code's own check character (position 18, MOD 31) and the
organisation code's check (position 17 over positions 9-16, MOD 11). Plain Python for the
generator and tests, Spark column expressions for the jobs.
"""

from __future__ import annotations

import re

from pyspark.sql import Column
from pyspark.sql import functions as F

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 symbols: no I O S V Z
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")


def check_char(first17: str) -> str:
    """Position-18 check character: 31 - (weighted sum mod 31), 31 written as 0."""
    total = sum(ALPHABET.index(symbol) * weight for symbol, weight in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def organisation_check_char(body8: str) -> str:
    """GB 11714 check over the 8 body characters; letters A=10 ... Z=35 straight through."""
    total = sum(int(c, 36) * weight for c, weight in zip(body8, ORGANISATION_WEIGHTS))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def is_valid(code: str | None) -> bool:
    """Both check characters right on a well-formed 18-character code."""
    return (
        bool(code)
        and bool(_SHAPE.match(code))
        and code[17] == check_char(code[:17])
        and code[16] == organisation_check_char(code[8:16])
    )


def normalise(raw: str | None) -> str | None:
    if raw is None:
        return None
    code = raw.replace(" ", "").strip().upper()
    return code or None


# --- Spark column expressions -------------------------------------------------------------


def normalise_col(raw: Column) -> Column:
    cleaned = F.upper(F.regexp_replace(raw, r"\s", ""))
    return F.when(cleaned == "", F.lit(None).cast("string")).otherwise(cleaned)


def _check_char_col(code: Column) -> Column:
    total = sum(
        (F.instr(F.lit(ALPHABET), F.substring(code, position + 1, 1)) - F.lit(1)) * F.lit(weight)
        for position, weight in enumerate(WEIGHTS)
    )
    return F.substring(F.lit(ALPHABET), F.pmod(F.lit(31) - F.pmod(total, F.lit(31)), F.lit(31)) + 1, 1)


def organisation_check_char_col(code: Column, start: int = 9) -> Column:
    """GB 11714 check character over the 8 characters from ``start`` (9 inside a credit code,
    1 for a stand-alone organisation code)."""

    def value(symbol: Column) -> Column:
        # digits are 0-9; letters A=10 ... Z=35 (ASCII 'A' is 65)
        code_point = F.ascii(symbol)
        return F.when(code_point >= 65, code_point - 55).otherwise(code_point - 48)

    total = sum(
        value(F.substring(code, start + position, 1)) * F.lit(weight)
        for position, weight in enumerate(ORGANISATION_WEIGHTS)
    )
    check = F.lit(11) - F.pmod(total, F.lit(11))
    return (
        F.when(check == 10, F.lit("X"))
        .when(check == 11, F.lit("0"))
        .otherwise(check.cast("string"))
    )


def is_valid_col(code: Column) -> Column:
    """Spark twin of :func:`is_valid`: never null, false for null input."""
    well_formed = F.coalesce(code.rlike(_SHAPE.pattern), F.lit(False))
    checked = (F.substring(code, 18, 1) == _check_char_col(code)) & (
        F.substring(code, 17, 1) == organisation_check_char_col(code)
    )
    return F.when(well_formed, checked).otherwise(F.lit(False))


def organisation_code_col(code: Column) -> Column:
    """The 9-character organisation code (positions 9-17) that links legacy records."""
    return F.substring(code, 9, 9)
