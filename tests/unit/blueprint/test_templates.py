import pytest

from parlantish.blueprint import TemplateRenderError, load_blueprint_text
from parlantish.blueprint.templates import check_template, render_template
from parlantish.compiler import compile_plan
from parlantish.errors import Location

HERE = Location("bp.yaml", 3, 9)

SSTI = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ ().__class__.__base__ }}",
    "{{ request|attr('__class__') }}",
]


@pytest.mark.parametrize("payload", SSTI)
def test_ssti_payloads_are_refused_at_render(payload):
    with pytest.raises(TemplateRenderError) as caught:
        render_template(payload, {"request": "x"}, HERE)
    assert caught.value.location == HERE


@pytest.mark.parametrize("payload", SSTI[:4])
def test_private_attribute_access_is_flagged_by_lint(payload):
    problems = check_template(payload, {"request"}, HERE)
    assert problems, payload


def test_no_file_access():
    for payload in (
        "{% include '/etc/passwd' %}",
        "{% import '/etc/passwd' as x %}",
        "{% extends '/etc/passwd' %}",
    ):
        with pytest.raises(TemplateRenderError):
            render_template(payload, {}, HERE)


def test_undefined_names_are_errors_not_empty_strings():
    with pytest.raises(TemplateRenderError, match="undefined"):
        render_template("Hi {{ nme }}", {"name": "x"}, HERE)
    assert render_template("Hi {{ name|upper }}", {"name": "x"}, HERE) == "Hi X"


def test_an_unsafe_template_in_a_blueprint_fails_at_compile_with_its_location():
    blueprint = load_blueprint_text(
        "blueprint: t\nvariables:\n  x: {type: string}\ninstructions:\n"
        "  rule: \"{{ x|attr('__class__') }}\"\n",
        "bp.yaml",
    )
    with pytest.raises(TemplateRenderError) as caught:
        compile_plan(blueprint, {"x": "a"})
    assert str(caught.value.location) == "bp.yaml:5:9"
