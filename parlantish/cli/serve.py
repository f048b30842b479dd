"""``parlantish serve``: the guarding proxy on uvicorn."""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from parlantish.cli.options import sampling_options
from parlantish.errors import UserError
from parlantish.server.config import (
    API_KEY_ENV,
    DEFAULT_MAX_BODY_BYTES,
    HEADER_TIMEOUT_S,
    ProxyConfig,
    load_blueprints,
)


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    result = {}
    for pair in pairs:
        model, sep, blueprint = pair.partition("=")
        if not sep or not model or not blueprint:
            raise UserError(f"--map takes MODEL=BLUEPRINT, got {pair!r}")
        result[model] = blueprint
    return result


@click.command("serve")
@click.option(
    "--upstream",
    required=True,
    metavar="SPEC",
    help="'embedded', a model folder, or a vLLM URL (http://host:port/v1).",
)
@click.option(
    "--blueprints",
    "blueprints_path",
    required=True,
    type=click.Path(exists=True),
    help="A blueprint file, or a folder of them.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="MODEL=BLUEPRINT",
    help="Guard requests for an upstream model name with a blueprint (repeatable).",
)
@click.option(
    "--passthrough/--no-passthrough",
    default=False,
    show_default=True,
    help="Forward requests for models without a blueprint to the upstream unchanged.",
)
@click.option(
    "--api-key",
    envvar=API_KEY_ENV,
    default=None,
    show_envvar=True,
    help="Require 'Authorization: Bearer KEY' on every request but /health.",
)
@click.option(
    "--deadline",
    "deadline_s",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds for each guarded call, retries included (a request may set its own).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BODY_BYTES,
    show_default=True,
    help="Largest request body accepted (413 beyond).",
)
@click.option(
    "--max-requests-per-key",
    type=click.IntRange(min=1),
    default=128,
    show_default=True,
    help="Requests one API key may have in flight at once (429 beyond).",
)
@click.option(
    "--header-timeout",
    "header_timeout_s",
    type=click.FloatRange(min=0.1),
    default=HEADER_TIMEOUT_S,
    show_default=True,
    help="Seconds a client gets to send a request's headers before it is dropped.",
)
@click.option(
    "--body-timeout",
    "body_timeout_s",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds a client gets to send a request's body (408 beyond).",
)
@click.option(
    "--grammar-cache-mb",
    type=click.IntRange(min=1),
    envvar="VLLM_XGRAMMAR_CACHE_MB",
    default=64,
    show_default=True,
    show_envvar=True,
    help="Memory an in-process engine may keep for compiled grammars (each distinct "
    "variable value compiles one).",
)
@click.option(
    "--graceful-timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds in-flight requests get to finish on shutdown.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@sampling_options
def command(
    upstream: str,
    blueprints_path: str,
    host: str,
    port: int,
    pairs: tuple[str, ...],
    passthrough: bool,
    api_key: str | None,
    deadline_s: float | None,
    max_body_bytes: int,
    max_requests_per_key: int,
    header_timeout_s: float,
    body_timeout_s: float,
    grammar_cache_mb: int,
    graceful_timeout: float,
    log_level: str,
    sampling: dict[str, Any],
) -> None:
    """Serve an OpenAI-compatible API that applies blueprints: POST /v1/chat/completions,
    GET /v1/models, /health and /metrics. Point an OpenAI client's base URL at
    http://HOST:PORT/v1 and ask for model 'blueprint:NAME'."""
    import uvicorn

    from parlantish.server.app import create_app
    from parlantish.server.listener import server_config

    # Read by vLLM when an in-process engine starts (below); a server upstream has its own.
    os.environ["VLLM_XGRAMMAR_CACHE_MB"] = str(grammar_cache_mb)

    config = ProxyConfig(
        upstream=upstream,
        blueprints=load_blueprints(blueprints_path),
        model_map=_mapping(pairs),
        passthrough=passthrough,
        api_key=api_key or None,
        deadline_s=deadline_s,
        max_body_bytes=max_body_bytes,
        body_timeout_s=body_timeout_s,
        max_requests_per_key=max_requests_per_key,
        sampling=sampling,
    )
    # A line per guarded call is an access log: like uvicorn's, shown only at debug.
    trace_level = logging.DEBUG if log_level == "debug" else logging.WARNING
    logging.getLogger("parlantish.guard").setLevel(trace_level)
    app = create_app(config)  # resolves the upstream: an in-process engine starts here
    config_ = server_config(
        app,
        host=host,
        port=port,
        header_timeout_s=header_timeout_s,
        log_level=log_level,
        graceful_timeout_s=graceful_timeout,
    )
    server = uvicorn.Server(config_)
    server.run()
    if not server.started:  # e.g. the port is taken (uvicorn has logged why)
        raise SystemExit(3)
