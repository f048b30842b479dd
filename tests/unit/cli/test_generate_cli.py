"""CLI behaviour that needs no model: bad input gives one located message and exit 1."""

import json
import subprocess
import sys

import pytest

from parlantish.cli.main import main


def run(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_invalid_json_schema_file_is_located(tmp_path, capsys):
    schema = tmp_path / "s.json"
    schema.write_text('{\n  "type": "object",\n  "properties": {,}\n}')
    code, out, err = run(["generate", "--json-schema", str(schema), "hi"], capsys)
    assert code == 1 and out == ""
    assert f"{schema}:3:" in err and "Traceback" not in err


def test_schema_that_is_not_a_schema_is_reported(tmp_path, capsys):
    schema = tmp_path / "s.json"
    schema.write_text('{"type": "objekt"}')
    code, _, err = run(["generate", "--json-schema", str(schema), "hi"], capsys)
    assert code == 1 and "invalid JSON schema" in err and str(schema) in err


def test_two_constraints_are_refused(capsys):
    code, _, err = run(["generate", "--regex", "a", "--choice", "a,b", "hi"], capsys)
    assert code == 1 and "at most one constraint" in err


def test_bad_regex_and_missing_files(capsys, tmp_path):
    code, _, err = run(["generate", "--regex", "(", "hi"], capsys)
    assert code == 1 and "invalid regex" in err
    code, _, err = run(["generate", "--grammar", str(tmp_path / "none.lark"), "hi"], capsys)
    assert code == 1 and "cannot read grammar file" in err


def test_missing_model_folder(capsys, tmp_path):
    code, _, err = run(["generate", "--backend", str(tmp_path / "no-model"), "hi"], capsys)
    assert code == 1 and "does not exist" in err


def test_scripted_backend_has_no_outputs_by_default(capsys):
    code, _, err = run(["generate", "--backend", "scripted", "hi"], capsys)
    assert code == 1 and "script" in err


def test_doctor_reports_paths_as_json(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PARLANTISH_HOME", str(tmp_path))
    code, out, _ = run(["doctor", "--json"], capsys)
    findings = {f["name"]: f for f in json.loads(out)}
    assert findings["PARLANTISH_HOME"]["detail"] == str(tmp_path.resolve())
    assert findings["VLLM_CACHE_ROOT"]["detail"].startswith(str(tmp_path.resolve()))
    assert code in (0, 1)
    assert code == (0 if all(f["ok"] for f in findings.values()) else 1)


def test_console_script_runs():
    done = subprocess.run(
        [sys.executable, "-m", "parlantish", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "parlantish" in done.stdout
