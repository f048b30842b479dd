"""Templates that are legal in the sandbox but unbounded: refused fast, naming the limit."""

import time

import pytest

from parlantish.blueprint.templates import TemplateRenderError, render_template
from parlantish.errors import Location

WHERE = Location("bp.yaml", 7, 3)


@pytest.mark.parametrize(
    ("source", "limit"),
    [
        ('{{ "x" * 10**12 }}', "over 2000000 characters"),
        ("{{ (range(10000)|list) * 1000 }}", "over 2000000 characters"),
        ('{{ ""|center(10**9) }}', "over the limit of 10000"),
        ('{{ "a".ljust(10**9) }}', "over the limit of 10000"),
        ('{{ "%1000000000s" % "a" }}', "format width"),
        ('{{ "%*s" % (10**9, "a") }}', "'*' width"),
        ('{{ "{:>1000000000}".format(1) }}', "format width"),
        ('{{ "%1000000000s"|format(1) }}', "format width"),
        ("{{ lipsum(10**6) }}", "lipsum() is limited"),
        ("{{ range(10**12)|list|length }}", "range() of over 100000"),
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "more than 100000 iterations",
        ),
        (
            '{% set ns = namespace(s="a") %}{% for i in range(60) %}'
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
            "over 2000000 characters",
        ),
        ('{{ ("a"*100000)|replace("a", "a"*1000) }}', "over 2000000 characters"),
        ('{{ ("\n"*100000)|indent("x"*1000) }}', "over 2000000 characters"),
        ('{{ ("ab"*100)|wordwrap(1, wrapstring="x"*100000) }}', "over 2000000 characters"),
        ('{{ (range(10000)|list)|join("x"*10000) }}', "over 2000000 characters"),
        ("{{ [1]|batch(10**9, 0)|list }}", "over the limit of 10000"),
        ('{{ "x"|tojson(indent=10**9) }}', "over the limit of 10000"),
        ("{{ 7 ** 10000000 }}", "bits"),
        (
            "{% set ns = namespace(n=3) %}{% for i in range(40) %}"
            "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}",
            "bits",
        ),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "RecursionError"),
    ],
)
def test_unbounded_templates_are_refused_quickly(source, limit):
    started = time.monotonic()
    with pytest.raises(TemplateRenderError) as error:
        render_template(source, {}, WHERE)
    assert time.monotonic() - started < 1
    assert limit in str(error.value) and error.value.location == WHERE


def test_a_slow_template_meets_the_time_budget():
    source = (
        "{% macro a() %}{{ 1 }}{% endmacro %}"
        + "".join(
            f"{{% macro m{i}() %}}{{{{ {'a' if i == 0 else f'm{i - 1}'}() }}}}"
            f"{{{{ {'a' if i == 0 else f'm{i - 1}'}() }}}}{{% endmacro %}}"
            for i in range(30)
        )
        + "{{ m29() }}"
    )
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match=r"longer than 0.5 s|over 2000000"):
        render_template(source, {}, WHERE)
    assert time.monotonic() - started < 1.5


def test_ordinary_templates_still_render():
    source = (
        "{% for i in range(3) %}{{ i }}{% endfor %}|{{ 'a b'|center(9) }}|{{ '%5s' % x }}|"
        "{{ '{:>4}'.format(7) }}|{{ items|join(', ') }}|{{ 'ab' * 3 }}|{{ 2 ** 10 }}"
    )
    out = render_template(source, {"x": "hi", "items": ["p", "q"]}, WHERE)
    assert out == "012|   a b   |   hi|   7|p, q|ababab|1024"


def test_large_numbers_that_are_not_widths_are_fine():
    source = "{{ missing|default(50000) }} {{ 'a,b'.split(',', 20000) }} {{ 123456 + n }}"
    assert render_template(source, {"n": 1}, WHERE) == "50000 ['a', 'b'] 123457"
