import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parlantish.checks import (
    CheckParams,
    CheckSpecError,
    build_check,
    build_checks,
    check_names,
    first_failure,
    get_check_type,
    register,
)


def test_file_forms():
    assert build_check("no_comma")("a b").passed
    assert build_check({"max_words": 2})("a b").passed
    assert not build_check({"max_words": 1})("a b").passed
    labelled = build_check({"check": "contains", "label": "mentions escalation", "text": "human"})
    result = labelled("Let me get a human.")
    assert result.name == "mentions escalation" and result.passed


def test_unknown_names_and_bad_parameters_are_located_errors():
    with pytest.raises(CheckSpecError, match="did you mean 'max_words'") as caught:
        build_checks(["no_comma", {"max_word": 3}])
    assert caught.value.path == ("checks", 1)
    with pytest.raises(CheckSpecError, match="at_least, at_most or exactly"):
        build_check({"words_count": {}})
    with pytest.raises(CheckSpecError, match="invalid regex"):
        build_check({"matches": "("})
    with pytest.raises(CheckSpecError, match="Extra inputs"):
        build_check({"contains": {"text": "x", "colour": "red"}})
    with pytest.raises(CheckSpecError, match="one key"):
        build_check({"contains": "a", "matches": "b"})
    with pytest.raises(CheckSpecError, match="mapping of parameters"):
        build_check({"no_comma": 3})


def test_custom_checks_register_with_a_decorator():
    class Mentions(CheckParams):
        product: str

    @register("test_mentions_product", Mentions, primary="product")
    def mentions(text, params):
        """Mentions the product."""
        return params.product in text, "looked"

    assert build_check({"test_mentions_product": "Acme"})("Acme rocks").to_dict() == {
        "name": "test_mentions_product",
        "passed": True,
        "detail": "looked",
    }
    assert get_check_type("test_mentions_product").doc == "Mentions the product."
    with pytest.raises(ValueError, match="already registered"):
        register("test_mentions_product", Mentions)(mentions)


def test_text_checks():
    assert build_check({"contains": "REFUND"})("no refund").passed
    assert not build_check({"contains": {"text": "REFUND", "case_sensitive": True}})(
        "no refund"
    ).passed
    result = build_check({"not_matches": "(?i)refund (is|was) approved"})(
        "Your refund was approved."
    )
    assert not result.passed and "refund was approved" in result.detail
    assert build_check({"json_schema": {"type": "object", "required": ["a"]}})('{"a": 1}').passed
    assert "not JSON" in build_check("json_valid")("{").detail
    assert build_check({"sentences_count": {"at_least": 2, "at_most": 3}})(
        "One. Two. Three."
    ).passed
    assert (
        build_check({"max_paragraphs": 2})("a\n\nb").passed
        and not build_check({"max_paragraphs": 1})("a\n\n b").passed
    )
    assert build_check({"bullets_count": {"exactly": 2}})("* a\n- b").passed
    assert build_check({"numbered_items_count": {"at_least": 2}})("1. a\n2) b").passed
    assert build_check({"starts_with": "dear"})("  Dear Dana").passed
    assert build_check({"ends_with": {"text": "Bye.", "case_sensitive": True}})("Ok. Bye.  ").passed
    assert build_check({"language": "en"})(
        "This is clearly written in the English language."
    ).passed
    assert not build_check({"language": "en"})("12345").passed
    assert (
        build_check("lowercase")("all lower").passed and build_check("uppercase")("ALL UP").passed
    )
    assert not build_check({"forbidden_words": ["refund", "money back"]})(
        "Get your MONEY BACK"
    ).passed
    assert build_check("quoted")('"x y"').passed


def test_combinators():
    both = build_check({"all_of": ["no_comma", {"max_words": 3}]})
    assert both("a b c").passed and not both("a, b").passed
    either = build_check({"any_of": [{"contains": "x"}, {"contains": "y"}]})
    assert either("y").passed and not either("z").passed
    negated = build_check({"not": {"contains": "refund"}})
    assert negated("none").passed and not negated("refund").passed
    with pytest.raises(CheckSpecError):
        build_check({"all_of": [{"nope": 1}]})


def test_segments_and_first_failure():
    check = build_check({"forbidden_words": ["refund"]})
    text = "Hello there. Sorry. A refund is coming. Bye."
    assert check(text, span=(0, 19)).passed and check(text, span=(0, 19)).span == (0, 19)
    assert first_failure(check, text, [12, 19, 38, len(text)]) == 38
    assert first_failure(check, "clean text", [5, 10]) is None


# Every deterministic built-in (the judge calls a model; it has its own tests).
ALL_CHECKS = [
    name
    for name in check_names()
    if not name.startswith("test_") and get_check_type(name).deterministic
]
SAMPLE_PARAMS = {
    "keywords:existence": {"keywords": ["a"]},
    "keywords:frequency": {"keyword": "a", "frequency": 1, "relation": "at least"},
    "keywords:forbidden_words": {"forbidden_words": ["a"]},
    "keywords:letter_frequency": {"letter": "a", "let_frequency": 1, "let_relation": "less than"},
    "language:response_language": {"language": "en"},
    "change_case:capital_word_frequency": {"capital_frequency": 1, "capital_relation": "at least"},
    "length_constraints:number_words": {"num_words": 3, "relation": "at least"},
    "length_constraints:number_sentences": {"num_sentences": 2, "relation": "less than"},
    "length_constraints:number_paragraphs": {"num_paragraphs": 2},
    "length_constraints:nth_paragraph_first_word": {
        "num_paragraphs": 2,
        "nth_paragraph": 1,
        "first_word": "a",
    },
    "detectable_content:number_placeholders": {"num_placeholders": 1},
    "detectable_content:postscript": {"postscript_marker": "P.S."},
    "detectable_format:number_bullet_lists": {"num_bullets": 1},
    "detectable_format:number_highlighted_sections": {"num_highlights": 1},
    "detectable_format:multiple_sections": {"section_spliter": "Section", "num_sections": 1},
    "combination:repeat_prompt": {"prompt_to_repeat": "a"},
    "startend:end_checker": {"end_phrase": "a"},
    "contains": {"text": "a"},
    "not_contains": {"text": "a"},
    "matches": {"pattern": "a"},
    "not_matches": {"pattern": "a"},
    "json_schema": {"schema": {"type": "object"}},
    "starts_with": {"text": "a"},
    "ends_with": {"text": "a"},
    "language": {"code": "en"},
    "forbidden_words": {"words": ["a"]},
    "all_of": {"checks": ["no_comma"]},
    "any_of": {"checks": ["no_comma"]},
    "not": {"check": "no_comma"},
}


def sample(name):
    if name in SAMPLE_PARAMS:
        return {name: SAMPLE_PARAMS[name]}
    if name.endswith("_count"):
        return {name: {"at_least": 1}}
    if name.startswith(("max_", "min_")):
        return {name: 2}
    return name


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(max_size=300)
    | st.sampled_from(["", " ", "\n\n", "é" * 5000, "***", "******", "<<>>"])
)
def test_no_check_raises_on_any_text(text):
    for name in ALL_CHECKS:
        result = build_check(sample(name))(text)
        assert isinstance(result.passed, bool)
