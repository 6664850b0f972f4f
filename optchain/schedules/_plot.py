"""Draw a schedule with matplotlib (the ``plot`` extra)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from optax.schedules import Schedule

from optchain.schedules._common import _check_steps


def plot(
    schedule: Schedule,
    steps: int,
    *,
    ax: Any = None,
    label: str | None = None,
    **line_kwargs: Any,
) -> Any:
    r"""Draw ``schedule`` over ``range(steps)`` with matplotlib (the ``plot`` extra).

    Plots :math:`(i, s(i))` for :math:`i < n`; the values are computed in one vectorised,
    jitted call.

    Args:
      schedule: the schedule :math:`s` to draw.
      steps: :math:`n \ge 1`, the number of steps.
      ax: the matplotlib ``Axes`` to draw on (``None``: a new figure).
      label: the line's legend label (a legend is added when given).
      **line_kwargs: passed to ``Axes.plot``.

    Returns:
      The matplotlib ``Axes``.

    Example:
      >>> import matplotlib; matplotlib.use("Agg")
      >>> from optchain import schedules
      >>> ax = schedules.plot(schedules.cosine(1.0, 100), 120, label="cosine")
      >>> len(ax.lines[0].get_ydata())
      120
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "optchain.schedules.plot needs matplotlib: pip install optchain[plot]"
        ) from err
    n = _check_steps("steps", steps)
    values = jax.jit(jax.vmap(schedule))(jnp.arange(n, dtype=jnp.int32))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(n), jax.device_get(values), label=label, **line_kwargs)
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    if label is not None:
        ax.legend()
    return ax
