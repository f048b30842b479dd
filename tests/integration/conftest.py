"""Shared real engines: one in-process vLLM engine and one vLLM server per test session."""

import pytest

from parlantish.backends import resolve_backend
from parlantish.backends.embedded import provision_embedded_model
from parlantish.backends.launch import VLLMServerProcess
from parlantish.backends.vllm_server import VLLMServer


@pytest.fixture(scope="session")
def embedded_model_dir():
    return provision_embedded_model(quiet=True)


@pytest.fixture(scope="session")
def engine(embedded_model_dir):
    backend = resolve_backend("embedded")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def vllm_server(embedded_model_dir):
    with VLLMServerProcess(embedded_model_dir, dtype="float32") as server:
        yield server


@pytest.fixture
def server_backend(vllm_server):
    backend = VLLMServer(vllm_server.url, timeout=300)
    yield backend
    backend.close()
