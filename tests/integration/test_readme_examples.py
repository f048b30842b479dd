"""The README's examples run as written: the integration tier.

The blocks marked ``<!-- readme-test: integration -->`` run here: ``http://127.0.0.1:8000/v1`` is
the session's vLLM server, ``http://127.0.0.1:8080/v1`` a ``parlantish serve`` in front of it
(``--api-key KEY``, the README's blueprints), and ``embedded`` the in-process engine, started by
the example itself as a user's script would.
"""

from pathlib import Path

import pytest

from tests.integration.proxy import ProxyProcess
from tests.readme_examples import (
    PROXY_URL,
    ROOT,
    SHELL,
    Block,
    Context,
    ExampleError,
    readme_blocks,
    run_python,
    run_shell,
)

pytestmark = [pytest.mark.server]

INTEGRATION = [
    pytest.param(b, id=b.id, marks=[pytest.mark.engine] if "embedded" in b.text else [])
    for b in readme_blocks()
    if b.kind == "integration"
]


@pytest.fixture(scope="module")
def readme_proxy(vllm_server, tmp_path_factory):
    """The README's proxy: ``parlantish serve`` over the session's vLLM server."""
    log = tmp_path_factory.mktemp("readme-proxy") / "serve.log"
    proxy = ProxyProcess(
        "--upstream", vllm_server.url, "--blueprints", str(ROOT / "blueprints"),
        "--api-key", "KEY", log=log,
    ).start()  # fmt: skip
    yield f"{proxy.url}/v1"
    proxy.stop()


@pytest.mark.parametrize("block", INTEGRATION)
def test_readme_example(block: Block, tmp_path: Path, vllm_server, request) -> None:
    if block.problem:
        raise ExampleError(block.problem)
    proxy_url = request.getfixturevalue("readme_proxy") if PROXY_URL in block.text else None
    ctx = Context("integration", tmp_path, vllm_server.url, proxy_url, timeout_s=600)
    if block.lang == "python":
        run_python(block, ctx)
    elif block.lang in SHELL:
        run_shell(block, ctx)
    else:
        raise ExampleError(f"{block.where}: integration runs Python and shell blocks only")
