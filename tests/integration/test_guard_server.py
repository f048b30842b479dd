"""The Guard against the real vLLM server: a batch of 8, one made to fail by a tiny deadline."""

import asyncio
from pathlib import Path

import pytest

from parlantish import Guard
from parlantish.errors import DeadlineExceededError

pytestmark = pytest.mark.server

TRIAGE = Path(__file__).parents[2] / "blueprints" / "ticket-triage.yaml"


def test_batch_of_eight_with_one_tiny_deadline(server_backend):
    guard = Guard(TRIAGE, server_backend, then="return", temperature=0.7)

    async def main():
        calls = [
            guard.areply(
                [{"role": "user", "content": f"Ticket {n}: checkout is very slow."}],
                seed=n,
                deadline_s=0.001 if n == 5 else None,
            )
            for n in range(8)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(main())
    assert isinstance(results[5], DeadlineExceededError)
    others = [r for i, r in enumerate(results) if i != 5]
    assert all(not isinstance(r, BaseException) for r in others), others
    assert all(len(r.checkpoints) == 4 and r.reply["severity"] for r in others)
