"""Moments normalised per layer: NovoGrad's second moment is one scalar per leaf."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


@_core.shares_count()
class ScaleByNovogradState(NamedTuple):
    """State of :func:`scale_by_novograd` (optax's fields: ``nu`` is one scalar per leaf)."""

    count: jax.Array
    mu: Any
    nu: Any


def _is_constant_zero(value: Any) -> bool:
    return not callable(value) and _core.concrete_float(value) == 0.0


def scale_by_novograd(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.25,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""NovoGrad: a layer-normalised gradient plus decay, accumulated with momentum.

    Per leaf :math:`l`: :math:`\nu_t = \beta_2 \nu_{t-1} + (1-\beta_2) \lVert g_t \rVert^2`
    (:math:`\nu_1 = \lVert g_1 \rVert^2`), and
    :math:`\mu_t = \beta_1 \mu_{t-1} + g_t / (\sqrt{\nu_t + \bar\epsilon} + \epsilon) + \lambda w`
    (:math:`\mu_0 = 0`, no :math:`1-\beta_1` factor), output :math:`\mu_t`. optax's values and
    state fields; the hyperparameters may also be schedules (the step :math:`t - 1` is read).

    Args:
      b1: :math:`\beta_1` in [0, 1), decay of :math:`\mu`.
      b2: :math:`\beta_2` in [0, 1), decay of the per-leaf :math:`\nu`.
      eps: :math:`\epsilon \ge 0`, added outside the square root.
      eps_root: :math:`\bar\epsilon \ge 0`, added inside the square root.
      weight_decay: :math:`\lambda \ge 0`, coupled decay added inside the momentum. Needs
        ``params`` unless it is a constant 0.
      mu_dtype: dtype of :math:`\mu` (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ScaleByNovogradState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_novograd(eps=0.0)
      >>> tx.update(jnp.array([3.0, 4.0]), tx.init(jnp.zeros(2)))[0]  # g / ||g||
      Array([0.6, 0.8], dtype=float32)

    References:
      Ginsburg et al., *Stochastic Gradient Methods with Layer-wise Adaptive Moments for
      Training of Deep Networks*, arXiv:1905.11286, 2019.
    """
    _core.check_hyperparameter("b1", b1, low=0.0, high=1.0, high_open=True)
    _core.check_hyperparameter("b2", b2, low=0.0, high=1.0, high_open=True)
    for name, value in (("eps", eps), ("eps_root", eps_root), ("weight_decay", weight_decay)):
        _core.check_hyperparameter(name, value, low=0.0)
    decays = not _is_constant_zero(weight_decay)

    def init_fn(params):
        nu = jax.tree.map(lambda p: jnp.zeros([], _core.as_leaf(p).dtype), params)
        return ScaleByNovogradState(_core.zero_count(), _core.tree_zeros(params, mu_dtype), nu)

    def update_fn(updates, state, params=None):
        _core.check_trees_match(updates, state.mu, "novograd mu")
        if decays:
            _core.require_params(params, updates, "scale_by_novograd")
        else:
            params = state.mu  # read only for its structure: lambda is 0
        now = [_core.resolve(h, state.count) for h in (b1, b2, eps, eps_root, weight_decay)]
        beta1, beta2, e, e_root, wd = now
        first = state.count == 0

        def leaf(g, mu, nu, w):
            dt = _core.compute_dtype(g.dtype)
            sq = jnp.sqrt(_core.square_sum(g)) ** 2  # optax's rounding: the norm, squared
            rd = sq.dtype
            old = _core.real_part(nu).astype(rd)
            new_nu = jnp.where(first, sq, _core.ema_update(sq, old, beta2))
            den = jnp.sqrt(new_nu + _core.as_scalar(e_root, rd)) + _core.as_scalar(e, rd)
            step = g.astype(dt) / den.astype(dt)
            if decays:
                step = step + _core.as_scalar(wd, dt) * w.astype(dt)
            md = _core.compute_dtype(mu.dtype)
            kept = jnp.where(first, jnp.zeros([], md), _core.as_scalar(beta1, md))
            new_mu = (kept * mu.astype(md) + step.astype(md)).astype(mu.dtype)
            return new_mu.astype(g.dtype), new_mu, new_nu.astype(nu.dtype)

        outs, mu, nu = _core.map_floats_multi(
            leaf, updates, state.mu, state.nu, params, keep=(0, 1, 2)
        )
        return outs, ScaleByNovogradState(_core.next_count(state.count), mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)
