import pytest

from citylake import contracts


@pytest.mark.parametrize("path", sorted(contracts.SOURCES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_contract_is_valid(path):
    contract = contracts.parse(path)
    assert contract.name == path.stem
    assert set(contract.keys) <= {column.standard for column in contract.columns}


def test_a_broken_contract_names_the_file_and_the_field(tmp_path):
    source = (contracts.SOURCES_DIR / "household_registration.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "household_registration.yaml"
    broken.write_text(source.replace("personal_data: sensitive", "personal_data: secret", 1), encoding="utf-8")
    with pytest.raises(contracts.ContractError) as error:
        contracts.parse(broken)
    message = str(error.value)
    assert str(broken) in message and "columns.0.personal_data" in message


def test_unknown_encoding_and_undated_location_are_refused(tmp_path):
    source = (contracts.SOURCES_DIR / "enterprise_registry.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "enterprise_registry.yaml"
    broken.write_text(source.replace("encoding: utf-8", "encoding: klingon").replace("{run_date}", "today"),
                      encoding="utf-8")
    with pytest.raises(contracts.ContractError, match="encoding: .*unknown encoding 'klingon'.*location: .*run_date"):
        contracts.parse(broken)


def test_contract_name_must_match_file(tmp_path):
    source = (contracts.SOURCES_DIR / "enterprise_registry.yaml").read_text(encoding="utf-8")
    (tmp_path / "other.yaml").write_text(source, encoding="utf-8")
    with pytest.raises(contracts.ContractError, match="other.yaml: name"):
        contracts.parse(tmp_path / "other.yaml")
    valid, broken = contracts.load_each(tmp_path)  # the nightly: this source disabled, the others not
    assert valid == {} and "must equal the file name" in broken["other"]
    assert contracts.load_all(tmp_path) == {}


def test_a_location_under_an_object_store_drop_folder_stays_inside_it():
    root = "s3://citylake/incoming"
    assert contracts.inside(root, "s3://citylake/incoming/2026-11-23/public_security/a.csv")
    assert not contracts.inside(root, "s3://citylake/incoming/2026-11-23/../../lake/a.csv")
    assert not contracts.inside(root, "s3://citylake/incoming-other/a.csv")
