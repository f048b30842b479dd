"""The README's examples run as written: the unit tier (no engine, no server).

Each fenced block of README.md is one test (``tests/readme_examples.py`` says how each kind of
block is run); the blocks marked ``integration`` run in tests/integration/test_readme_examples.py.
"""

import re
import textwrap
from pathlib import Path

import pytest

from tests.readme_examples import (
    README,
    SHELL,
    Block,
    Context,
    ExampleError,
    check_output,
    check_yaml,
    preceding_python,
    readme_blocks,
    run_python,
    run_shell,
    with_options,
)

BLOCKS = readme_blocks()
UNIT = [b for b in BLOCKS if b.kind != "integration"]
_OUTPUTS: dict[tuple[int, str, str], str] = {}


def _python_output(block: Block, workdir: Path) -> str:
    key = (block.line, block.text, repr(sorted(block.options.items())))
    if key not in _OUTPUTS:
        _OUTPUTS[key] = run_python(block, Context("unit", workdir))
    return _OUTPUTS[key]


def run_block(block: Block, blocks: list[Block], workdir: Path) -> list[str]:
    """Test one block in the unit tier; returns the commands left out, with their reasons."""
    if block.problem:
        raise ExampleError(block.problem)
    if block.kind == "skip":
        return [f"{block.where}: {block.options['reason']}"]
    if block.kind == "output":
        source = preceding_python(blocks, block)
        if source.kind == "integration":
            raise ExampleError(f"{block.where}: the Python block above runs in integration")
        source = with_options(source, block.options)
        check_output(block, _python_output(source, workdir / "source"))
        return []
    if block.lang == "python":
        _python_output(block, workdir)
        return []
    if block.lang in SHELL:
        return run_shell(block, Context("unit", workdir))
    if block.lang == "yaml":
        check_yaml(block, workdir)
        return []
    raise ExampleError(
        f"{block.where}: no way to run a ```{block.lang or '(plain)'} block: add a "
        "`<!-- readme-test: … -->` directive above its fence (output, synopsis, or skip with "
        "a reason)"
    )


@pytest.mark.parametrize("block", UNIT, ids=[b.id for b in UNIT])
def test_readme_example(block: Block, tmp_path: Path) -> None:
    (tmp_path / "source").mkdir()
    left_out = run_block(block, BLOCKS, tmp_path)
    if block.kind == "skip":
        pytest.skip(left_out[0])


def test_every_fence_of_the_readme_is_a_case():
    # Counted independently of the Markdown parser: opening fences at the start of a line.
    fences = re.findall(r"^```", README.read_text(encoding="utf-8"), re.M)
    assert len(fences) % 2 == 0
    assert len([b for b in BLOCKS if b.lang or b.text]) == len(fences) // 2
    ids = [b.id for b in BLOCKS]
    assert len(ids) == len(set(ids))


def _blocks_of(tmp_path: Path, markdown: str) -> list[Block]:
    page = tmp_path / "README.md"
    page.write_text(textwrap.dedent(markdown), encoding="utf-8")
    return readme_blocks(page)


def _fails(tmp_path: Path, markdown: str) -> str:
    blocks = _blocks_of(tmp_path, markdown)
    work = tmp_path / "work"
    (work / "source").mkdir(parents=True, exist_ok=True)
    with pytest.raises(ExampleError) as error:
        for block in blocks:
            run_block(block, blocks, work)
    return str(error.value)


def test_a_python_example_that_raises_fails_naming_its_line(tmp_path):
    message = _fails(tmp_path, "# Use\n\ntext\n\n```python\nimport parlantish\n1 / 0\n```\n")
    assert re.search(r"^README\.md:5: the Python example of .*'Use' block 1", message)
    assert "ZeroDivisionError" in message


def test_a_shell_command_that_fails_names_its_line(tmp_path):
    message = _fails(tmp_path, "# Run\n\n```sh\nparlantish --help\nparlantish nosuch\n```\n")
    assert message.startswith("README.md:5: `parlantish nosuch` exited 2")


def test_a_synopsis_option_the_command_lacks_fails(tmp_path):
    markdown = "# Run\n\n```sh\nparlantish lint FILES [--no-such-flag]\n```\n"
    assert "has no option --no-such-flag" in _fails(tmp_path, markdown)


def test_an_example_that_needs_the_engine_needs_a_directive(tmp_path):
    markdown = "# Run\n\n```sh\nparlantish generate hi --backend embedded\n```\n"
    assert "needs the engine or a server" in _fails(tmp_path, markdown)


def test_a_skip_needs_a_reason_and_a_plain_block_a_directive(tmp_path):
    markdown = "# A\n\n<!-- readme-test: skip -->\n```sh\nls\n```\n"
    assert "a skip needs reason" in _fails(tmp_path, markdown)
    assert "no way to run a ```(plain) block" in _fails(tmp_path, "# A\n\n```\nhello\n```\n")


def test_a_blueprint_that_does_not_lint_fails(tmp_path):
    markdown = "# B\n\n```yaml\nblueprint: x\ninstructions: {a: b}\nchekpoints: []\n```\n"
    assert "`parlantish lint` of the YAML" in _fails(tmp_path, markdown)


def test_a_transcript_line_the_example_does_not_print_fails(tmp_path):
    markdown = """\
        # T

        ```python
        print("pass rate 0.50 (1/2)")
        ```

        <!-- readme-test: output -->
        ```
        pass rate 0.25 (1/4)
        ```
        """
    assert not _blocks_of(tmp_path, markdown)[1].problem
    (tmp_path / "work" / "source").mkdir(parents=True, exist_ok=True)
    blocks = _blocks_of(tmp_path, markdown)
    run_block(blocks[1], blocks, tmp_path / "work")  # numbers may differ
    wrong = markdown.replace("pass rate 0.25", "fail rate 0.25")
    assert "the transcript line 'fail rate 0.25 (1/4)' is not in" in _fails(tmp_path, wrong)
