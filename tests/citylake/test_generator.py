import csv
import datetime as dt
import json

from citylake import credit_code, generator, identity

NIGHT = dt.date(2026, 11, 23)


def _generate(tmp_path, seed=11, people=400):
    return generator.generate(people, seed, NIGHT, tmp_path / "in", tmp_path / "truth")


def test_same_seed_same_city(tmp_path):
    _generate(tmp_path / "a")
    _generate(tmp_path / "b")
    for name in ("public_security/household_registration.csv", "market_regulation/enterprise_registry.csv"):
        a = (tmp_path / "a/in/2026-11-23" / name).read_bytes()
        assert a == (tmp_path / "b/in/2026-11-23" / name).read_bytes()


def test_extracts_are_delivered_in_their_declared_encodings(tmp_path):
    _generate(tmp_path)
    household = (tmp_path / "in/2026-11-23/public_security/household_registration.csv").read_bytes()
    assert household.splitlines()[0].decode("gbk").startswith("公民身份号码,")
    registry = (tmp_path / "in/2026-11-23/market_regulation/enterprise_registry.csv").read_text(encoding="utf-8")
    assert registry.startswith("统一社会信用代码,")


def test_manifest_counts_add_up_with_the_truth_files(tmp_path):
    manifest = _generate(tmp_path)
    for source, counts in manifest["sources"].items():
        assert counts["rows_read"] == counts["landed"] + counts["landing_quarantined"]
        assert counts["landed"] == counts["standardised"] + counts["standardise_quarantined"]
        with (tmp_path / "truth/2026-11-23" / f"{source}.csv").open(encoding="utf-8") as handle:
            truth = list(csv.DictReader(handle))
        assert len(truth) == counts["rows_read"]
        assert sum(r["outcome"] == "valid" for r in truth) == counts["standardised"]
    stored = json.loads((tmp_path / "truth/2026-11-23/manifest.json").read_text(encoding="utf-8"))
    assert stored["base"] == manifest["base"]


def test_valid_lines_carry_valid_identifiers_from_the_city(tmp_path):
    _generate(tmp_path)
    night = tmp_path / "in/2026-11-23"
    with (tmp_path / "truth/2026-11-23/household_registration.csv").open(encoding="utf-8") as handle:
        outcome = {int(r["line_number"]): r["outcome"] for r in csv.DictReader(handle)}
    raw_lines = (night / "public_security/household_registration.csv").read_bytes().splitlines()
    for line_number, raw in enumerate(raw_lines[1:], start=2):
        if outcome[line_number] == "landing_quarantine":
            continue
        number = identity.normalise(next(csv.reader([raw.decode("gbk")]))[0])
        assert identity.is_valid(number) == (outcome[line_number] == "valid"), line_number
        if number and identity.is_valid(number):
            assert number[:4] in ("4203", "4208")
    with (night / "market_regulation/enterprise_registry.csv").open(encoding="utf-8") as handle:
        codes = [row["统一社会信用代码"] for row in csv.DictReader(handle) if row.get("经营状态")]
    assert sum(credit_code.is_valid(c) for c in codes) / len(codes) > 0.95
