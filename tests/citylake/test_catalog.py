"""The data catalog from a small lake written by delta-rs, rendered in headless Chromium."""

import json
import os
import subprocess
from html.parser import HTMLParser

import pyarrow as pa
from deltalake import write_deltalake

from citylake import catalog
from citylake import settings as citylake_settings

NIGHT = "2026-11-23"


class _Sections(HTMLParser):
    """The rendered DOM's sections: table name -> its texts by class."""

    def __init__(self):
        super().__init__()
        self.sections, self._current, self._class, self._tag = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self._current = attrs["id"]
            self.sections[self._current] = {"texts": []}
        self._class, self._tag = attrs.get("class"), tag

    def handle_data(self, data):
        if self._current and data.strip():
            self.sections[self._current]["texts"].append(data.strip())
            if self._class:
                self.sections[self._current].setdefault(self._class, data.strip())


def test_the_catalog_describes_each_table_and_renders_in_chromium(tmp_path):
    settings = citylake_settings.load({"CITYLAKE_SPARK_CONNECT": os.environ["CITYLAKE_SPARK_CONNECT"], "CITYLAKE_ENV": "local", "CITYLAKE_DATA_DIR": str(tmp_path)})
    root = settings.lake_root
    write_deltalake(f"{root}/standard/household_registration", pa.table({
        "identity_number": ["4203**********1234"] * 3, "name": ["张*"] * 3, "division_code": ["420302"] * 3}))
    write_deltalake(f"{root}/standard/household_registration", pa.table({
        "identity_number": ["4203**********1234"], "name": ["张*"], "division_code": ["420302"]}), mode="append")
    write_deltalake(f"{root}/theme/person_profile", pa.table({"person_id": ["P1", "P2"], "name": ["张*", "李*"]}))
    quality = settings.reports_dir / NIGHT / "quality"
    quality.mkdir(parents=True)
    (quality / "standard.household_registration.json").write_text(json.dumps({"passed": True}))

    page = catalog.write(settings, ["standard/household_registration", "theme/person_profile"], NIGHT)
    assert (settings.reports_dir / "catalog.html").read_text() == page.read_text()
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    parsed = _Sections()
    parsed.feed(dom)
    household = parsed.sections["standard/household_registration"]
    assert household["rows"] == "4"  # from the files' statistics, both commits
    assert household["quality-passed"] == "passed"
    assert household["lineage"] == "household_registration"
    assert "public_security" in household["texts"]
    texts = household["texts"]
    assert texts[texts.index("identity_number") + 3] == "sensitive"  # the contract's class
    profile = parsed.sections["theme/person_profile"]
    assert profile["rows"] == "2" and profile["quality-no-gate"] == "no gate"
    assert "household_registration" in profile["lineage"]  # through base/population's records
    assert profile["texts"][profile["texts"].index("name") + 3] == "masked"
