import json

import pytest

from citylake import quality

pytestmark = pytest.mark.spark


def _rule(rule_id, type_, action="quarantine", **kwargs):
    return quality.Rule(rule_id, type_, kwargs, action, f"reason {rule_id}")


def test_suites_in_the_repository_load():
    for path in sorted(quality.EXPECTATIONS_DIR.glob("*.json")):
        document, rules = quality.load_suite(path.stem)
        assert document["name"] == path.stem and rules


def test_a_suite_without_action_is_refused(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"name": "bad", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "x"}, "meta": {"rule_id": "X-1", "reason": "r"}}]}))
    with pytest.raises(quality.SuiteError, match=r"bad.json: expectations\[0\]: meta.action is missing"):
        quality.load_suite("bad", tmp_path)


def test_two_rules_of_one_type_on_one_column_are_refused(tmp_path):
    # GX keeps one expectation per type and column: the second would silently replace the first
    (tmp_path / "twice.json").write_text(json.dumps({"name": "twice", "expectations": [
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "valid", "value_set": [True], "mostly": mostly},
         "meta": {"rule_id": rule_id, "action": action, "reason": "r"}}
        for rule_id, action, mostly in (("X-1", "warn", 0.9), ("X-2", "fail", 0.5))]}))
    with pytest.raises(quality.SuiteError, match=r"twice.json: X-1 and X-2 are both expect_column_values_to_be_in_set on valid"):
        quality.load_suite("twice", tmp_path)


def test_violation_conditions_follow_gx_null_semantics(spark):
    frame = spark.createDataFrame([("1", 5), ("3", -1), (None, None), ("2", 10)], "sex string, n int")
    rules = [
        _rule("A", "expect_column_values_to_not_be_null", column="sex"),
        _rule("B", "expect_column_values_to_be_in_set", column="sex", value_set=["1", "2"]),
        _rule("C", "expect_column_values_to_match_regex", column="sex", regex="^[12]$"),
        _rule("D", "expect_column_values_to_be_between", column="n", min_value=0, max_value=9),
    ]
    assert quality.violation_counts(frame, rules) == {"A": 1, "B": 1, "C": 1, "D": 2}


def test_split_quarantine_names_the_first_rule_broken(spark):
    frame = spark.createDataFrame([("1", True), (None, False), ("2", False)], "id string, valid boolean")
    rules = [
        _rule("R1", "expect_column_values_to_not_be_null", column="id"),
        _rule("R2", "expect_column_values_to_be_in_set", column="valid", value_set=[True]),
        _rule("W1", "expect_column_values_to_be_in_set", action="warn", column="id", value_set=["1"]),
    ]
    clean, quarantined = quality.split_quarantine(frame, rules)
    assert [r.id for r in clean.collect()] == ["1"]
    found = sorted(((r._rule_id, r.id, r._reason) for r in quarantined.collect()), key=lambda t: t[0])
    assert found == [("R1", None, "reason R1"), ("R2", "2", "reason R2")]


def _suite(tmp_path, mostly):
    suite = {"name": "t.people", "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1},
         "meta": {"rule_id": "T-0", "action": "fail", "reason": "empty"}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "valid", "value_set": [True], "mostly": mostly},
         "meta": {"rule_id": "T-1", "action": "quarantine", "reason": "invalid identity number"}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "sex", "regex": "^[12]$", "mostly": 0.99},
         "meta": {"rule_id": "T-2", "action": "warn", "reason": "odd sex code"}},
    ]}
    (tmp_path / "t.people.json").write_text(json.dumps(suite))


@pytest.fixture
def people(spark):
    rows = [(f"42030219900101{i:03d}X", i % 10 != 0, "1" if i % 4 else "3") for i in range(40)]
    return spark.createDataFrame(rows, "identity_number string, valid boolean, sex string")


@pytest.mark.parametrize("mostly, passed", [(0.85, True), (0.95, False)])
def test_gate_threshold_decides(tmp_path, people, mostly, passed):
    _suite(tmp_path, mostly)
    report = quality.run_gate(people, "t.people", "run-1", tmp_path / "gx", suites_dir=tmp_path)
    outcomes = {o.rule.rule_id: o for o in report.outcomes}
    assert outcomes["T-1"].unexpected_count == 4 and outcomes["T-1"].element_count == 40
    assert outcomes["T-2"].unexpected_count == 10 and not outcomes["T-2"].success  # warn only
    assert report.passed is passed
    if not passed:
        assert "T-1 (valid: 4 of 40 rows, threshold 5.0%" in report.summary()
    # no value of any row reaches GX's results or Data Docs
    assert quality.build_docs(tmp_path / "gx").startswith("file://")
    written = "".join(p.read_text(errors="ignore") for p in (tmp_path / "gx").rglob("*") if p.is_file())
    assert "42030219900101" not in written
    assert any(page.suffix == ".html" for page in (tmp_path / "gx").rglob("*"))


PARITY_SUITE = {"name": "t.parity", "expectations": [
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 5},
     "meta": {"rule_id": "P-0", "action": "fail", "reason": "rows"}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "code", "mostly": 0.8},
     "meta": {"rule_id": "P-1", "action": "quarantine", "reason": "r"}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "sex", "value_set": ["1", "2"], "mostly": 0.7},
     "meta": {"rule_id": "P-2", "action": "quarantine", "reason": "r"}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "code", "regex": "^[0-9]{6}$", "mostly": 0.9},
     "meta": {"rule_id": "P-3", "action": "warn", "reason": "r"}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 0, "max_value": 9},
     "meta": {"rule_id": "P-4", "action": "warn", "reason": "r"}},
    {"type": "expect_column_value_lengths_to_equal", "kwargs": {"column": "code", "value": 6, "mostly": 0.5},
     "meta": {"rule_id": "P-5", "action": "warn", "reason": "r"}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "key"},
     "meta": {"rule_id": "P-6", "action": "fail", "reason": "r"}},
]}


def test_single_pass_engine_gives_gx_verdicts_and_counts(spark, tmp_path):
    (tmp_path / "t.parity.json").write_text(json.dumps(PARITY_SUITE))
    frame = spark.createDataFrame(
        [("420302", "1", 1, "a"), ("42030", "2", 12, "b"), (None, "3", None, "c"), ("4203021", None, -1, "d"),
         ("420303", "1", 5, "d"), ("abcdef", "2", 9, "e")],
        "code string, sex string, n int, key string",
    )
    reports = {engine: quality.run_gate(frame, "t.parity", f"run-{engine}", tmp_path / engine, suites_dir=tmp_path, engine=engine)
               for engine in ("gx", "single_pass")}
    gx_outcomes = {o.rule.rule_id: o for o in reports["gx"].outcomes}
    for outcome in reports["single_pass"].outcomes:
        reference = gx_outcomes[outcome.rule.rule_id]
        assert outcome.success == reference.success, outcome.rule.rule_id
        if outcome.rule.type != "expect_column_values_to_be_unique":  # GX counts every duplicate row
            assert outcome.unexpected_count == reference.unexpected_count, outcome.rule.rule_id
    assert [o.rule.rule_id for o in reports["single_pass"].outcomes if not o.success] == ["P-3", "P-4", "P-6"]
    assert reports["single_pass"].engine == "single_pass"
    quality.build_docs(tmp_path / "single_pass")
    docs = (tmp_path / "single_pass").rglob("*.html")
    assert any("t.parity" in page.read_text(errors="ignore") for page in docs)


@pytest.mark.parametrize("mostly, passed", [(0.85, True), (0.95, False)])
def test_a_fail_rule_blocks_only_over_its_threshold(spark, tmp_path, people, mostly, passed):
    suite = {"name": "t.fail", "expectations": [
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "valid", "value_set": [True], "mostly": mostly},
         "meta": {"rule_id": "F-1", "action": "fail", "reason": "too many invalid numbers"}}]}
    (tmp_path / "t.fail.json").write_text(json.dumps(suite))
    report = quality.run_gate(people, "t.fail", "run-1", tmp_path / "gx", suites_dir=tmp_path)
    assert report.passed is passed
    clean, quarantined = quality.split_quarantine(people, report.rules)
    assert clean.count() == 40 and quarantined.count() == 0  # a fail rule never quarantines rows
