import csv
import datetime as dt
import json
import re

import pytest
from openpyxl import load_workbook
from pypinyin import lazy_pinyin

from citylake import contracts, credit_code, generator, identity
from citylake.generator import city as city_model
from citylake.generator.noise import Dice, homophone_table, identity_as_typed, masked_as_courts_publish

NIGHT = dt.date(2026, 11, 23)
DECLARED = contracts.load_all()


@pytest.fixture(scope="module")
def first_night(tmp_path_factory):
    root = tmp_path_factory.mktemp("city")
    manifest = generator.generate(2000, 11, NIGHT, root / "in", root / "truth")
    return root, manifest


def _truth(root, name, night=NIGHT):
    with (root / "truth" / f"{night}" / f"{name}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _extract_path(root, name, night=NIGHT):
    contract = DECLARED[name]
    if contract.format == "jdbc":
        return generator.exchange_path(root / "exchange", night, contract.jdbc.table)
    return root / contract.location_for(str(root / "in"), f"{night}").removeprefix(str(root) + "/")


def test_every_contracted_source_is_generated(first_night):
    root, manifest = first_night
    assert set(manifest["sources"]) == set(DECLARED)
    for name in DECLARED:
        assert _extract_path(root, name).exists(), name
        assert manifest["sources"][name]["rows_read"] > 0, name


def test_same_seed_same_city(tmp_path, first_night):
    root, _ = first_night
    generator.generate(2000, 11, NIGHT, tmp_path / "in", tmp_path / "truth")
    for name, contract in DECLARED.items():
        ours, theirs = _extract_path(root, name), _extract_path(tmp_path, name)
        if contract.format == "xlsx":  # the workbook's zip carries save times; compare the cells
            rows = [list(load_workbook(p, read_only=True).worksheets[0].values) for p in (ours, theirs)]
            assert rows[0] == rows[1], name
        else:
            assert ours.read_bytes() == theirs.read_bytes(), name


def test_extracts_are_delivered_in_their_declared_formats_and_encodings(first_night):
    root, _ = first_night
    household = _extract_path(root, "household_registration").read_bytes()
    assert household.splitlines()[0].decode("gbk").startswith("公民身份号码,")
    births = _extract_path(root, "birth_certificates").read_bytes()
    assert births.splitlines()[0].decode("gb18030").startswith("出生医学证明编号,")
    deaths = _extract_path(root, "death_certificates").read_bytes()
    assert deaths.startswith(b"\xef\xbb\xbf") and deaths[3:].decode("utf-8", "replace").startswith("死亡证明编号,")
    registry = _extract_path(root, "enterprise_registry").read_bytes()
    assert registry.decode("utf-8").startswith("统一社会信用代码,")
    workbook = load_workbook(_extract_path(root, "marriage_registrations"), read_only=True)
    header = next(workbook.worksheets[0].values)
    assert list(header) == [c.source for c in DECLARED["marriage_registrations"].columns]
    lines = _extract_path(root, "dishonest_debtors").read_bytes().splitlines()
    parsed = [json.loads(line) for line in lines[:50] if _parses(line)]
    assert parsed and {"iname", "cardNum", "caseCode"} <= set(parsed[0])
    with _extract_path(root, "taxpayer_credit_ratings").open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:2] == ["记录编号", "交换日期"]


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def test_manifest_counts_add_up_with_the_truth_files(first_night):
    root, manifest = first_night
    for source, counts in manifest["sources"].items():
        assert counts["rows_read"] == counts["landed"] + counts["landing_quarantined"]
        assert counts["landed"] == counts["standardised"] + counts["standardise_quarantined"]
        truth = _truth(root, source)
        assert len(truth) == counts["rows_read"], source
        assert sum(r["outcome"] == "valid" for r in truth) == counts["standardised"], source
    stored = json.loads((root / "truth" / f"{NIGHT}" / "manifest.json").read_text(encoding="utf-8"))
    assert stored["base"] == manifest["base"] and stored["records"] == sum(
        c["rows_read"] for c in manifest["sources"].values())


def test_truth_line_numbers_are_the_delivered_lines(first_night):
    root, _ = first_night
    for name in ("household_registration", "dishonest_debtors", "administrative_licences"):
        lines = _extract_path(root, name).read_bytes().splitlines()
        numbers = [int(r["line_number"]) for r in _truth(root, name)]
        data_start = 1 if DECLARED[name].format == "jsonl" else 2
        assert numbers == list(range(data_start, len(lines) + 1)), name


def test_valid_household_lines_carry_valid_identity_numbers_from_the_city(first_night):
    root, _ = first_night
    outcome = {int(r["line_number"]): r["outcome"] for r in _truth(root, "household_registration")}
    raw_lines = _extract_path(root, "household_registration").read_bytes().splitlines()
    last_line = {raw: line_number for line_number, raw in enumerate(raw_lines[1:], start=2)}
    for line_number, raw in enumerate(raw_lines[1:], start=2):
        if outcome[line_number] == "landing_quarantine":
            continue
        if last_line[raw] != line_number:  # delivered again later: the copy is kept, this line quarantined
            assert outcome[line_number] == "standardise_quarantine", line_number
            continue
        number = identity.normalise(next(csv.reader([raw.decode("gbk")]))[0])
        assert identity.is_valid(number) == (outcome[line_number] == "valid"), line_number
        if number and identity.is_valid(number):
            assert number[:4] in ("4203", "4208")
    with _extract_path(root, "enterprise_registry").open(encoding="utf-8", errors="replace") as handle:
        codes = [row["统一社会信用代码"] for row in csv.DictReader(handle) if row.get("经营状态")]
    assert sum(credit_code.is_valid(c) for c in codes) / len(codes) > 0.95


def test_other_departments_reference_enterprises_by_legacy_codes_and_names(first_night):
    root, _ = first_night
    with _extract_path(root, "social_insurance_enrolment").open(encoding="utf-8", errors="replace") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("参保状态")]
    by_code = sum(bool(r["单位统一社会信用代码"]) for r in rows)
    by_organisation_code = sum(not r["单位统一社会信用代码"] and bool(r["单位组织机构代码"]) for r in rows)
    by_name_only = sum(not r["单位统一社会信用代码"] and not r["单位组织机构代码"] for r in rows)
    assert by_code > by_organisation_code > 0 and by_name_only > 0
    with _extract_path(root, "taxpayer_credit_ratings").open(encoding="utf-8") as handle:
        ids = [row["纳税人识别号"] for row in csv.DictReader(handle)]
    assert any(len(i) == 15 for i in ids) and any(credit_code.is_valid(i) for i in ids)


def test_courts_publish_masked_identity_numbers(first_night):
    root, _ = first_night
    records = [json.loads(l) for l in _extract_path(root, "dishonest_debtors").read_bytes().splitlines() if _parses(l)]
    persons = [r["cardNum"] for r in records if r["partyTypeName"] == "自然人"]
    assert persons and all(re.fullmatch(r"[0-9]{10}\*{4}[0-9]{3}[0-9X]", n) for n in persons)
    assert masked_as_courts_publish("34230119640101322X") == "3423011964****322X"


def test_identity_noise_is_normalised_back_or_marked_invalid():
    true_number = "11010519491231002X"
    seen = {}
    for key in range(4000):
        typed, valid = identity_as_typed(true_number, Dice(1, "test", str(key)))
        seen.setdefault(valid, set()).add(typed)
        if valid:
            assert identity.normalise(typed) == true_number
        else:
            assert typed == "" or not identity.is_valid(identity.normalise(typed))
    assert "110105491231002" in seen[True] and "11010519491231002x" in seen[True]


def test_homophones_share_their_pinyin():
    table = homophone_table("明铭名鸣伟卫")
    assert set(table["明"]) == {"铭", "名", "鸣"} and set(table["伟"]) == {"卫"}
    for character, others in table.items():
        assert all(lazy_pinyin(o) == lazy_pinyin(character) for o in others)


def test_the_second_night_has_new_changed_and_deleted_records(tmp_path, first_night):
    root, first = first_night
    second = generator.generate(2000, 11, NIGHT + dt.timedelta(days=1), root / "in", root / "truth", night_number=2)
    changes = second["sources"]["household_registration"]["changes"]
    assert changes["new"] > 0 and changes["changed"] > 0 and changes["deleted"] > 0
    assert changes["unchanged"] > 0.95 * first["sources"]["household_registration"]["standardised"]
    assert second["sources"]["dishonest_debtors"]["changes"]["deleted"] > 0
    # an unchanged record is delivered byte for byte as the night before
    one = set(_extract_path(root, "household_registration").read_bytes().splitlines()[1:])
    two = set(_extract_path(root, "household_registration", NIGHT + dt.timedelta(days=1)).read_bytes().splitlines()[1:])
    assert len(one & two) > 0.95 * len(one)


def test_city_evolution_moves_people_and_keeps_their_keys():
    city = city_model.build(500, 3, NIGHT)
    before = {p.key: p.address for p in city.people}
    city_model.evolve(city, NIGHT + dt.timedelta(days=1))
    moved = [p for p in city.people if p.key in before and p.address != before[p.key]]
    assert moved and all(p.previous_address == before[p.key] for p in moved)
    assert len(city.people) > len(before)  # newborns


def test_a_trade_name_is_registered_once_per_city_and_trade():
    """企业名称登记管理规定: one trade name (字号) per trade in a registration area. A company is
    "<city><trade name><trade>有限公司" or "<trade name><trade>（<city>）有限公司"; read either way, no
    two companies of a city share their trade name and trade."""
    city = city_model.build(20_000, 5, NIGHT)

    def registered(name: str) -> tuple[str, str]:
        name = name.removesuffix("有限公司")
        if name.endswith("）"):
            words, place = name.removesuffix("）").split("（")
            return place, words
        return name[:2], name[2:]

    enterprises = [registered(e.name) for e in city.entities if e.is_enterprise]
    assert len(enterprises) == 2000 and {place for place, _ in enterprises} == {"十堰", "荆门"}
    assert len(set(enterprises)) == len(enterprises)
    organisations = [e.name for e in city.entities if not e.is_enterprise]
    assert len(set(organisations)) == len(organisations)


def test_a_city_with_no_trade_name_left_says_so():
    builder = city_model.Builder(1, NIGHT)
    builder.trade_name_characters = ["鑫", "源"]
    assert {builder.trade_name("十堰", "物流") for _ in range(2)} == {"鑫源", "源鑫"}
    with pytest.raises(RuntimeError, match="no free trade name left for 物流 in 十堰"):
        builder.trade_name("十堰", "物流")
