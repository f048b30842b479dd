"""The output folder lock: one holder at a time, the second told the holder's PID."""

import multiprocessing
import os

import pytest

from parlantish.errors import UserError
from parlantish.eval.lock import OutputLockedError, lock_output


def _hold(folder, ready, done):
    with lock_output(folder):
        ready.set()
        done.wait(30)


def _try(folder, queue):
    try:
        with lock_output(folder):
            queue.put(("acquired", None))
    except OutputLockedError as e:
        queue.put(("refused", e.pid))


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready, done, queue = context.Event(), context.Event(), context.Queue()
    holder = context.Process(target=_hold, args=(tmp_path, ready, done))
    holder.start()
    try:
        assert ready.wait(30)
        other = context.Process(target=_try, args=(tmp_path, queue))
        other.start()
        other.join(30)
        assert queue.get(timeout=5) == ("refused", holder.pid)
    finally:
        done.set()
        holder.join(30)
    # Once the holder has gone, the folder is free again.
    other = context.Process(target=_try, args=(tmp_path, queue))
    other.start()
    other.join(30)
    assert queue.get(timeout=5) == ("acquired", None)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    context = multiprocessing.get_context("spawn")
    ready, done = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(tmp_path, ready, done))
    holder.start()
    assert ready.wait(30)
    holder.kill()
    holder.join(30)
    with lock_output(tmp_path) as lock:
        assert lock.held and (tmp_path / ".lock").read_text().strip() == str(os.getpid())
    assert not lock.held


def test_the_error_is_a_user_error_naming_the_pid(tmp_path):
    # flock is per open file: a second open in this process is refused too.
    with lock_output(tmp_path / "out"), pytest.raises(UserError, match=f"process {os.getpid()}"):
        lock_output(tmp_path / "out")
    lock_output(tmp_path / "out").release()
