"""Display masks for personal data (names; identity numbers are masked in citylake.identity).

Names keep the surname and mask the given name: 张*, 张**, 欧阳*.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "令狐", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "单于", "申屠",
)


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    kept = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:kept] + "*" * (len(name) - kept)


def mask_name_col(name: Column) -> Column:
    """Spark twin of :func:`mask_name`."""
    length = F.length(name)
    kept = F.when(
        F.substring(name, 1, 2).isin(*COMPOUND_SURNAMES) & (length > 2), F.lit(2)
    ).otherwise(F.lit(1))
    return F.when(
        length > 0, F.concat(F.substring(name, F.lit(1), kept), F.repeat(F.lit("*"), length - kept))
    ).otherwise(name)
