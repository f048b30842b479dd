"""The engine's log file: what an engine start prints goes there, not to the terminal."""

import logging
import os
import subprocess
import sys

from parlantish.backends.engine_log import EngineLog


def _noisy_start():
    print("a print", flush=True)
    print("a stderr print", file=sys.stderr, flush=True)
    os.write(2, b"a C++ warning on fd 2\n")
    subprocess.run([sys.executable, "-c", "print('a child process')"], check=True)
    logging.getLogger("vllm.engine").warning("a vllm log line")


def test_an_engine_start_prints_nothing_and_its_log_has_it_all(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("PARLANTISH_HOME", str(tmp_path))
    monkeypatch.delenv("PARLANTISH_VERBOSE", raising=False)
    vllm_logger = logging.getLogger("vllm")
    monkeypatch.setattr(vllm_logger, "handlers", [logging.StreamHandler(sys.stderr)])
    monkeypatch.setattr(vllm_logger, "propagate", False)
    log = EngineLog()
    assert log.path.parent == tmp_path.resolve() / "logs"
    with log.capture():
        _noisy_start()
    logging.getLogger("vllm.engine").error("after the start: RuntimeError: boom")
    print("the CLI's own output")
    captured = capfd.readouterr()
    assert captured.out == "the CLI's own output\n"
    assert captured.err == ""
    text = log.path.read_text()
    for line in ("a print", "a stderr print", "a C++ warning", "a child process"):
        assert line in text
    assert "a vllm log line" in text and "boom" in text
    assert log.tail().startswith("ERROR") and "boom" in log.tail()


def test_verbose_lets_the_engine_output_through(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("PARLANTISH_HOME", str(tmp_path))
    monkeypatch.setenv("PARLANTISH_VERBOSE", "1")
    log = EngineLog()
    with log.capture():
        os.write(2, b"engine talk\n")
    assert capfd.readouterr().err == "engine talk\n"
    assert log.path.read_text() == ""


def test_old_logs_are_pruned(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLANTISH_HOME", str(tmp_path))
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(30):
        (logs / f"engine-2020-{i:02}.log").write_text("old")
        os.utime(logs / f"engine-2020-{i:02}.log", (1_000_000 + i, 1_000_000 + i))
    EngineLog()
    remaining = sorted(p.name for p in logs.glob("engine-*.log"))
    assert len(remaining) == 20 and "engine-2020-29.log" in remaining
