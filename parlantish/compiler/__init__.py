"""The compiler: blueprints → plans (rendered messages + one structured-output constraint)."""

from parlantish.compiler.compile import (
    clear_cache,
    compile_plan,
    explain_tiers,
    validate_messages,
)
from parlantish.compiler.examples import example_answer, example_output
from parlantish.compiler.plan import (
    ARMS,
    CheckpointAnswer,
    CompiledCheckpoint,
    OutputParseError,
    ParsedOutput,
    Plan,
)

__all__ = [
    "ARMS",
    "CheckpointAnswer",
    "CompiledCheckpoint",
    "OutputParseError",
    "ParsedOutput",
    "Plan",
    "clear_cache",
    "compile_plan",
    "example_answer",
    "example_output",
    "explain_tiers",
    "validate_messages",
]
