"""Prometheus metrics of one proxy (its own registry, served at ``/metrics``)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["ProxyMetrics"]


class ProxyMetrics:
    """Requests by mode and outcome, failures by kind, check failures by check, latency and
    tokens."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "parlantish_requests",
            "Chat completion requests by mode (guarded/passthrough) and HTTP status.",
            ["mode", "status"],
            registry=self.registry,
        )
        self.failures = Counter(
            "parlantish_failures",
            "Failed requests by kind (auth, invalid_request, unknown_blueprint, variables, "
            "upstream, deadline, checks_failed, internal).",
            ["kind"],
            registry=self.registry,
        )
        self.check_failures = Counter(
            "parlantish_check_failures",
            "Failed checks in guarded attempts, by blueprint and check.",
            ["blueprint", "check"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "parlantish_request_latency_seconds",
            "Latency of chat completion requests.",
            ["mode"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=self.registry,
        )
        self.tokens = Counter(
            "parlantish_tokens",
            "Tokens by kind (prompt/completion), summed over attempts.",
            ["kind"],
            registry=self.registry,
        )

        # Label children looked up once (``labels()`` takes a lock and builds a key each call).
        self.prompt_tokens = self.tokens.labels("prompt")
        self.completion_tokens = self.tokens.labels("completion")
        self._requests: dict[tuple[str, int], Any] = {}
        self._latency = {mode: self.latency.labels(mode) for mode in ("guarded", "passthrough")}

    def request(self, mode: str, status: int, seconds: float) -> None:
        """Count one chat completion request and its latency."""
        counter = self._requests.get((mode, status))
        if counter is None:
            counter = self._requests[mode, status] = self.requests.labels(mode, str(status))
        counter.inc()
        self._latency[mode].observe(seconds)

    def count_usage(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens.inc(prompt_tokens)
        self.completion_tokens.inc(completion_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
