import pytest

from parlantish.blueprint import VariablesError, VariableSpec, resolve_variables

DECLARED = {
    "name": VariableSpec(type="string"),
    "count": VariableSpec(type="integer", minimum=1, default=3),
    "tier": VariableSpec(type="string", enum=["free", "pro"], default="free"),
}


def test_defaults_fill_in():
    assert resolve_variables(DECLARED, {"name": "Dana"}) == {
        "name": "Dana",
        "count": 3,
        "tier": "free",
    }


def test_each_problem_names_the_variable():
    with pytest.raises(VariablesError) as caught:
        resolve_variables(DECLARED, {"nmae": "Dana", "count": "three", "tier": "gold"})
    problems = caught.value.problems
    assert "unknown variable 'nmae' (did you mean 'name'?)" in problems
    assert "missing variable 'name'" in problems
    assert any(p.startswith("variable 'count':") and "integer" in p for p in problems)
    assert any(p.startswith("variable 'tier':") for p in problems)
    assert "declared variables: name, count, tier" in caught.value.hint


def test_bounds_apply():
    with pytest.raises(VariablesError, match="count"):
        resolve_variables(DECLARED, {"name": "x", "count": 0})
