"""The blueprint language: files authors write, loaded with located errors."""

from parlantish.blueprint.loader import (
    Blueprint,
    BlueprintError,
    lint_file,
    load_blueprint,
    load_blueprint_text,
)
from parlantish.blueprint.model import (
    AnswerSpec,
    BlueprintFile,
    Checkpoint,
    OnFail,
    ReplySpec,
    SegmentsSpec,
    VariableSpec,
)
from parlantish.blueprint.schema import blueprint_json_schema
from parlantish.blueprint.source import Problem
from parlantish.blueprint.templates import TemplateRenderError
from parlantish.blueprint.variables import VariablesError, resolve_variables

__all__ = [
    "AnswerSpec",
    "Blueprint",
    "BlueprintError",
    "BlueprintFile",
    "Checkpoint",
    "OnFail",
    "Problem",
    "ReplySpec",
    "SegmentsSpec",
    "TemplateRenderError",
    "VariableSpec",
    "VariablesError",
    "blueprint_json_schema",
    "lint_file",
    "load_blueprint",
    "load_blueprint_text",
    "resolve_variables",
]
