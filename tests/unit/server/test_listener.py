"""The listener `parlantish serve` runs (uvicorn with its settings) on a loopback port: a client
that never finishes its headers is dropped; one that does is served."""

import json
import socket
import threading
import time
from contextlib import contextmanager

import pytest
import uvicorn

from parlantish.backends import ScriptedBackend
from parlantish.backends.launch import free_port
from parlantish.server import ProxyConfig, create_app, load_blueprints
from parlantish.server.listener import server_config

from .test_proxy_app import GOOD, arq, body


@contextmanager
def listening(folder, backend):
    """The proxy on ``backend`` behind ``parlantish serve``'s listener (header deadline 0.5 s)."""
    config = ProxyConfig(upstream="scripted", blueprints=load_blueprints(folder))
    port = free_port()
    instance = uvicorn.Server(
        server_config(
            create_app(config, backend),
            port=port,
            header_timeout_s=0.5,
            keep_alive_s=30,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert instance.started
    try:
        yield port
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(folder):
    with listening(folder, ScriptedBackend([])) as port:
        yield port


def closed_within(connection: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within ``seconds`` (reading what it sends)."""
    connection.settimeout(seconds)
    try:
        while connection.recv(65536):
            pass
    except TimeoutError:
        return False
    return True


def test_a_client_that_never_finishes_its_headers_is_dropped(server):
    with socket.create_connection(("127.0.0.1", server)) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: proxy\r\nX-Slow: ")
        assert closed_within(connection, 5)


def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_request(server):
    with socket.create_connection(("127.0.0.1", server)) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: proxy\r\n\r\n")
        connection.settimeout(5)
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: proxy\r\n")  # then nothing
        assert closed_within(connection, 5)


def test_a_slow_but_complete_request_is_served(server):
    with socket.create_connection(("127.0.0.1", server)) as connection:
        for part in (b"GET /health HTTP/1.1\r\n", b"Host: proxy\r\n", b"\r\n"):
            connection.sendall(part)
            time.sleep(0.1)
        connection.settimeout(5)
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")


def test_an_oversized_body_is_refused_and_the_connection_closed(server):
    with socket.create_connection(("127.0.0.1", server)) as connection:
        connection.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: proxy\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n" + b" " * 65536
        )
        connection.settimeout(5)
        answer = connection.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413") and b"request_too_large" in answer
        assert closed_within(connection, 5)  # not kept open to read the other 50 MB


def test_a_pipelined_request_slower_than_the_deadline_is_answered(folder):
    with listening(folder, ScriptedBackend([arq(GOOD)], delay_s=1.0)) as port:
        payload = json.dumps(body()).encode()
        slow = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: proxy\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload)
        ) + payload
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: proxy\r\n\r\n" + slow)
            connection.settimeout(5)
            received = b""
            while received.count(b"HTTP/1.1 200") < 2:
                data = connection.recv(65536)
                assert data, f"closed after {received!r}"
                received += data
