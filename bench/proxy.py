"""Proxy overhead: 64 concurrent OpenAI clients through ``parlantish serve`` vs straight to the
same vLLM server, in pass-through mode and in guarded mode.

Pass-through: the same plain chat completion sent to the upstream directly and via the proxy.
Guarded: ``blueprint:tiny`` via the proxy vs a Guard for the same blueprint called in-process
(``direct_guard``: the same generation, parse and checks, no HTTP in between), and vs the
compiled request sent straight to the upstream (``straight_guarded``: no parse or checks).
Rounds are interleaved (the machine is noisy). Prints throughput ratios (targets: pass-through
>= 0.95 of direct, guarded via the proxy >= 0.95 of the direct Guard) and the latency the proxy
adds at p50 and p99. Ends with one JSON line.

``python bench/proxy.py --scripted`` needs no engine: on the scripted backend, the time the proxy
app adds to a guarded call (in-process ASGI, no network) and the proxy's memory over 1,000
requests with distinct variable values.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai

sys.path.insert(0, str(Path(__file__).parents[1]))

from parlantish.backends import SamplingSettings, ScriptedBackend
from parlantish.backends.embedded import EMBEDDED_ENGINE_OPTIONS, provision_embedded_model
from parlantish.backends.launch import VLLMServerProcess, free_port
from parlantish.backends.vllm_server import VLLMServer
from parlantish.blueprint import load_blueprint, load_blueprint_text
from parlantish.compiler import compile as compile_module
from parlantish.compiler import compile_plan, example_output
from parlantish.runtime import Guard
from parlantish.server import ProxyConfig, create_app

CLIENTS = 64
MAX_TOKENS = 32
TINY = """
blueprint: tiny
instructions:
  short: Answer in one short sentence.
checkpoints:
  - id: greeting
    recall: [short]
    ask: Is this a greeting?
    answer: {type: boolean}
reply: {max_length: 60}
on_fail: {retries: 0, then: return}
"""


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Hello, this is message {i}. Tell me a fact."}]


async def timed(call) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = await call()
    return time.perf_counter() - started, tokens


async def openai_batch(base_url: str, model: str, guarded: bool) -> tuple[float, list[float], int]:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0, timeout=900)

    async def one(i: int) -> int:
        completion = await client.chat.completions.create(
            model=model,
            messages=messages(i),
            max_tokens=None if guarded else MAX_TOKENS,
            temperature=0.7,
            seed=i,
        )
        return completion.usage.completion_tokens

    started = time.perf_counter()
    results = await asyncio.gather(*(timed(lambda i=i: one(i)) for i in range(CLIENTS)))
    await client.close()
    return time.perf_counter() - started, [r[0] for r in results], sum(r[1] for r in results)


async def straight_guarded(url: str) -> tuple[float, list[float], int]:
    blueprint = load_blueprint_text(TINY)
    backend = VLLMServer(url, timeout=900)

    async def one(i: int) -> int:
        plan = compile_plan(blueprint, {}, messages(i))
        result = await backend.agenerate(
            plan.request(SamplingSettings(temperature=0.7, seed=i, max_tokens=plan.max_tokens))
        )
        return result.usage.completion_tokens

    started = time.perf_counter()
    results = await asyncio.gather(*(timed(lambda i=i: one(i)) for i in range(CLIENTS)))
    await backend.aclose()
    return time.perf_counter() - started, [r[0] for r in results], sum(r[1] for r in results)


async def direct_guard(url: str) -> tuple[float, list[float], int]:
    guard = Guard(load_blueprint_text(TINY), VLLMServer(url, timeout=900))

    async def one(i: int) -> int:
        reply = await guard.areply(messages(i), temperature=0.7, seed=i)
        return reply.usage.completion_tokens

    started = time.perf_counter()
    results = await asyncio.gather(*(timed(lambda i=i: one(i)) for i in range(CLIENTS)))
    await guard.backend.aclose()
    return time.perf_counter() - started, [r[0] for r in results], sum(r[1] for r in results)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(rounds: int) -> None:
    model_dir = provision_embedded_model(quiet=True)
    dtype = str(EMBEDDED_ENGINE_OPTIONS["dtype"])
    with tempfile.TemporaryDirectory() as scratch, VLLMServerProcess(model_dir, dtype=dtype) as up:
        (Path(scratch) / "tiny.yaml").write_text(TINY)
        port = free_port()
        proxy = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "parlantish",
                "serve",
                "--upstream",
                up.url,
                "--blueprints",
                scratch,
                "--passthrough",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
        )
        proxy_url = f"http://127.0.0.1:{port}/v1"
        try:
            for _ in range(120):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            model = httpx.get(f"{up.url}/models").json()["data"][0]["id"]
            modes = {
                "direct": lambda: openai_batch(up.url, model, False),
                "passthrough": lambda: openai_batch(proxy_url, model, False),
                "straight_guarded": lambda: straight_guarded(up.url),
                "direct_guard": lambda: direct_guard(up.url),
                "proxy_guarded": lambda: openai_batch(proxy_url, "blueprint:tiny", True),
            }
            asyncio.run(modes["direct"]())  # warm-up
            asyncio.run(modes["proxy_guarded"]())
            runs: dict[str, list[tuple[float, list[float], int]]] = {k: [] for k in modes}
            for round_index in range(rounds):
                order = list(modes) if round_index % 2 == 0 else list(reversed(modes))
                for name in order:
                    runs[name].append(asyncio.run(modes[name]()))
        finally:
            proxy.terminate()
            proxy.wait(timeout=60)
    speed = {k: statistics.median(t / e for e, _, t in v) for k, v in runs.items()}
    latency = {k: [x for _, lat, _ in v for x in lat] for k, v in runs.items()}

    def added(mode: str, baseline: str, q: float) -> float:
        return round((percentile(latency[mode], q) - percentile(latency[baseline], q)) * 1000, 1)

    figures = {
        "clients": CLIENTS,
        "rounds": rounds,
        "direct_tok_s": round(speed["direct"], 1),
        "passthrough_tok_s": round(speed["passthrough"], 1),
        "straight_guarded_tok_s": round(speed["straight_guarded"], 1),
        "direct_guard_tok_s": round(speed["direct_guard"], 1),
        "proxy_guarded_tok_s": round(speed["proxy_guarded"], 1),
        "passthrough_over_direct": round(speed["passthrough"] / speed["direct"], 3),
        "guarded_over_straight": round(speed["proxy_guarded"] / speed["straight_guarded"], 3),
        "guarded_over_direct_guard": round(speed["proxy_guarded"] / speed["direct_guard"], 3),
        "passthrough_added_ms_p50": added("passthrough", "direct", 0.5),
        "passthrough_added_ms_p99": added("passthrough", "direct", 0.99),
        "guarded_added_ms_p50": added("proxy_guarded", "direct_guard", 0.5),
        "guarded_added_ms_p99": added("proxy_guarded", "direct_guard", 0.99),
        "target_passthrough_over_direct": 0.95,
        "target_guarded_over_direct_guard": 0.95,
    }
    for name in modes:
        print(
            f"{name:<17} {speed[name]:8.1f} tok/s  p50 {percentile(latency[name], 0.5):6.2f} s"
            f"  p99 {percentile(latency[name], 0.99):6.2f} s"
        )
    print(
        f"pass-through/direct: {figures['passthrough_over_direct']} (target >= 0.95); "
        f"guarded via proxy/direct Guard: {figures['guarded_over_direct_guard']} (target >= 0.95)"
        f" (/straight request: {figures['guarded_over_straight']}); added latency p50/p99: "
        f"pass-through {figures['passthrough_added_ms_p50']}/{figures['passthrough_added_ms_p99']}"
        f" ms, guarded {figures['guarded_added_ms_p50']}/{figures['guarded_added_ms_p99']} ms"
    )
    print(json.dumps(figures))


# -- offline: the scripted backend ---------------------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def _asgi_post(app, payload: dict) -> int:
    """One POST /v1/chat/completions straight into the ASGI app; the status."""
    data = json.dumps(payload).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"authorization", b"Bearer k")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    pending = [{"type": "http.request", "body": data, "more_body": False}]
    statuses: list[int] = []

    async def receive() -> dict:
        if pending:
            return pending.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


async def _limited(count: int, call) -> None:
    gate = asyncio.Semaphore(CLIENTS)

    async def one(i: int) -> None:
        async with gate:
            await call(i)

    await asyncio.gather(*(one(i) for i in range(count)))


def scripted_overhead(calls: int = 3000, rounds: int = 5) -> dict[str, float]:
    """Microseconds per guarded call: the Guard alone vs through the proxy app (best round)."""
    blueprint = load_blueprint_text(TINY)
    text = example_output(compile_plan(blueprint, {}, messages(0)), "Water boils at 100 C.")
    backend = ScriptedBackend([text], cycle=True)
    guard = Guard(blueprint, backend)
    config = ProxyConfig(upstream="scripted", blueprints={"tiny": blueprint}, api_key="k")
    app = create_app(config, backend)

    async def direct(i: int) -> None:
        await guard.areply(messages(i), temperature=0.7, seed=i)

    async def proxied(i: int) -> None:
        body = {"model": "blueprint:tiny", "messages": messages(i), "temperature": 0.7, "seed": i}
        assert await _asgi_post(app, body) == 200

    best = {"direct_guard": float("inf"), "proxy_app": float("inf")}
    for _ in range(rounds + 1):  # the first round warms up
        for name, call in (("direct_guard", direct), ("proxy_app", proxied)):
            started = time.perf_counter()
            asyncio.run(_limited(calls, call))
            best[name] = min(best[name], (time.perf_counter() - started) / calls * 1e6)
    return {
        "direct_guard_us": round(best["direct_guard"], 1),
        "proxy_app_us": round(best["proxy_app"], 1),
        "proxy_adds_us": round(best["proxy_app"] - best["direct_guard"], 1),
    }


def scripted_memory(requests: int = 1000) -> dict[str, object]:
    """Proxy RSS over ``requests`` guarded requests, each with its own variable value and
    ``max_tokens`` (the two things a client can vary without bound)."""
    blueprint = load_blueprint(Path(__file__).parents[1] / "blueprints" / "support-refunds.yaml")
    user = [{"role": "user", "content": "Refund me!"}]
    answer: dict[str, str] = {}
    backend = ScriptedBackend(lambda request: answer["text"])
    config = ProxyConfig(upstream="scripted", blueprints={blueprint.name: blueprint}, api_key="k")
    app = create_app(config, backend)
    rss: dict[int, float] = {}

    async def run() -> None:
        for i in range(requests):
            name = f"Customer {i:05d}"
            plan = compile_plan(blueprint, {"customer_name": name}, user)
            answer["text"] = example_output(plan, f"Hello {name}, an agent will review it.")
            body = {
                "model": f"blueprint:{blueprint.name}",
                "messages": user,
                "max_tokens": 400 + i,
                "parlantish": {"variables": {"customer_name": name}},
            }
            assert await _asgi_post(app, body) == 200
            backend.requests.clear()  # the scripted backend's own log, not the proxy's
            if i + 1 in (1, 100, requests // 2, requests):
                gc.collect()
                rss[i + 1] = round(_rss_mib(), 1)

    asyncio.run(run())
    return {
        "requests": requests,
        "rss_mib_after": rss,
        "rss_growth_mib": round(rss[requests] - rss[1], 1),
        "guards_cached": len(app.state.proxy.guarded.guards),
        "plans_cached": len(compile_module._cache),
    }


def main_scripted() -> None:
    figures = {"memory": scripted_memory(), "overhead": scripted_overhead()}  # memory first
    overhead, memory = figures["overhead"], figures["memory"]
    print(
        f"guarded call on the scripted backend: Guard {overhead['direct_guard_us']} us, via the "
        f"proxy app {overhead['proxy_app_us']} us (+{overhead['proxy_adds_us']} us)"
    )
    print(
        f"proxy RSS over {memory['requests']} distinct-variable requests: "
        f"{memory['rss_mib_after']} MiB (+{memory['rss_growth_mib']}); "
        f"{memory['guards_cached']} Guards and {memory['plans_cached']} plans cached"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--scripted", action="store_true", help="offline figures, no engine")
    arguments = parser.parse_args()
    if arguments.scripted:
        main_scripted()
    else:
        main(arguments.rounds)
