import json
from pathlib import Path

import jsonschema
import pytest

from parlantish.blueprint.schema import blueprint_json_schema, packaged_schema_path
from parlantish.blueprint.source import read_source
from parlantish.cli.schema import schema_text

ROOT = Path(__file__).parents[3]
PUBLISHED = ROOT / "blueprints" / "blueprint.schema.json"
EXAMPLES = sorted((ROOT / "blueprints").glob("*.yaml"))


def test_published_schema_matches_the_models():
    # Regenerate with: parlantish schema --out blueprints/blueprint.schema.json
    #                      --out parlantish/blueprint/blueprint.schema.json
    assert PUBLISHED.read_text() == schema_text()
    assert packaged_schema_path().read_text() == schema_text()


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(blueprint_json_schema())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate_against_the_published_schema_and_name_it(path):
    doc, problems = read_source(path)
    assert not problems
    jsonschema.validate(doc.data, json.loads(PUBLISHED.read_text()))
    assert path.read_text().startswith("# yaml-language-server: $schema=./blueprint.schema.json")
