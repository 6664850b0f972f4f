"""Online and asynchronous-SGD rules: FTRL-Proximal's closed-form weights and delay
compensation (both read the parameters)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core


def _ftrl_dtype(leaf: Any, dtype: Any) -> Any:
    """``dtype``; by default the leaf's own, but float32 for a float16 leaf."""
    leaf = _core.as_leaf(leaf)
    if dtype is None and getattr(leaf, "dtype", None) == jnp.float16:
        dtype = jnp.float32
    return _core.accumulator_dtype_for(leaf, dtype)


@_core.shares_count()
class FtrlProximalState(NamedTuple):
    """State of :func:`ftrl_proximal`: the counter, ``z`` (the accumulated gradients less the
    proximal shifts) and ``n`` (the accumulated squared gradients)."""

    count: jax.Array
    z: Any
    n: Any


def ftrl_proximal(
    learning_rate: _core.ScalarOrSchedule,
    lamda1: _core.ScalarOrSchedule = 0.01,
    beta: _core.ScalarOrSchedule = 1.0,
    lamda2: _core.ScalarOrSchedule = 0.0,
    *,
    accumulator_dtype: Any = None,
) -> optax.GradientTransformation:
    r"""FTRL-Proximal (McMahan et al.): per-coordinate accumulators and closed-form weights.

    .. math::
       z_t &= z_{t-1} + g_t - \frac{\sqrt{n_{t-1} + g_t^2} - \sqrt{n_{t-1}}}{\alpha_t}\, w_t \\
       n_t &= n_{t-1} + g_t^2 \\
       w_{t+1} &= \begin{cases} \dfrac{\lambda_1 \operatorname{sign}(z_t) - z_t}
                  {(\beta + \sqrt{n_t}) / \alpha_t + \lambda_2} & |z_t| > \lambda_1 \\
                  0 & \text{otherwise} \end{cases}

    The new weights are a function of :math:`z_t, n_t` alone, so this transform reads
    ``params`` and outputs :math:`w_{t+1} - w_t`; it must be the last link (chain clipping and
    other gradient-side transforms before it). The values are Apache MXNet 1.9.1's
    ``ftrl_update(weight, grad, z, n, lr, lamda1, beta, wd=lamda2)``. A complex leaf
    accumulates :math:`|g_t|^2` and shrinks :math:`z_t` towards 0 by :math:`\lambda_1` in
    magnitude (``sign`` is :math:`z / |z|`: the proximal step of :math:`\lambda_1 |w|`).

    Args:
      learning_rate: :math:`\alpha_t > 0` (MXNet's ``lr``), or a schedule.
      lamda1: L1 strength :math:`\lambda_1 \ge 0` (MXNet's spelling), or a schedule.
      beta: :math:`\beta \ge 0`, added to :math:`\sqrt{n_t}`, or a schedule.
      lamda2: L2 strength :math:`\lambda_2 \ge 0` (MXNet's ``wd``), or a schedule.
      accumulator_dtype: dtype of ``z`` and ``n`` (``None``: the parameter's dtype, widened
        to float32 for float16, whose range holds neither :math:`n` for gradients of 256
        nor :math:`z \sim w \sqrt{n} / \alpha`).

    Returns:
      An ``optax.GradientTransformation`` with state :class:`FtrlProximalState`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.ftrl_proximal(0.1, lamda1=0.5)
      >>> w = jnp.zeros(2); state = tx.init(w)
      >>> u, state = tx.update(jnp.array([2.0, 0.3]), state, w)
      >>> optax.apply_updates(w, u)  # -(2 - 0.5) / ((1 + 2) / 0.1); |0.3| <= 0.5 stays 0
      Array([-0.05,  0.  ], dtype=float32)

    References:
      McMahan et al., *Ad Click Prediction: a View from the Trenches*, KDD 2013.
    """
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0, low_open=True)
    _core.check_hyperparameter("lamda1", lamda1, low=0.0)
    _core.check_hyperparameter("beta", beta, low=0.0)
    _core.check_hyperparameter("lamda2", lamda2, low=0.0)

    def init_fn(params):
        def zeros():  # two separate buffers (the state may be donated)
            return jax.tree.map(
                lambda p: jnp.zeros_like(_core.as_leaf(p), _ftrl_dtype(p, accumulator_dtype)),
                params,
            )

        return FtrlProximalState(_core.zero_count(), zeros(), zeros())

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "ftrl_proximal")
        _core.check_trees_match(updates, state.z, "FTRL accumulator")
        lr = _core.resolve(learning_rate, state.count)
        l1 = _core.resolve(lamda1, state.count)
        b = _core.resolve(beta, state.count)
        l2 = _core.resolve(lamda2, state.count)

        def leaf(g, w, z, n):
            dt = _core.compute_dtype(z.dtype)
            rdt = _core.real_dtype(dt)
            a = _core.as_scalar(lr, rdt)
            g2 = _core.abs_sq(g.astype(_core.compute_dtype(g.dtype))).astype(rdt)
            n_old = _core.real_part(n.astype(dt)).astype(rdt)
            n_new = n_old + g2
            # MXNet's order of operations: z + (g - (sqrt(n_t) - sqrt(n_{t-1})) * w / lr)
            sigma = (jnp.sqrt(n_new) - jnp.sqrt(n_old)).astype(dt)
            z_new = z.astype(dt) + (g.astype(dt) - sigma * w.astype(dt) / _core.as_scalar(lr, dt))
            denominator = (_core.as_scalar(b, rdt) + jnp.sqrt(n_new)) / a
            denominator = denominator + _core.as_scalar(l2, rdt)
            # sign(z) is z / |z| for complex z: the shrink acts on the magnitude
            numerator = jnp.sign(z_new) * _core.as_scalar(l1, dt) - z_new
            active = jnp.abs(z_new) > _core.as_scalar(l1, rdt)
            safe = jnp.where(active, denominator, jnp.ones((), rdt))
            w_new = jnp.where(active, numerator / safe.astype(dt), jnp.zeros((), dt))
            wdt = _core.compute_dtype(_core.wider_dtype(w.dtype, dt))
            step = (w_new.astype(wdt) - w.astype(wdt)).astype(g.dtype)
            return step, z_new.astype(z.dtype), n_new.astype(n.dtype)

        outs, z, n = _core.map_floats_multi(leaf, updates, params, state.z, state.n, keep=(0, 2, 3))
        return outs, FtrlProximalState(_core.next_count(state.count), z, n)

    return optax.GradientTransformation(init_fn, update_fn)


@_core.shares_count()
class DelayCompensationState(NamedTuple):
    """State of :func:`delay_compensation`: the counter and the parameters of the previous
    update (``previous_params``; the initial parameters before the first)."""

    count: jax.Array
    previous_params: Any


def delay_compensation(lamda: _core.ScalarOrSchedule = 0.04) -> optax.GradientTransformation:
    r"""Delay compensation (DC-ASGD): :math:`u_t = g_t + \lambda\, g_t \odot g_t \odot (w_t - w_{t-1})`.

    :math:`g \odot g` is the cheap diagonal approximation of the Hessian that corrects a
    gradient computed at :math:`w_{t-1}` towards :math:`w_t`; :math:`w_{t-1}` is the
    parameter vector of the previous update (the initial parameters at the first, so the
    first update passes :math:`g_0` through), kept in the state as ``previous_params``. This
    is Apache MXNet 1.9.1's ``DCASGD`` term (its previous weight). A complex leaf uses
    :math:`|g_t|^2`.

    Args:
      lamda: :math:`\lambda \ge 0` (MXNet's spelling), or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`DelayCompensationState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.delay_compensation(0.5)
      >>> state = tx.init(jnp.zeros(2))
      >>> w = jnp.array([1.0, -1.0])  # the parameters moved since the last update
      >>> tx.update(jnp.array([2.0, 1.0]), state, w)[0]  # g + 0.5 g^2 (w - 0)
      Array([4. , 0.5], dtype=float32)

    References:
      Zheng et al., *Asynchronous Stochastic Gradient Descent with Delay Compensation*,
      ICML 2017.
    """
    _core.check_hyperparameter("lamda", lamda, low=0.0)

    def init_fn(params):  # a copy: the state never aliases the caller's parameters
        return DelayCompensationState(
            _core.zero_count(),
            jax.tree.map(lambda p: jnp.array(_core.as_leaf(p), copy=True), params),
        )

    def update_fn(updates, state, params=None):
        _core.require_params(params, updates, "delay_compensation")
        _core.check_trees_match(updates, state.previous_params, "previous parameters")
        lam = _core.resolve(lamda, state.count)

        def compensate(g, w, w_prev):
            dt = _core.compute_dtype(_core.wider_dtype(g.dtype, w.dtype))
            gg = g.astype(dt)
            square = _core.abs_sq(gg).astype(dt)
            out = gg + _core.as_scalar(lam, dt) * square * (w.astype(dt) - w_prev.astype(dt))
            return out.astype(g.dtype)

        def store(g, w, w_prev):
            del g
            return w.astype(w_prev.dtype)

        outs = _core.map_floats(compensate, updates, params, state.previous_params)
        previous = _core.map_floats(store, updates, params, state.previous_params, keep=2)
        return outs, DelayCompensationState(_core.next_count(state.count), previous)

    return optax.GradientTransformation(init_fn, update_fn)
