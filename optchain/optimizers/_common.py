"""What every named optimizer shares: one step counter, argument checks by public name, and
the optional finite guard."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import optax

from optchain import _checks
from optchain.combine import counted_chain

GT = optax.GradientTransformationExtraArgs


def _chain(*links: optax.GradientTransformation | None) -> GT:
    """A named optimizer: its links in a :func:`counted_chain` (one step counter). ``None``
    marks a link the optimizer's structure leaves out (``momentum=None``); a value of 0 never
    removes a link: such a link is a no-op that keeps its place in the state."""
    return counted_chain(*(link for link in links if link is not None))


def _all_is_none(mask: Any) -> Any:
    """optax's masks default to ``True`` (every leaf); optchain's transforms take ``None``."""
    return None if mask is True else mask


def _inner(*links: optax.GradientTransformation | None) -> GT:
    """A sub-chain inside a named optimizer (it shares the optimizer's counter)."""
    return optax.chain(*(link for link in links if link is not None))


def _check_flags(owner: str, signature: inspect.Signature, arguments: dict[str, Any]) -> None:
    """A structural flag (an argument whose default is a bool, other than a mask, which may also
    be a tree or a callable) must be ``True`` or ``False``."""
    for name, value in arguments.items():
        default = signature.parameters[name].default
        flag = isinstance(default, bool) and not name.endswith("mask")
        if flag and not isinstance(value, bool):
            raise ValueError(f"{owner}: {name} must be True or False; got {value!r}")


def named_optimizer(factory: Callable[..., GT]) -> Callable[..., GT]:
    """Decorator of every named optimizer: checks its arguments by their public names and adds
    the keyword ``finite_guard``.

    * Each numeric argument is checked against :data:`optchain._checks.RULES` under the name
      the user wrote (``adam: b1 must be in [0, 1); got 1.5``), schedules at their first value,
      before any primitive sees it (so no error speaks of a primitive's ``decay``).
    * ``finite_guard=True`` wraps the optimizer in :func:`optchain.skip_nonfinite`: a step whose
      gradient, update or new state would be non-finite is skipped and counted. Off by
      default, so values stay optax's.
    """
    signature = inspect.signature(factory)
    owner = factory.__name__

    @functools.wraps(factory)
    def build(*args: Any, finite_guard: bool = False, **kwargs: Any) -> GT:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{owner}: {error}") from None
        bound.apply_defaults()
        _checks.check_named(owner, **bound.arguments)
        _check_flags(owner, signature, bound.arguments)
        if not isinstance(finite_guard, bool):
            raise ValueError(f"{owner}: finite_guard must be True or False; got {finite_guard!r}")
        tx = factory(*bound.args, **bound.kwargs)
        if finite_guard:
            from optchain.transforms.nonfinite import skip_nonfinite  # noqa: PLC0415

            tx = optax.with_extra_args_support(skip_nonfinite(tx))
        return tx

    guard = inspect.Parameter("finite_guard", inspect.Parameter.KEYWORD_ONLY, default=False)
    parameters = list(signature.parameters.values())
    build.__signature__ = signature.replace(parameters=[*parameters, guard])  # type: ignore[attr-defined]
    return build
