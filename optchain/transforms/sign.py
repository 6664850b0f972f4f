"""Sign compression."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import optax

from optchain import _core


class SignState(NamedTuple):
    """State of :func:`sign` (it keeps nothing)."""


def sign() -> optax.GradientTransformation:
    r"""Element-wise sign: :math:`u \mapsto \operatorname{sign}(u)` (0 stays 0).

    signSGD is ``chain(sign(), scale_by_learning_rate(lr))``; Signum puts an
    :func:`ema` in front.

    Returns:
      An ``optax.GradientTransformation`` with the empty state :class:`SignState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.sign()
      >>> tx.update(jnp.array([-0.3, 0.0, 2.0]), tx.init(None))[0]
      Array([-1.,  0.,  1.], dtype=float32)

    References:
      Bernstein et al., *signSGD: Compressed Optimisation for Non-Convex Problems*,
      ICML 2018.
    """

    def init_fn(params):
        del params
        return SignState()

    def update_fn(updates, state, params=None):
        del params
        return _core.map_floats(jnp.sign, updates), state

    return optax.GradientTransformation(init_fn, update_fn)
