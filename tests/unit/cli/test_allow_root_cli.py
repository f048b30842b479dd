"""`--allow-root`: references may read from the folders a user names, and only those."""

import pytest

from parlantish.blueprint import files
from parlantish.cli.main import main


@pytest.fixture(autouse=True)
def _forget_allowed_roots():
    saved = list(files._ALLOWED)
    yield
    files._ALLOWED[:] = saved


def run(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.mark.parametrize("command", ["lint", "render"])
def test_allow_root_lets_extends_read_a_named_folder(tmp_path, monkeypatch, capsys, command):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "base.yaml").write_text("blueprint: base\ninstructions: {rule: Be kind.}\n")
    project = tmp_path / "project"
    project.mkdir()
    child = project / "child.yaml"
    child.write_text("blueprint: child\nextends: ../shared/base.yaml\n")
    monkeypatch.chdir(project)
    code, out, err = run([command, str(child)], capsys)
    assert code == 1 and "outside the allowed folders" in out + err and "--allow-root" in out + err
    code, out, err = run([command, "--allow-root", str(shared), str(child)], capsys)
    assert code == 0, out + err
