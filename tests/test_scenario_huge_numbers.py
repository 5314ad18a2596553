"""Regression (issue 21): an integer too large for a float (a few hundred 9s) in a scenario used to
escape simulation/scenario.py as an OverflowError while the error message was being written (the
value was shown through float()); it must end in one clean InputError naming the file and field."""

import pytest

from simulation.errors import InputError
from simulation.scenario import from_dict, load_scenario, shown

FIELDS = ["months", "seed", "sites.n", "network.p", "strategy.support.capacity", "strategy.support.cost",
          "sites.traits.turnover", "sites.traits.fit.low", "shocks.months", "outcomes.efficacy"]


def _yaml(field: str, value: str) -> str:
    keys = field.split(".")
    text = "".join("  " * i + k + ":\n" for i, k in enumerate(keys[:-1]))
    return text + "  " * (len(keys) - 1) + keys[-1] + ": " + value + "\n"


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("digits", [309, 400, 4000])
@pytest.mark.parametrize("sign", ["", "-"])
def test_an_integer_beyond_any_float_is_one_clean_error_naming_file_and_field(tmp_path, field, digits, sign):
    path = tmp_path / "huge.yaml"
    value = sign + "9" * digits
    path.write_text(_yaml(field, f"[{value}]" if field == "shocks.months" else value))
    with pytest.raises(InputError) as info:
        load_scenario(path)
    problems = info.value.problems
    assert problems and all(p.source == str(path) for p in problems)
    # the field is named; a number of thousands of digits is refused by the reader itself, at its line
    assert any(p.field.startswith(field.split(".")[0]) for p in problems) or "digits" in str(info.value)


def test_from_python_too():
    with pytest.raises(InputError) as info:
        from_dict({"months": 10**400}, "huge.yaml")
    (p,) = info.value.problems
    assert p.source == "huge.yaml" and p.field == "months" and "more than 1e308" in p.message


def test_shown_never_converts_an_unbounded_integer_to_float():
    assert shown(10**400) == "more than 1e308" and shown(-(10**400)) == "-more than 1e308"
    assert shown(10**30) == "1e+30" and shown(12345) == "12,345"
