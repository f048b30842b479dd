import shutil
from pathlib import Path

import pytest

BLUEPRINTS = Path(__file__).parents[3] / "blueprints"


@pytest.fixture
def folder(tmp_path):
    """support-refunds (two retries) and refunds-once (one attempt)."""
    shutil.copy(BLUEPRINTS / "support-refunds.yaml", tmp_path)
    one_shot = (BLUEPRINTS / "support-refunds.yaml").read_text()
    one_shot = one_shot.replace("blueprint: support-refunds", "blueprint: refunds-once")
    one_shot = one_shot.replace("on_fail: {retries: 2, then: raise}", "on_fail: {retries: 0}")
    (tmp_path / "refunds-once.yaml").write_text(one_shot)
    return tmp_path
