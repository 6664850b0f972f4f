"""Per-element step-size rules: delta-bar-delta, Rprop (iRprop-), FTML."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


@_core.shares_count()
class DeltaBarDeltaState(NamedTuple):
    """State of :func:`scale_by_delta_bar_delta`: per-element rates and the gradient EMA."""

    count: jax.Array
    rates: Any
    bar: Any


def scale_by_delta_bar_delta(
    learning_rate: float,
    kappa: _core.ScalarOrSchedule = 1e-3,
    phi: _core.ScalarOrSchedule = 0.1,
    theta: _core.ScalarOrSchedule = 0.7,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Jacobs' delta-bar-delta: a learning rate per weight, grown additively, shrunk geometrically.

    With :math:`\bar\delta` the EMA of past gradients:

    .. math::
       \epsilon_t = \begin{cases}
         \epsilon_{t-1} + \kappa & \bar\delta_{t-1} g_t > 0 \\
         (1 - \phi)\,\epsilon_{t-1} & \bar\delta_{t-1} g_t < 0 \\
         \epsilon_{t-1} & \text{otherwise}
       \end{cases},
       \quad \bar\delta_t = (1-\theta) g_t + \theta \bar\delta_{t-1},
       \quad u_t = \epsilon_t g_t.

    The output is the *positive* scaled gradient; :func:`optchain.delta_bar_delta`
    negates it. The rule compares signs, which complex numbers lack: ``init`` rejects
    complex parameters.

    Args:
      learning_rate: :math:`\epsilon_0 > 0`, every weight's initial rate (as in :func:`scale_by_rprop`).
      kappa: additive increment :math:`\kappa \ge 0`, or a schedule.
      phi: multiplicative decrement :math:`\phi \in [0, 1]`, or a schedule.
      theta: EMA factor :math:`\theta \in [0, 1)`, or a schedule.
      accumulator_dtype: dtype of rates and EMA (``None``: the parameter's dtype).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`DeltaBarDeltaState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_delta_bar_delta(0.1, kappa=0.05, phi=0.5, theta=0.0)
      >>> state = tx.init(jnp.zeros(2))
      >>> _, state = tx.update(jnp.array([1.0, 1.0]), state)
      >>> tx.update(jnp.array([1.0, -1.0]), state)[0]
      Array([ 0.15, -0.05], dtype=float32)

    References:
      Jacobs, *Increased Rates of Convergence Through Learning Rate Adaptation*,
      Neural Networks 1(4), 1988.
    """
    _core.check_hyperparameter(
        "learning_rate", learning_rate, low=0.0, low_open=True, allow_schedule=False
    )
    _core.check_hyperparameter("kappa", kappa, low=0.0)
    _core.check_hyperparameter("phi", phi, low=0.0, high=1.0)
    _core.check_hyperparameter("theta", theta, low=0.0, high=1.0, high_open=True)

    def init_fn(params):
        _core.check_leaves(params, "scale_by_delta_bar_delta", complex_ok=False)
        rates = jax.tree.map(
            lambda p: jnp.full_like(
                _core.as_leaf(p), learning_rate, _core.accumulator_dtype_for(p, accumulator_dtype)
            ),
            params,
        )
        return DeltaBarDeltaState(
            _core.zero_count(), rates, _core.tree_zeros(params, accumulator_dtype)
        )

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.rates, "delta-bar-delta rates")
        k = _core.resolve(kappa, state.count)
        p = _core.resolve(phi, state.count)
        th = _core.resolve(theta, state.count)

        def new_rate(g, rate, bar):
            dt = _core.compute_dtype(rate.dtype)
            r = rate.astype(dt)
            agree = bar.astype(dt) * g.astype(dt)
            grown = r + _core.as_scalar(k, dt)
            shrunk = r * (1 - _core.as_scalar(p, dt))
            new = jnp.where(agree > 0, grown, jnp.where(agree < 0, shrunk, r))
            # stored once, so the update reads it instead of recomputing it from the old
            # state (which would make XLA copy the donated state: see _core.computed_once)
            return _core.computed_once(new, r).astype(rate.dtype)

        def new_bar(g, bar, rate):
            dt = _core.compute_dtype(bar.dtype)
            t = _core.as_scalar(th, dt)
            ema = (1 - t) * g.astype(dt) + t * bar.astype(dt)
            # reading the new rate (never negative unless corrupt) orders this in-place write
            # after the rate's read of the old EMA
            return jnp.where(rate >= 0, ema, jnp.nan).astype(bar.dtype)

        rates = _core.map_floats(new_rate, updates, state.rates, state.bar, keep=1)
        bars = _core.map_floats(new_bar, updates, state.bar, rates, keep=1)
        outs = _core.map_floats(
            lambda g, r: (r * g.astype(r.dtype)).astype(g.dtype), updates, rates
        )
        return outs, DeltaBarDeltaState(_core.next_count(state.count), rates, bars)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class RpropState(NamedTuple):
    r"""State of :func:`scale_by_rprop`: the counter, per-element step sizes and the previous
    step :math:`\Delta \operatorname{sign}(g)` (0 where the sign flipped), under optax's
    field names ``step_sizes`` and ``prev_updates`` (optax's ``ScaleByRpropState`` has no
    counter)."""

    count: jax.Array
    step_sizes: Any
    prev_updates: Any


def scale_by_rprop(
    learning_rate: float,
    eta_minus: _core.ScalarOrSchedule = 0.5,
    eta_plus: _core.ScalarOrSchedule = 1.2,
    min_step_size: _core.ScalarOrSchedule = 1e-6,
    max_step_size: _core.ScalarOrSchedule = 50.0,
    *,
    torch_compatible: bool = False,
) -> optax.GradientTransformation:
    r"""Rprop (the iRprop- variant): per-element steps driven by gradient signs only.

    With :math:`s = g_t \, p_{t-1}` (:math:`p` the previous step, whose sign is the previous
    gradient's): the step size :math:`\Delta` is multiplied by ``eta_plus`` where
    :math:`s > 0` and by ``eta_minus`` where :math:`s < 0`, then clipped to
    ``[min_step_size, max_step_size]``; where :math:`s = 0` it is kept. Where the sign flipped
    the step is 0 (no move, and no sign to compare next time): :math:`p_t = 0` there, else
    :math:`p_t = \Delta_t \operatorname{sign}(g_t)` (positive direction; :func:`optchain.rprop`
    negates it).

    By default the values are optax 0.2.8's ``scale_by_rprop``, which outputs the *previous*
    step: :math:`p_{t-1}`, or 0 where the sign flipped (so its first update is 0; a one-step
    lag, optax PR #1725). ``torch_compatible=True`` outputs :math:`p_t`, torch.optim.Rprop's
    rule step for step (torch also clips a kept step size, which only matters when
    ``learning_rate`` lies outside the bounds).

    The rule compares signs, which complex numbers lack: ``init`` rejects complex parameters.

    Args:
      learning_rate: initial step size :math:`\Delta_0 > 0` (an initial value, so not a
        schedule).
      eta_minus: decrease factor in (0, 1], or a schedule.
      eta_plus: increase factor :math:`\ge 1`, or a schedule.
      min_step_size: lower bound on :math:`\Delta`, or a schedule.
      max_step_size: upper bound on :math:`\Delta`, or a schedule.
      torch_compatible: output this step's :math:`p_t` (torch.optim.Rprop) instead of the
        previous one (optax).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`RpropState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> def run(tx):
      ...     state, outs = tx.init(jnp.zeros(1)), []
      ...     for g in [1.0, 1.0, -1.0, 1.0]:
      ...         u, state = tx.update(jnp.array([g]), state); outs.append(round(float(u[0]), 4))
      ...     return outs
      >>> run(optchain.scale_by_rprop(0.1, torch_compatible=True))
      [0.1, 0.12, 0.0, 0.06]
      >>> run(optchain.scale_by_rprop(0.1))  # optax: the previous step
      [0.0, 0.1, 0.0, 0.0]

    References:
      Riedmiller & Braun, *A Direct Adaptive Method for Faster Backpropagation
      Learning: The RPROP Algorithm*, ICNN 1993; Igel & Huesken, *Improving the Rprop
      Learning Algorithm*, 2000.
    """
    _core.check_hyperparameter(
        "learning_rate", learning_rate, low=0.0, low_open=True, allow_schedule=False
    )
    _core.check_hyperparameter("min_step_size", min_step_size, low=0.0)
    _core.check_hyperparameter("eta_minus", eta_minus, low=0.0, high=1.0, low_open=True)
    _core.check_hyperparameter("eta_plus", eta_plus, low=1.0)
    _core.check_hyperparameter(
        "max_step_size", max_step_size, low=_core.concrete_float(min_step_size)
    )

    def init_fn(params):
        _core.check_leaves(params, "scale_by_rprop", complex_ok=False)
        return RpropState(
            _core.zero_count(),
            jax.tree.map(lambda p: jnp.full_like(_core.as_leaf(p), learning_rate), params),
            _core.tree_zeros(params),
        )

    def update_fn(updates, state, params=None):
        del params
        _core.check_trees_match(updates, state.step_sizes, "Rprop step sizes")
        up, down = _core.resolve(eta_plus, state.count), _core.resolve(eta_minus, state.count)
        lo, hi = (
            _core.resolve(min_step_size, state.count),
            _core.resolve(max_step_size, state.count),
        )

        def leaf(g, prev, step):
            # one pass per leaf: the sign agreement is computed once for all three outputs
            dt = _core.compute_dtype(step.dtype)
            agree = g.astype(dt) * prev.astype(dt)
            factor = jnp.where(
                agree > 0,
                _core.as_scalar(up, dt),
                jnp.where(agree < 0, _core.as_scalar(down, dt), 1),
            ).astype(dt)
            new = jnp.clip(
                step.astype(dt) * factor, _core.as_scalar(lo, dt), _core.as_scalar(hi, dt)
            )
            if not torch_compatible:
                new = jnp.where(agree == 0, step.astype(dt), new)
            # The new step is stored once and the kept step reads it (`new >= 0` always
            # holds for a finite step), which orders the in-place writes: without this XLA
            # recomputes both from the old state inside the parameter update and copies every
            # donated state leaf first (3x slower on XLA:CPU; benchmarks/step_time.py).
            new_step = _core.computed_once(new, step.astype(dt)).astype(step.dtype)
            flipped = (agree < 0) | ~(new_step >= 0)
            direction = jnp.where(flipped, jnp.zeros_like(g), jnp.sign(g)).astype(step.dtype)
            new_prev = (new_step * direction).astype(prev.dtype)
            if torch_compatible:
                return new_prev.astype(g.dtype), new_prev, new_step
            # optax's output is the previous step, read from the old state: stored once, and
            # the new step reads it through a condition that never holds, so the in-place
            # write of `prev_updates` is ordered after that read (one temporary, no copies)
            out = jnp.where(agree < 0, jnp.zeros_like(prev), prev)
            out = _core.computed_once(out, prev)
            never = (out > 0) & (out < 0)
            new_prev = jnp.where(never, jnp.full_like(new_prev, jnp.nan), new_prev)
            return out.astype(g.dtype), new_prev, new_step

        outs, prevs, steps = _core.map_floats_multi(
            leaf, updates, state.prev_updates, state.step_sizes, keep=(0, 1, 2)
        )
        return outs, RpropState(_core.next_count(state.count), steps, prevs)

    return optax.GradientTransformation(init_fn, update_fn)


def _ftml_dtype(leaf: Any, dtype: Any) -> Any:
    """FTML's accumulator dtype for ``leaf``: ``dtype``; by default the leaf's own, but float32
    for float16 (a parameter of 300 with a gradient of 1 at rate 0.01 has z ~ 3e4 * 300)."""
    leaf = _core.as_leaf(leaf)
    if dtype is None and getattr(leaf, "dtype", None) == jnp.float16:
        dtype = jnp.float32
    return _core.accumulator_dtype_for(leaf, dtype)


@_core.shares_count()
class FtmlState(NamedTuple):
    """State of :func:`scale_by_ftml`."""

    count: jax.Array
    d: Any
    v: Any
    z: Any


def scale_by_ftml(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.6,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""Follow the Moving Leader (FTML), as in Apache MXNet's ``FTML`` optimizer.

    .. math::
       v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
       d_t &= \frac{1-\beta_1^t}{\alpha_t}\Big(\sqrt{v_t / (1-\beta_2^t)} + \epsilon\Big) \\
       z_t &= \beta_1 z_{t-1} + (1-\beta_1) g_t - (d_t - \beta_1 d_{t-1})\, w_t \\
       w_{t+1} &= -z_t / d_t

    with :math:`t = 1` on the first update. Complex parameters use :math:`|g_t|^2` in
    :math:`v_t` (so :math:`d_t` is real, stored in the parameter's complex dtype). The learning rate lives inside :math:`d_t`
    and the new weights are a function of :math:`z_t` alone, so this transform reads
    ``params`` and outputs :math:`w_{t+1} - w_t`; it must be the last link (chain
    gradient-side transforms such as coupled weight decay or clipping *before* it).

    Args:
      learning_rate: :math:`\alpha_t > 0`, or a schedule.
      b1: :math:`\beta_1 \in [0, 1)`, or a schedule.
      b2: :math:`\beta_2 \in [0, 1)`, or a schedule.
      eps: :math:`\epsilon > 0`, or a schedule.
      accumulator_dtype: dtype of :math:`d, v, z` (``None``: the parameter's dtype, widened
        to float32 for float16, whose range holds neither :math:`d \sim |g|/\alpha` and
        :math:`z \sim d\, w` nor the :math:`\epsilon/\alpha` in :math:`d`).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`FtmlState`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.scale_by_ftml(0.1)
      >>> w = jnp.array([1.0]); state = tx.init(w)
      >>> u, state = tx.update(jnp.array([1.0]), state, w)
      >>> optax.apply_updates(w, u)
      Array([0.9], dtype=float32)

    References:
      Zheng & Kwok, *Follow the Moving Leader in Deep Learning*, ICML 2017.
    """
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0, low_open=True)
    _core.check_hyperparameter("b1", b1, low=0.0, high=1.0, high_open=True)
    _core.check_hyperparameter("b2", b2, low=0.0, high=1.0, high_open=True)
    _core.check_hyperparameter("eps", eps, low=0.0, low_open=True)

    def init_fn(params):
        def zeros():  # three separate buffers (state may be donated)
            return jax.tree.map(
                lambda p: jnp.zeros_like(_core.as_leaf(p), _ftml_dtype(p, accumulator_dtype)),
                params,
            )

        return FtmlState(_core.zero_count(), zeros(), zeros(), zeros())

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "scale_by_ftml")
        _core.check_trees_match(updates, state.v, "FTML accumulator")
        lr = _core.resolve(learning_rate, state.count)
        beta1 = _core.resolve(b1, state.count)
        beta2 = _core.resolve(b2, state.count)
        e = _core.resolve(eps, state.count)
        t = _core.next_count(state.count)
        correction1 = _core.bias_correction_factor(beta1, t)
        correction2 = _core.bias_correction_factor(beta2, t)

        def second(g, v):
            dt = _core.compute_dtype(v.dtype)
            bb = _core.as_scalar(beta2, dt)
            x = _core.abs_sq(g.astype(_core.compute_dtype(g.dtype))).astype(dt)
            return (bb * v.astype(dt) + (1 - bb) * x).astype(v.dtype)

        def new_d(v):
            vv = v.astype(_core.compute_dtype(v.dtype))
            vv = jnp.real(vv) if jnp.iscomplexobj(vv) else vv
            dt = vv.dtype
            root = jnp.sqrt(vv / correction2.astype(dt)) + _core.as_scalar(e, dt)
            return (correction1.astype(dt) / _core.as_scalar(lr, dt) * root).astype(v.dtype)

        def new_z(g, w, z, d_prev, d):
            dt = _core.compute_dtype(z.dtype)
            bb = _core.as_scalar(beta1, dt)
            sigma = d.astype(dt) - bb * d_prev.astype(dt)
            out = bb * z.astype(dt) + (1 - bb) * g.astype(dt) - sigma * w.astype(dt)
            return out.astype(z.dtype)

        def step(g, w, z, d):
            dt = _core.compute_dtype(_core.wider_dtype(w.dtype, z.dtype))
            return (-z.astype(dt) / d.astype(dt) - w.astype(dt)).astype(g.dtype)

        def stored_d(v, z):
            # reading the new z orders this in-place write after z's read of the old d
            d = new_d(v)
            return jnp.where(jnp.isnan(z), jnp.asarray(jnp.nan, d.dtype), d)

        v = _core.map_floats(second, updates, state.v, keep=1)
        # z computes its own copy of the new d from v, so that the stored d can overwrite the
        # old one in place; reading a stored d there made XLA keep a copy of every old d
        z = _core.map_floats(
            lambda g, w, z, d_prev, v: new_z(g, w, z, d_prev, new_d(v)),
            updates,
            params,
            state.z,
            state.d,
            v,
            keep=3,
        )
        d = _core.map_floats(lambda g, v, z, d_prev: stored_d(v, z), updates, v, z, state.d, keep=3)
        outs = _core.map_floats(step, updates, params, z, d)
        return outs, FtmlState(t, d, v, z)

    return optax.GradientTransformation(init_fn, update_fn)
