"""Blocking forms of a Guard's calls, run on one event-loop thread per Guard."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any

from parlantish.backends.base import LoopThread
from parlantish.core import ChatMessage
from parlantish.errors import ParlantishError
from parlantish.runtime.result import GuardReply
from parlantish.runtime.streaming import CheckpointEvent, FinalEvent, RetryEvent, TextDelta

__all__ = ["Call", "Messages", "SyncCalls"]

Messages = Sequence[ChatMessage | Mapping[str, Any]]
Call = tuple[Messages, Mapping[str, Any] | None] | Mapping[str, Any]
Event = CheckpointEvent | TextDelta | RetryEvent | FinalEvent


class SyncCalls:
    """``reply``, ``reply_many`` and ``stream``: the blocking forms of ``areply``,
    ``areply_many`` and ``astream``, safe to call from several threads at once (the loop
    thread is created once, under a lock)."""

    _loop: LoopThread | None  # both set by the class's __init__
    _loop_lock: threading.Lock

    # The asynchronous calls, defined by the class.
    areply: Callable[..., Coroutine[Any, Any, GuardReply]]
    areply_many: Callable[..., Coroutine[Any, Any, list[GuardReply | ParlantishError]]]
    astream: Callable[..., AsyncIterator[Event]]

    def _sync(self) -> LoopThread:
        with self._loop_lock:
            if self._loop is None:
                self._loop = LoopThread()
            return self._loop

    def reply(
        self, messages: Messages, variables: Mapping[str, Any] | None = None, **options: Any
    ) -> GuardReply:
        """Blocking :meth:`areply`."""
        return self._sync().run(self.areply(messages, variables, **options))

    def reply_many(
        self, calls: Sequence[Call], **options: Any
    ) -> list[GuardReply | ParlantishError]:
        """Blocking :meth:`areply_many`."""
        return self._sync().run(self.areply_many(calls, **options))

    def stream(
        self, messages: Messages, variables: Mapping[str, Any] | None = None, **options: Any
    ) -> Iterator[Event]:
        """Blocking :meth:`astream`."""
        yield from self._sync().iterate(self.astream(messages, variables, **options))
