import pytest

from parlantish.backends import ScriptedBackend, resolve_backend
from parlantish.backends.vllm_server import VLLMServer
from parlantish.errors import ModelNotFoundError, UserError


def test_urls_make_servers_and_backends_pass_through():
    backend = resolve_backend("http://127.0.0.1:8000/v1", timeout=3)
    assert isinstance(backend, VLLMServer) and backend.base_url == "http://127.0.0.1:8000/v1"
    scripted = ScriptedBackend(["x"])
    assert resolve_backend(scripted) is scripted
    assert isinstance(resolve_backend("scripted"), ScriptedBackend)


@pytest.mark.parametrize("spec", ["", "   ", "not a model", "a/b/c/d e"])
def test_nonsense_specs_are_user_errors(spec):
    with pytest.raises(UserError):
        resolve_backend(spec)


def test_a_missing_model_folder_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_backend(str(missing))


def test_a_folder_without_config_is_not_a_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        resolve_backend(str(tmp_path))
