import pytest

from parlantish.checks import CheckSpecError, build_check, get_check_type


def test_not_degenerate_passes_ordinary_text():
    check = build_check("not_degenerate")
    text = (
        "Hello Dana, I am sorry about the double charge. I cannot approve a refund myself, "
        "but I can escalate this to a human agent who will look at your account today."
    )
    assert check(text).passed
    assert check("").passed
    assert check("Well --- that was quick.").passed


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2", "'2 ' repeated over"),
        ("Thanks!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", "'!' repeated over"),
        ("hahahahahahahahahahahahahahaha", "'ha' repeated over"),
        ("Stop\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n", "'\\n' repeated over"),
        ("I can help you. " * 6, "'i can help you' occurs 6 times"),
    ],
)
def test_not_degenerate_catches_loops(text, detail):
    result = build_check("not_degenerate")(text)
    assert not result.passed
    assert detail in result.detail


def test_not_degenerate_parameters():
    looping = "the tide comes in. " * 3
    assert build_check("not_degenerate")(looping).passed
    assert not build_check({"not_degenerate": {"max_repeats": 2}})(looping).passed
    assert build_check({"not_degenerate": {"ngram": 5}})("a b c d " * 5).passed
    assert not build_check({"not_degenerate": {"max_run": 4}})("okay.....").passed
    with pytest.raises(CheckSpecError):
        build_check({"not_degenerate": {"ngram": 0}})
    with pytest.raises(CheckSpecError):
        build_check({"not_degenerate": {"window": 3}})
    check_type = get_check_type("not_degenerate")
    assert check_type.locatable and "loop" in check_type.doc


def test_the_demo_suite_checks_for_degeneration():
    from pathlib import Path

    from parlantish.eval.suite import load_suite

    suite = load_suite(Path(__file__).parents[3] / "examples" / "consistency-suite.yaml")
    for scenario in suite.scenarios:
        assert "not_degenerate" in [check.name for check in scenario.checks], scenario.id
