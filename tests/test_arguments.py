"""Every numeric argument of every public factory is checked at construction, by its public name.

One row per factory x argument lists the bad values that argument must refuse (NaN, a number
out of range, a string, a schedule whose first value is out of range or not a scalar, a
schedule where only a number makes sense); each value is one test case, which asserts a
``ValueError`` whose message names the argument as the user wrote it. Wrong types raise
``ValueError`` too (as the rest of optchain's construction checks do).

:func:`test_every_numeric_argument_has_a_row` walks ``optchain.__all__`` and
``optchain.schedules.__all__`` (optchain's own objects; optax's re-exports are optax's) and
fails for a numeric parameter (a number default, or an annotation naming ``ScalarOrSchedule``,
``float`` or ``int``) without a row in ROWS (tests/argument_rows.py).

The table is in tests/argument_factories.py, tests/argument_rows.py,
tests/argument_rows_more.py and tests/argument_rows_contrib.py; exact messages and accepted
values are checked in tests/test_arguments_messages.py.
"""

from __future__ import annotations

import inspect
import re

import pytest
from argument_factories import FACTORIES, NOT_FACTORIES
from argument_rows import ROWS

import optchain as oc
from optchain import schedules as sch


def _label(value) -> str:
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    if hasattr(value, "shape"):
        return f"array{tuple(value.shape)}"
    if isinstance(value, tuple):  # a pair of betas, one a schedule: no address in the id
        return "(" + ", ".join(_label(v) for v in value) + ")"
    return repr(value)


CASES = [
    pytest.param(factory, argument, bad, id=f"{factory}-{argument}={_label(bad)}")
    for factory, argument, bads in ROWS
    for bad in bads
]


@pytest.mark.parametrize("factory,argument,bad", CASES)
def test_bad_value_is_rejected_naming_the_argument(factory, argument, bad):
    make, required = FACTORIES[factory]
    with pytest.raises(ValueError, match=rf"\b{re.escape(argument)}\b"):
        make(**{**required, argument: bad})


@pytest.mark.parametrize("factory", sorted(FACTORIES))
def test_the_valid_call_of_each_row_is_accepted(factory):
    make, required = FACTORIES[factory]
    make(**required)


_NUMERIC_ANNOTATION = re.compile(r"ScalarOrSchedule|\bfloat\b|\bint\b")


def _is_numeric(parameter: inspect.Parameter) -> bool:
    default = parameter.default
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return True
    annotation = parameter.annotation
    if annotation is inspect.Parameter.empty:
        return False
    return bool(_NUMERIC_ANNOTATION.search(str(annotation)))


def _own_functions():
    """``(name, function)`` for optchain's own public functions (optax's re-exports excluded)."""
    for module, prefix in ((oc, ""), (sch, "schedules.")):
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.isfunction(obj) or obj.__module__.startswith("optax"):
                continue
            yield prefix + name, obj


def test_every_numeric_argument_has_a_row():
    covered = {(factory, argument) for factory, argument, _ in ROWS}
    missing = []
    for name, function in _own_functions():
        if name in NOT_FACTORIES:
            continue
        for parameter in inspect.signature(function).parameters.values():
            if _is_numeric(parameter) and (name, parameter.name) not in covered:
                missing.append(f"{name}({parameter.name})")
    assert not missing, f"numeric arguments without a row in ROWS: {missing}"


def test_the_table_names_the_public_objects():
    own = dict(_own_functions())
    for name, (make, _) in FACTORIES.items():
        assert own.get(name) is make, name
    for factory, argument, bads in ROWS:
        assert argument in inspect.signature(FACTORIES[factory][0]).parameters, (factory, argument)
        assert bads, (factory, argument)


def test_coverage_counts():
    arguments = {(factory, argument) for factory, argument, _ in ROWS}
    assert len(arguments) == len(ROWS)  # one row per factory x argument
    factories = {factory for factory, _ in arguments}
    print(f"{len(factories)} factories, {len(arguments)} arguments, {len(CASES)} bad-value cases")
    assert factories == set(FACTORIES)
