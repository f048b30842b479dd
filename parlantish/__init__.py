"""parlantish: keep LLM agents on their instructions.

Blueprints name an agent's key instructions and the checkpoints at which the model must restate
them; vLLM's constrained decoding forces the restatement into the generation. The evaluator
measures how much more consistently the model follows its instructions with blueprints.
"""

from parlantish.backends import (
    Backend,
    ChatMessage,
    Constraint,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
    ScriptedBackend,
    resolve_backend,
)
from parlantish.errors import ParlantishError, RunError, UserError
from parlantish.runtime import Guard, GuardReply, guarded

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "ChatMessage",
    "Constraint",
    "GenerationRequest",
    "GenerationResult",
    "Guard",
    "GuardReply",
    "ParlantishError",
    "RunError",
    "SamplingSettings",
    "ScriptedBackend",
    "UserError",
    "__version__",
    "guarded",
    "resolve_backend",
]
