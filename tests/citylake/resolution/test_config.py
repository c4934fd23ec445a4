"""The configuration model: the shipped files load, broken ones fail naming the file and the field."""

import pytest
import yaml

from citylake.resolution import ConfigError, load_config, parse_config
from citylake.resolution.config import CONFIG_DIR


def _person() -> dict:
    return yaml.safe_load((CONFIG_DIR / "person.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["person", "legal_entity"])
def test_shipped_configurations_load(name):
    config = load_config(name)
    assert config.library == name
    assert config.source.endswith(f"resolution/{name}.yaml")
    assert config.identifiers and config.comparisons and config.blocking.rules


def test_a_path_loads_as_well():
    assert load_config(CONFIG_DIR / "person.yaml").ids.column == "person_id"


def test_record_key_may_be_one_column_or_several():
    document = _person()
    document["record_key"] = ["source", "line_number"]
    assert parse_config(document).record_key == ["source", "line_number"]
    document["record_key"] = "record_key"
    assert parse_config(document).record_key == ["record_key"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["comparisons"][1].update(field="nme"), "comparisons.1.field: 'nme' is not a declared field"),
    (lambda d: d["fields"]["name"].update(normaliser="nickname"), "fields.name.normaliser"),
    (lambda d: d["comparisons"][0].update(field="birth_date"),
     "comparisons.0.field: a person_name comparison needs a field normalised as person_name"),
    (lambda d: d.update(identifiers=["name"]), "identifiers.0: 'name' has normaliser person_name"),
    (lambda d: d["blocking"].update(max_block_size=1), "blocking.max_block_size"),
    (lambda d: d["thresholds"].update(accept_probability=0.1, review_probability=0.5),
     "review_probability must not exceed accept_probability"),
    (lambda d: d["conflicts"].update(disagree_on=["shoe_size"]), "conflicts.disagree_on.0: 'shoe_size' is not a comparison"),
    (lambda d: d.update(colour="blue"), "colour: Extra inputs are not permitted"),
    (lambda d: d.update(content=["_row_hash", "_batch_id"]), "content.1: '_batch_id' is also in provenance"),
    (lambda d: d["comparisons"].append({"name": "x", "type": "levels", "field": "name"}),
     "a comparison of type levels declares levels"),
])
def test_a_broken_configuration_names_the_file_and_the_field(change, message):
    document = _person()
    change(document)
    with pytest.raises(ConfigError) as error:
        parse_config(document, "resolution/broken.yaml")
    assert str(error.value).startswith("resolution/broken.yaml: ")
    assert message in str(error.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.yaml: no such configuration file"):
        load_config(tmp_path / "nowhere.yaml")


def test_invalid_yaml_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("library: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(path)
