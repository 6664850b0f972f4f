"""Coin betting: each coordinate bets a fraction of its wealth on the sign of the next negative
gradient, and the bet is the displacement from the starting point (COCOB-Backprop)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


class COCOBState(NamedTuple):
    """State of :func:`scale_by_coin_betting` (optax's ``COCOBState``, field for field): per
    coordinate the starting point :math:`x_0`, the negated sum of gradients :math:`\\theta_t`,
    the largest gradient magnitude :math:`L_t`, the sum of magnitudes :math:`G_t` and the
    reward :math:`R_t`; each leaf in the parameter's dtype."""

    init_particles: Any
    cumulative_gradients: Any
    scale: Any
    subgradients: Any
    reward: Any


def scale_by_coin_betting(alpha: Any = 100.0, eps: Any = 1e-8) -> optax.GradientTransformation:
    r"""COCOB-Backprop: :math:`u \mapsto x_0 + \frac{\theta_t}{L_t \max(G_t + L_t, \alpha L_t)} (L_t + R_t) - x_t`, per coordinate.

    With :math:`g` the incoming update (a gradient): :math:`L_t = \max(L_{t-1}, |g|)`
    (:math:`L_0 = \epsilon`), :math:`G_t = G_{t-1} + |g|`, the wealth won so far
    :math:`R_t = \max(R_{t-1} - g (x_t - x_0), 0)` and :math:`\theta_t = \theta_{t-1} - g`.
    The output is the move from :math:`x_t` to the new bet, so it is added to the parameters
    as it is (no learning rate, no sign flip). optax's ``optax.contrib.scale_by_cocob``,
    values and state (:class:`COCOBState`) alike; ``update`` needs the parameters. Coin
    betting is per real coordinate: complex parameters are rejected by path (split them with
    ``optax.contrib.split_real_and_imaginary``).

    Args:
      alpha: :math:`\alpha \ge 0`, caps the fraction of the wealth bet early on.
      eps: :math:`\epsilon \ge 0`, the initial :math:`L_0` (keeps the first division finite).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`COCOBState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_coin_betting(alpha=10.0)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([2.0, -0.5]), tx.init(x), x)[0]  # -g / (alpha |g|), no wealth
      Array([-0.1,  0.1], dtype=float32)

    References:
      Orabona & Tommasi, *Training Deep Networks without Learning Rates Through Coin Betting*,
      NeurIPS 2017 (Algorithm 2).
    """
    _core.check_hyperparameter("alpha", alpha, low=0.0, allow_schedule=False)
    _core.check_hyperparameter("eps", eps, low=0.0, allow_schedule=False)

    def init_fn(params):
        _core.check_leaves(params, "cocob (coin betting)", complex_ok=False)

        def initial_scale(p):
            p = _core.as_leaf(p)
            return jnp.full_like(p, eps) if _core.is_float(p) else jnp.zeros_like(p)

        return COCOBState(  # each field its own buffers: a jitted step may donate the state
            init_particles=jax.tree.map(lambda p: jnp.array(_core.as_leaf(p), copy=True), params),
            cumulative_gradients=_core.tree_zeros(params),
            scale=jax.tree.map(initial_scale, params),
            subgradients=_core.tree_zeros(params),
            reward=_core.tree_zeros(params),
        )

    def leaf(g, x, x0, theta, big_l, big_g, reward):
        dt = _core.compute_dtype(x.dtype)
        g_, x_, x0_ = g.astype(dt), x.astype(dt), x0.astype(dt)
        magnitude = jnp.abs(g_)
        big_l_ = jnp.maximum(big_l.astype(dt), magnitude)
        big_g_ = big_g.astype(dt) + magnitude
        zero = jnp.zeros([], dt)
        reward_ = jnp.maximum(reward.astype(dt) - g_ * (x_ - x0_), zero)
        theta_ = theta.astype(dt) - g_
        denominator = big_l_ * jnp.maximum(big_g_ + big_l_, _core.as_scalar(alpha, dt) * big_l_)
        bet = x0_ + theta_ / denominator * (big_l_ + reward_)
        return (
            (bet - x_).astype(g.dtype),
            theta_.astype(theta.dtype),
            big_l_.astype(big_l.dtype),
            big_g_.astype(big_g.dtype),
            reward_.astype(reward.dtype),
        )

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "cocob (coin betting)")
        _core.check_updates_match_params(updates, params)
        out, theta, big_l, big_g, reward = _core.map_floats_multi(
            leaf,
            updates,
            params,
            state.init_particles,
            state.cumulative_gradients,
            state.scale,
            state.subgradients,
            state.reward,
            keep=(0, 3, 4, 5, 6),
        )
        new_state = COCOBState(state.init_particles, theta, big_l, big_g, reward)
        return out, new_state

    return optax.GradientTransformation(init_fn, update_fn)
