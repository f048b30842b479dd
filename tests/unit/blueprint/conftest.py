import textwrap

import pytest

from parlantish.blueprint import lint_file


@pytest.fixture
def lint(tmp_path):
    """Write a blueprint (dedented) and lint it; the problems as strings, path shortened."""

    def run(text, name="bp.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return [str(p).replace(str(path), name) for p in lint_file(path)]

    return run
