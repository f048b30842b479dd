import json

import pytest

from parlantish.cli.main import main


def run(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_check_ifeval_prints_verdicts_and_a_summary(tmp_path, capsys):
    data = tmp_path / "r.jsonl"
    data.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "key": 1,
                    "prompt": "p",
                    "response": "no commas here",
                    "instruction_id_list": [
                        "punctuation:no_comma",
                        "length_constraints:number_words",
                    ],
                    "kwargs": [{}, {"num_words": 10, "relation": "at least", "unused": None}],
                },
                {
                    "key": 2,
                    "prompt": "p",
                    "response": "Sure, ok\nclean line\nbye, then",
                    "instruction_id_list": ["punctuation:no_comma"],
                    "kwargs": [{}],
                },
            ]
        )
        + "\n"
    )
    code, out, err = run(["check", "ifeval", str(data)], capsys)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines == [
        {"key": 1, "strict": [True, False], "loose": [True, False]},
        {"key": 2, "strict": [False], "loose": [True]},
    ]
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["prompt_level_strict"] == 0.0 and summary["prompt_level_loose"] == 0.5
    code, out, _ = run(["check", "ifeval", str(data), "--mode", "strict"], capsys)
    assert "loose" not in out


def test_check_ifeval_errors_are_located(tmp_path, capsys):
    data = tmp_path / "r.jsonl"
    data.write_text(
        '{"response": "x", "instruction_id_list": ["punctuation:no_coma"], "kwargs": [{}]}\n{oops\n'
    )
    code, _, err = run(["check", "ifeval", str(data)], capsys)
    assert code == 1 and f"{data}:1:" in err and "did you mean 'punctuation:no_comma'" in err
    data.write_text('{"response": "x", "instruction_id_list": [], "kwargs": []}\n{oops\n')
    code, _, err = run(["check", "ifeval", str(data)], capsys)
    assert code == 1 and f"{data}:2:" in err and "Traceback" not in err


def test_check_list_shows_families(capsys):
    code, out, _ = run(["check", "list"], capsys)
    assert code == 0 and "punctuation:no_comma" in out and "judge" in out and "max_sentences" in out
