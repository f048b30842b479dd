"""IFEval instruction types: the edge cases of the reference implementation's rules."""

import json
from pathlib import Path

import pytest

from parlantish.checks import build_check
from parlantish.checks.ifeval import IFEVAL_IDS, loose_variants
from parlantish.checks.ifeval_data import Summary, score_record

DATA = Path(__file__).parents[3] / "examples" / "data" / "ifeval_input_data.jsonl"


def verdict(instruction_id, text, mode="strict", **kwargs):
    return build_check({instruction_id: {**kwargs, "mode": mode}})(text).passed


def test_all_25_types_are_registered():
    assert len(IFEVAL_IDS) == 25 and len(set(IFEVAL_IDS)) == 25


def test_every_instruction_in_the_dataset_has_a_check_and_valid_kwargs():
    for line in DATA.read_text().splitlines():
        record = json.loads(line)
        score = score_record({**record, "response": record["prompt"]})
        assert len(score.strict) == len(record["instruction_id_list"])


def test_words_are_runs_of_word_characters():
    assert verdict(
        "length_constraints:number_words", "it's a café-bar", num_words=5, relation="at least"
    )
    assert not verdict(
        "length_constraints:number_words", "it's a café-bar", num_words=6, relation="at least"
    )
    assert verdict("length_constraints:number_words", "one two", num_words=3, relation="less than")


def test_sentences_use_punkt():
    text = "Mr. Smith went to Washington. He met Dr. Jones there! Did it go well?"
    assert verdict(
        "length_constraints:number_sentences", text, num_sentences=3, relation="at least"
    )
    assert verdict(
        "length_constraints:number_sentences", text, num_sentences=4, relation="less than"
    )
    assert not verdict(
        "length_constraints:number_sentences", text, num_sentences=3, relation="less than"
    )


def test_paragraphs_split_by_markdown_divider():
    check = "length_constraints:number_paragraphs"
    assert verdict(check, "one\n***\ntwo", num_paragraphs=2)
    assert verdict(check, "***\none *** two\n***", num_paragraphs=2)  # empty ends are not counted
    assert not verdict(
        check, "one\n***\n***\ntwo", num_paragraphs=2
    )  # an empty one in between fails


def test_nth_paragraph_first_word():
    check = "length_constraints:nth_paragraph_first_word"
    text = 'Intro here.\n\n"Summer, again" she said.\n\nEnd.'
    assert verdict(check, text, num_paragraphs=3, nth_paragraph=2, first_word="summer")
    assert not verdict(check, text, num_paragraphs=2, nth_paragraph=2, first_word="summer")
    assert not verdict(check, text, num_paragraphs=3, nth_paragraph=4, first_word="summer")


def test_keywords_are_case_insensitive_regex_searches():
    assert verdict("keywords:existence", "I concatenate strings", keywords=["CAT"])
    assert not verdict("keywords:existence", "dog only", keywords=["cat", "dog"])
    assert verdict(
        "keywords:frequency", "Cat cat CAT", keyword="cat", frequency=3, relation="at least"
    )
    assert verdict(
        "keywords:frequency", "Cat cat", keyword=" cat ", frequency=3, relation="less than"
    )
    assert verdict("keywords:existence", "a (b", keywords=["(b"])  # not a regex: matched literally


def test_forbidden_words_are_whole_words():
    assert verdict("keywords:forbidden_words", "I concatenate strings", forbidden_words=["cat"])
    assert not verdict("keywords:forbidden_words", "The Cat sat", forbidden_words=["cat"])


def test_letter_frequency_counts_the_given_character_lowercased():
    assert verdict(
        "keywords:letter_frequency", "Aa a!", letter="a", let_frequency=3, let_relation="at least"
    )
    assert verdict(
        "keywords:letter_frequency", "#a #b", letter="#", let_frequency=2, let_relation="at least"
    )
    assert verdict(
        "keywords:letter_frequency", "aaa", letter="A", let_frequency=4, let_relation="less than"
    )


def test_language_and_case():
    french = "Bonjour tout le monde, ceci est une réponse écrite entièrement en français."
    assert verdict("language:response_language", french, language="fr")
    assert not verdict("language:response_language", french, language="en")
    assert verdict("language:response_language", "12345 !!!", language="de")  # undetectable passes
    upper = "HELLO, HOW ARE YOU TODAY? I HOPE THAT YOU ARE DOING WELL AND THAT THE WEATHER IS NICE."
    assert verdict("change_case:english_capital", upper)
    # langdetect places some short all-caps English elsewhere (here: Somali); IFEval fails it too
    assert not verdict("change_case:english_capital", "THIS IS AN ANSWER IN ENGLISH WITH CAPITALS")
    assert not verdict("change_case:english_capital", "THIS IS mostly upper")
    assert verdict(
        "change_case:english_lowercase", "this is an answer written in lowercase english"
    )
    assert not verdict(
        "change_case:english_lowercase", "ceci est une réponse écrite en français minuscule"
    )


def test_capital_words_use_nltk_tokens():
    text = "WOW this is GREAT, really GREAT."
    assert verdict(
        "change_case:capital_word_frequency", text, capital_frequency=3, capital_relation="at least"
    )
    assert verdict(
        "change_case:capital_word_frequency",
        text,
        capital_frequency=4,
        capital_relation="less than",
    )


def test_format_checks():
    assert verdict(
        "detectable_format:number_bullet_lists", "* a\n* b\n- c\n**not** a bullet", num_bullets=3
    )
    assert verdict(
        "detectable_format:number_highlighted_sections", "*one* and **two**", num_highlights=2
    )
    assert not verdict(
        "detectable_format:number_highlighted_sections", "** ** and *  *", num_highlights=1
    )
    assert verdict(
        "detectable_format:multiple_sections",
        "SECTION 1\na\nSECTION 2\nb",
        section_spliter="SECTION",
        num_sections=2,
    )
    assert not verdict(
        "detectable_format:multiple_sections",
        "Section 1 a",
        section_spliter="SECTION",
        num_sections=1,
    )
    assert verdict("detectable_format:json_format", '```json\n{"a": 1}\n```')
    assert not verdict("detectable_format:json_format", "{a: 1}")
    assert verdict("detectable_format:title", "<<My Title>>\ntext")
    assert not verdict("detectable_format:title", "<<   >> and <<\nbroken>>")
    assert verdict("detectable_format:constrained_response", "Well. My answer is maybe.")


def test_content_checks():
    assert verdict(
        "detectable_content:number_placeholders", "[name] at [address]", num_placeholders=2
    )
    assert verdict("detectable_content:postscript", "Hi.\np. s. see you", postscript_marker="P.S.")
    assert verdict("detectable_content:postscript", "Hi.\nP.P.S more", postscript_marker="P.P.S")
    assert not verdict("detectable_content:postscript", "Hi. PS: no dots", postscript_marker="P.S.")


def test_start_end_and_combination_checks():
    assert verdict(
        "startend:end_checker", 'All done. Any other questions?"', end_phrase="any other questions?"
    )
    assert verdict("startend:quotation", '  "quoted"  ')
    assert not verdict("startend:quotation", '"')
    assert verdict("combination:two_responses", "first ****** second")
    assert not verdict("combination:two_responses", "same ****** same")
    assert not verdict("combination:two_responses", "a ****** ****** b")
    assert verdict(
        "combination:repeat_prompt", "  WRITE a poem. Here it is", prompt_to_repeat="Write a poem."
    )
    assert not verdict("punctuation:no_comma", "a, b")


def test_empty_responses_never_follow():
    assert not verdict("punctuation:no_comma", "   ")
    assert not verdict("punctuation:no_comma", "", mode="loose")


def test_loose_mode_drops_first_and_last_lines_and_asterisks():
    text = "Sure, here it is:\nno commas in this part\nHope that helps, bye"
    assert not verdict("punctuation:no_comma", text)
    assert verdict("punctuation:no_comma", text, mode="loose")
    assert len(loose_variants(text)) == 8
    assert verdict("startend:quotation", '*"quoted"*', mode="loose")
    assert not verdict("startend:quotation", '*"quoted"*')


def test_missing_kwargs_are_errors_not_random_choices():
    from parlantish.checks import CheckSpecError

    with pytest.raises(CheckSpecError, match="num_words"):
        build_check({"length_constraints:number_words": {"relation": "at least"}})
    with pytest.raises(CheckSpecError, match="relation"):
        build_check({"length_constraints:number_words": {"num_words": 3, "relation": "at most"}})


def test_summary_accuracies():
    summary = Summary()
    summary.add(
        score_record(
            {
                "response": "a b",
                "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
                "kwargs": [{}, {"num_words": 3, "relation": "at least"}],
            }
        )
    )
    summary.add(
        score_record(
            {"response": "x", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
        )
    )
    assert summary.to_dict() == {
        "prompts": 2,
        "instructions": 3,
        "prompt_level_strict": 0.5,
        "prompt_level_loose": 0.5,
        "instruction_level_strict": 0.6667,
        "instruction_level_loose": 0.6667,
    }
