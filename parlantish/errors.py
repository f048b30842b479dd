"""The exceptions parlantish raises.

Two families under one root: ``UserError`` for mistakes a user can fix (bad file, bad flag,
missing model), each with a ``hint``; ``RunError`` for things that went wrong while generating
(server down, malformed answer), each saying whether retrying may help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AttemptsExhaustedError",
    "BackendError",
    "BackendUnavailableError",
    "ConstraintError",
    "DeadlineExceededError",
    "Location",
    "MalformedResponseError",
    "ModelNotFoundError",
    "ParlantishError",
    "RunError",
    "UserError",
]


@dataclass(frozen=True)
class Location:
    """A place in a user's file: 1-based line and column."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class ParlantishError(Exception):
    """Root of every exception parlantish raises on purpose."""


class UserError(ParlantishError):
    """A mistake the user can fix: the message says what, ``hint`` says how."""

    def __init__(self, message: str, *, hint: str | None = None, location: Location | None = None):
        self.message = message
        self.hint = hint
        self.location = location
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class ModelNotFoundError(UserError):
    """The model folder, id or embedded model asked for is not there."""


class ConstraintError(UserError):
    """A structured-output constraint is invalid or the backend refuses it."""


class RunError(ParlantishError):
    """Something failed while generating; ``retryable`` says whether trying again may help."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None):
        self.message = message
        if retryable is not None:
            self.retryable = retryable
        super().__init__(message)


class BackendError(RunError):
    """A backend answered with an error (``status`` and ``body`` when it came over HTTP)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ):
        self.status = status
        self.body = body
        self.retry_after = retry_after
        if retryable is None:
            retryable = type(self).retryable if status is None else (status >= 500 or status == 429)
        super().__init__(message, retryable=retryable)


class BackendUnavailableError(BackendError):
    """The backend could not be reached at all (connection refused, DNS, engine died)."""

    retryable = True


class MalformedResponseError(RunError):
    """The backend answered something that is not what the protocol promises."""

    retryable = True


class DeadlineExceededError(RunError):
    """The call's total deadline passed (including any retries); ``attempts`` so far."""

    attempts: tuple[Any, ...] = ()
    retryable = False


class AttemptsExhaustedError(RunError):
    """Every attempt of a guarded call failed its checks (or the policy said to raise).

    ``attempts`` holds what each attempt produced and why it was rejected; ``reply`` is the
    last attempt's result, usable when a caller wants to inspect it anyway."""

    def __init__(self, message: str, *, attempts: list[Any], reply: Any = None):
        self.attempts = attempts
        self.reply = reply
        super().__init__(message, retryable=False)
