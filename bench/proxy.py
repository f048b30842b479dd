"""Proxy overhead: 64 concurrent OpenAI clients through ``parlantish serve`` vs straight to the
same vLLM server, in pass-through mode and in guarded mode.

Pass-through: the same plain chat completion sent to the upstream directly and via the proxy.
Guarded: ``blueprint:tiny`` via the proxy vs the same compiled request (the blueprint's prompt
and structured-output constraint) sent straight to the upstream. Rounds are interleaved (the
machine is noisy). Prints throughput ratios (target pass-through >= 0.95) and the latency the
proxy adds at p50 and p99. Ends with one JSON line.
"""

from __future__ import annotations

import asyncio
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

from parlantish.backends import SamplingSettings
from parlantish.backends.embedded import EMBEDDED_ENGINE_OPTIONS, provision_embedded_model
from parlantish.backends.launch import VLLMServerProcess, free_port
from parlantish.backends.vllm_server import VLLMServer
from parlantish.blueprint import load_blueprint_text
from parlantish.compiler import compile_plan

CLIENTS = 64
MAX_TOKENS = 32
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3  # `python bench/proxy.py 1`: one round
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
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
                "proxy_guarded": lambda: openai_batch(proxy_url, "blueprint:tiny", True),
            }
            asyncio.run(modes["direct"]())  # warm-up
            asyncio.run(modes["proxy_guarded"]())
            runs: dict[str, list[tuple[float, list[float], int]]] = {k: [] for k in modes}
            for round_index in range(ROUNDS):
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
        "rounds": ROUNDS,
        "direct_tok_s": round(speed["direct"], 1),
        "passthrough_tok_s": round(speed["passthrough"], 1),
        "straight_guarded_tok_s": round(speed["straight_guarded"], 1),
        "proxy_guarded_tok_s": round(speed["proxy_guarded"], 1),
        "passthrough_over_direct": round(speed["passthrough"] / speed["direct"], 3),
        "guarded_over_straight": round(speed["proxy_guarded"] / speed["straight_guarded"], 3),
        "passthrough_added_ms_p50": added("passthrough", "direct", 0.5),
        "passthrough_added_ms_p99": added("passthrough", "direct", 0.99),
        "guarded_added_ms_p50": added("proxy_guarded", "straight_guarded", 0.5),
        "guarded_added_ms_p99": added("proxy_guarded", "straight_guarded", 0.99),
        "target_passthrough_over_direct": 0.95,
    }
    for name in modes:
        print(
            f"{name:<17} {speed[name]:8.1f} tok/s  p50 {percentile(latency[name], 0.5):6.2f} s"
            f"  p99 {percentile(latency[name], 0.99):6.2f} s"
        )
    print(
        f"pass-through/direct: {figures['passthrough_over_direct']} (target >= 0.95); "
        f"guarded via proxy/straight: {figures['guarded_over_straight']}; added latency p50/p99: "
        f"pass-through {figures['passthrough_added_ms_p50']}/{figures['passthrough_added_ms_p99']}"
        f" ms, guarded {figures['guarded_added_ms_p50']}/{figures['guarded_added_ms_p99']} ms"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
