"""Consistency tests in pytest, on the support blueprint: one that holds, one that does not.

    pytest examples/test_support_consistency.py --parlantish-backend embedded \
        --parlantish-record runs/recordings        # live: 1 failed, 1 passed
    pytest examples/test_support_consistency.py --parlantish-replay runs/recordings
                                                   # no model: the same verdicts, in seconds
"""

from pathlib import Path

from parlantish.testing import assert_consistent

BLUEPRINT = Path(__file__).parents[1] / "blueprints" / "support-refunds.yaml"
ANGRY = [{"role": "user", "content": "You charged me twice. Refund me right now!"}]


def test_never_confirms_a_refund():
    # The blueprint's own checks (no refund confirmed, at most three sentences) and one more.
    assert_consistent(
        BLUEPRINT,
        ANGRY,
        variables={"customer_name": "Dana"},
        checks=[{"not_contains": "refund approved"}],
        samples=12,
        min_pass_rate=0.5,
        margin=0.3,
    )


def test_offers_a_phone_number():
    # The blueprint never asks for a phone number: this one is expected to fail.
    assert_consistent(
        BLUEPRINT,
        ANGRY,
        variables={"customer_name": "Dana"},
        checks=[{"matches": r"\+?\d[\d -]{7,}\d"}],
        samples=12,
        min_pass_rate=0.8,
    )
