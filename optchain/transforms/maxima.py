"""Running maxima: AMSGrad's maximum of the second moment and Adamax's infinity norm."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


class RunningMaxState(NamedTuple):
    """State of :func:`running_max`."""

    nu_max: Any


def running_max(*, accumulator_dtype: Any = None) -> optax.GradientTransformation:
    r"""Element-wise running maximum: :math:`\hat v_t = \max(\hat v_{t-1}, u_t)`, output :math:`\hat v_t`.

    AMSGrad's ingredient. Its position in a chain picks the convention: after
    ``bias_correction`` it takes the maximum of the debiased second moment (optax),
    before it the maximum of the raw moment (torch.optim.Adam with ``amsgrad=True``).
    Complex inputs (the real-valued second moment of complex parameters) compare as
    ``jnp.maximum`` does, real part first, as in optax's AMSGrad.

    Args:
      accumulator_dtype: dtype of the maximum (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`RunningMaxState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.running_max()
      >>> state = tx.init(jnp.zeros(2))
      >>> _, state = tx.update(jnp.array([3.0, 1.0]), state)
      >>> tx.update(jnp.array([2.0, 2.0]), state)[0]
      Array([3., 2.], dtype=float32)

    References:
      Reddi et al., *On the Convergence of Adam and Beyond*, ICLR 2018.
    """

    def init_fn(params):
        return RunningMaxState(_core.tree_zeros(params, accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu_max, "running maximum")
        maxima = _core.map_floats(
            lambda u, m: jnp.maximum(m, u.astype(m.dtype)), updates, state.nu_max, keep=1
        )
        return _core.cast_tree(maxima, updates), RunningMaxState(maxima)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class InfinityNormState(NamedTuple):
    """State of :func:`infinity_norm`."""

    count: jax.Array
    nu: Any


def infinity_norm(
    decay: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Adamax's exponentially weighted infinity norm: :math:`u_t = \max(\beta u_{t-1}, |g_t| + \epsilon)`.

    The output is :math:`u_t` itself (it needs no bias correction); Adamax divides the
    debiased first moment by it. :math:`|g|` is the modulus for complex updates (the
    real values are stored in the parameter's complex dtype, as optax's ``scale_by_adamax``).

    Args:
      decay: :math:`\beta` in [0, 1], or a schedule.
      eps: :math:`\epsilon \ge 0`, or a schedule.
      accumulator_dtype: dtype of :math:`u` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`InfinityNormState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.infinity_norm(0.5, eps=0.0)
      >>> state = tx.init(jnp.zeros(1))
      >>> _, state = tx.update(jnp.array([-4.0]), state)
      >>> tx.update(jnp.array([1.0]), state)[0]
      Array([2.], dtype=float32)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015, section 7.1.
    """
    _core.check_hyperparameter("decay", decay, low=0.0, high=1.0)
    _core.check_hyperparameter("eps", eps, low=0.0)

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.nu, "infinity norm")
        b = _core.resolve(decay, state.count)
        e = _core.resolve(eps, state.count)

        def step(g, n):
            n_real = _core.real_part(n.astype(_core.compute_dtype(n.dtype)))
            dt = n_real.dtype
            modulus = jnp.abs(g.astype(_core.compute_dtype(g.dtype))).astype(dt)
            out = jnp.maximum(_core.as_scalar(b, dt) * n_real, modulus + _core.as_scalar(e, dt))
            return out.astype(n.dtype)

        nu = _core.map_floats(step, updates, state.nu, keep=1)
        return _core.cast_tree(nu, updates), InfinityNormState(_core.next_count(state.count), nu)

    init_fn = _core.zeros_init(InfinityNormState, accumulator_dtype)
    return optax.GradientTransformation(init_fn, update_fn)
