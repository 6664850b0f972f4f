"""Sign compression, scaled sign, and error feedback around any compressor."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import optax

from optchain import _core


class SignState(NamedTuple):
    """State of :func:`sign` (it keeps nothing)."""


def sign() -> optax.GradientTransformation:
    r"""Element-wise sign: :math:`u \mapsto \operatorname{sign}(u)` (0 stays 0).

    A complex entry maps to :math:`u / |u|` (``jnp.sign``'s, as optax's ``scale_by_sign``).

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


class ScaledSignState(NamedTuple):
    """State of :func:`scaled_sign` (it keeps nothing)."""


def scaled_sign() -> optax.GradientTransformation:
    r"""Sign scaled by the mean magnitude, per leaf: :math:`u \mapsto \frac{\lVert u \rVert_1}{d}\,\operatorname{sign}(u)`.

    The compressor of EF-signSGD: one bit per entry plus one scale per leaf, and it keeps the
    leaf's :math:`\ell_1` norm. Computed in at least float32; complex entries keep their
    phase (:math:`\operatorname{sign}(u) = u / |u|`) and take the mean modulus.

    Returns:
      An ``optax.GradientTransformation`` with the empty state :class:`ScaledSignState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scaled_sign()
      >>> tx.update(jnp.array([-3.0, 1.0, 2.0, 0.0]), tx.init(None))[0]
      Array([-1.5,  1.5,  1.5,  0. ], dtype=float32)

    References:
      Karimireddy et al., *Error Feedback Fixes SignSGD and other Gradient Compression
      Schemes*, ICML 2019.
    """

    def init_fn(params):
        del params
        return ScaledSignState()

    def compress(u):
        if u.size == 0:
            return u
        x = u.astype(_core.compute_dtype(u.dtype))
        return (jnp.mean(jnp.abs(x)).astype(x.dtype) * jnp.sign(x)).astype(u.dtype)

    def update_fn(updates, state, params=None):
        del params
        return _core.map_floats(compress, updates), state

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count("inner_state")
class ErrorFeedbackState(NamedTuple):
    """State of :func:`error_feedback`: the residual :math:`e` and the compressor's state."""

    residual: Any
    inner_state: Any


def error_feedback(
    compressor: optax.GradientTransformation, residual_dtype: Any = None
) -> optax.GradientTransformation:
    r"""Error feedback around any compressor :math:`C`: :math:`p = u + e`, output :math:`C(p)`,
    keep :math:`e \leftarrow p - C(p)`.

    What the compressor drops is added back on the next step, so the invariant
    ``compressed + new residual == input + old residual`` holds every step (to rounding).
    Put it before the aggregator, per device: ``chain(error_feedback(scaled_sign()), ...)``.
    The residual is kept before the learning rate; with a constant rate this equals
    Karimireddy et al.'s form (which compresses :math:`\alpha g + e`).

    Args:
      compressor: the compression transform (:func:`scaled_sign`, :func:`sign`,
        :func:`dgc_sparsify` ...).
      residual_dtype: dtype of :math:`e` (``None``: at least float32).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ErrorFeedbackState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.error_feedback(optchain.scaled_sign())
      >>> state = tx.init(jnp.zeros(2))
      >>> c, state = tx.update(jnp.array([3.0, -1.0]), state)
      >>> c, state.residual
      (Array([ 2., -2.], dtype=float32), Array([1., 1.], dtype=float32))

    References:
      Seide et al., *1-Bit Stochastic Gradient Descent and its Application to Data-Parallel
      Distributed Training of Speech DNNs*, Interspeech 2014; Karimireddy et al., *Error
      Feedback Fixes SignSGD and other Gradient Compression Schemes*, ICML 2019.
    """
    inner = optax.with_extra_args_support(compressor)

    def init_fn(params):
        return ErrorFeedbackState(_core.wide_zeros(params, residual_dtype), inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        _core.check_trees_match(updates, state.residual, "error-feedback residual")

        def add(u, e):
            return (u.astype(e.dtype) + e).astype(u.dtype)

        corrected = _core.map_floats(add, updates, state.residual)
        compressed, inner_state = inner.update(corrected, state.inner_state, params, **extra_args)

        def remainder(u, e, c):
            dt = e.dtype
            return u.astype(dt) + e - c.astype(dt)

        residual = _core.map_floats(remainder, updates, state.residual, compressed, keep=1)
        return compressed, ErrorFeedbackState(residual, inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
