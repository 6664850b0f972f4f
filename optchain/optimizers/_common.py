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


_GUARD_ARG = "finite_guard: wrap in :func:`skip_nonfinite` (see :func:`named_optimizer`)."
_RETURNS = "An ``optax.GradientTransformationExtraArgs`` (a :func:`counted_chain`)."
_SECTIONS = ("Returns:", "Example:", "Examples:", "References:")


def _shared_docs(doc: str | None) -> str | None:
    """``doc`` with the parts every named optimizer shares, so that a factory's own docstring
    states only what is its own: the ``finite_guard`` line closes ``Args:`` (an ``Args:``
    section opens before the first other section where there is none) and, where the factory
    documents no ``Returns:``, the counted chain's follows. The sections stay Google style, so
    ``help()`` and the doctests read the result as written."""
    if not doc:
        return doc
    lines = doc.splitlines()
    text = [line.strip() for line in lines]
    if "Args:" in text:
        header = text.index("Args:")
        at = next((i for i in range(header + 1, len(lines)) if not text[i]), len(lines))
        added = [f"  {_GUARD_ARG}"]
    else:
        at = next((i for i, line in enumerate(text) if line in _SECTIONS), len(lines))
        header = min(at, len(lines) - 1)
        added = ["Args:", f"  {_GUARD_ARG}"]
        if at == len(lines) and text[-1]:  # no section and no closing line: leave a blank one
            added.insert(0, "")
    if "Returns:" not in text:
        added += ["", "Returns:", f"  {_RETURNS}"]
    if at < len(lines) and text[at]:
        added.append("")
    indent = lines[header][: len(lines[header]) - len(lines[header].lstrip())]
    added = [f"{indent}{line}" if line else "" for line in added]
    return "\n".join([*lines[:at], *added, *lines[at:]])


def named_optimizer(factory: Callable[..., optax.GradientTransformation]) -> Callable[..., GT]:
    """Decorator of every named optimizer: checks its arguments by their public names and adds
    the keyword ``finite_guard``.

    * Each numeric argument is checked against :data:`optchain._checks.RULES` under the name
      the user wrote (``adam: b1 must be in [0, 1); got 1.5``), schedules at their first value,
      before any primitive sees it (so no error speaks of a primitive's ``decay``).
    * ``finite_guard=True`` wraps the optimizer in :func:`optchain.skip_nonfinite`: a step whose
      gradient, update or new state would be non-finite is skipped and counted. Off by
      default, so values stay optax's.
    * The docstring gains what every named optimizer shares (:func:`_shared_docs`): the
      ``finite_guard`` line at the end of ``Args:`` and, unless the factory documents its own,
      the ``Returns:`` section (a :func:`counted_chain`). A factory's docstring holds the rest.
    """
    signature = inspect.signature(factory)
    owner = getattr(factory, "__name__", "optimizer")

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
        try:
            tx = factory(*bound.args, **bound.kwargs)
        except ValueError as error:  # a primitive's check: say whose argument it was
            if str(error).startswith(f"{owner}:"):
                raise
            raise ValueError(f"{owner}: {error}") from error
        if finite_guard:
            from optchain.transforms.nonfinite import skip_nonfinite  # noqa: PLC0415

            tx = skip_nonfinite(tx)
        return optax.with_extra_args_support(tx)

    build.__doc__ = _shared_docs(factory.__doc__)
    guard = inspect.Parameter("finite_guard", inspect.Parameter.KEYWORD_ONLY, default=False)
    parameters = list(signature.parameters.values())
    build.__signature__ = signature.replace(parameters=[*parameters, guard])  # type: ignore[attr-defined]
    return build
