"""Line searches: torch.optim.LBFGS's strong-Wolfe search with cubic interpolation."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core

__all__ = ["ScaleByStrongWolfeLinesearchState", "scale_by_strong_wolfe_linesearch"]

_BRACKET, _ZOOM, _DONE = 0, 1, 2


@_core.shares_count()
class ScaleByStrongWolfeLinesearchState(NamedTuple):
    """State of :func:`scale_by_strong_wolfe_linesearch`.

    Attributes:
      count: updates seen so far (the step the ``initial_step`` schedule sees).
      learning_rate: the step :math:`t` taken on the last update (0: no step).
      value: :math:`f` at the parameters the last update leads to (``inf`` before the first),
        for :func:`optax.value_and_grad_from_state`; float32, or float64 where the first
        float leaf is (the search's values, slopes and steps have this dtype).
      grad: :math:`\\nabla f` there.
      num_linesearch_steps: evaluations of ``value_fn`` on the last update.
    """

    count: jax.Array
    learning_rate: jax.Array
    value: jax.Array
    grad: Any
    num_linesearch_steps: jax.Array


class _Search(NamedTuple):
    """The search's loop carry: slots 0 and 1 hold the bracket (while bracketing, the previous
    trial and the newest one), ``low`` the slot of the lower value."""

    phase: jax.Array
    evals: jax.Array
    trial: jax.Array
    steps: jax.Array
    values: jax.Array
    slopes: jax.Array
    grads: list
    low: jax.Array
    insufficient: jax.Array


def _cubic_minimum(x1, f1, g1, x2, f2, g2, lower, upper):
    """The minimizer of the cubic through two points with values and slopes, clipped to
    ``[lower, upper]`` (their midpoint where the cubic has no minimum)."""
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    d2 = jnp.sqrt(jnp.maximum(d2_square, 0))
    from_x2 = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    from_x1 = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    clipped = jnp.clip(jnp.where(x1 <= x2, from_x2, from_x1), lower, upper)
    return jnp.where(d2_square >= 0, clipped, (lower + upper) / 2)


def _kwargs_for(fn: Callable[..., Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The extra arguments ``fn`` accepts (all of them where it takes ``**kwargs``)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return dict(extra)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(extra)
    names = {p.name for p in parameters}
    return {k: v for k, v in extra.items() if k in names}


def max_abs(leaves: list, dtype: Any) -> jax.Array:
    """``max |x|`` over leaves in ``dtype``, real and imaginary parts apart (torch's view of
    a complex tensor as pairs of reals); 0 without entries."""
    parts = [jnp.max(jnp.abs(p)).astype(dtype) for x in leaves for p in real_parts(x) if x.size]
    return jnp.max(jnp.stack(parts)) if parts else jnp.zeros([], dtype)


def real_parts(x: jax.Array) -> tuple[jax.Array, ...]:
    """``(x,)`` for a real array, ``(real, imag)`` for a complex one (torch's real view)."""
    return (jnp.real(x), jnp.imag(x)) if jnp.iscomplexobj(x) else (x,)


def scale_by_strong_wolfe_linesearch(
    max_linesearch_steps: int = 25,
    initial_step: _core.ScalarOrSchedule = 1.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
) -> optax.GradientTransformationExtraArgs:
    r"""A step :math:`t` along the updates :math:`d` meeting the strong Wolfe conditions (torch's).

    The search of torch.optim.LBFGS (``line_search_fn="strong_wolfe"``, Moré-Thuente style,
    after minFunc): with :math:`\phi(t) = f(w + t d)`, it accepts a :math:`t` with

    .. math::
        \phi(t) \le \phi(0) + c_1 t \phi'(0), \qquad |\phi'(t)| \le -c_2 \phi'(0),

    first *bracketing* from :math:`t_0` = ``initial_step`` (each new trial the cubic
    interpolation of the last two, clipped to :math:`[t + 0.01 (t - t_{prev}), 10 t]`), then
    *zooming* into the bracket by cubic interpolation, kept 10% of the bracket away from its
    ends when progress stalls. It stops after ``max_linesearch_steps`` trials past the first
    (torch's ``max_eval - 1`` at ``max_iter=1``) or when the bracket times
    :math:`\max|d|` is below ``tolerance_change``, and returns the lowest point seen then.
    Where :math:`\phi'(0) > -`\ ``tolerance_change`` (no descent), there is no step. Slopes
    are :math:`\phi'(t) = \mathrm{Re}\sum g\,d` over the float leaves, with :math:`g` JAX's
    gradient (for a complex leaf the conjugate of the ascent direction: descend along
    ``conj(grad)``, which is torch's gradient); integer and bool leaves stay where they are.

    ``update(updates, state, params, value=, grad=, value_fn=)`` is optax's line-search
    convention: ``value`` and ``grad`` at ``params``, ``value_fn`` the objective (the other
    keyword arguments it accepts are passed on); the state keeps the value and gradient at the
    new parameters, which :func:`optax.value_and_grad_from_state` reuses. Trials run in a
    ``lax.while_loop``, so it jit-compiles.

    Args:
      max_linesearch_steps: trials after the first, an int :math:`\ge 0`.
      initial_step: :math:`t_0 \ge 0` (torch's ``lr``), or a schedule.
      c1: sufficient-decrease constant, in :math:`(0, 1)`.
      c2: curvature constant, in :math:`(c_1, 1)`.
      tolerance_change: :math:`\ge 0`, the smallest slope and bracket that count.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      :class:`ScaleByStrongWolfeLinesearchState`; ``update`` needs ``params``, ``value``,
      ``grad`` and ``value_fn``.

    Example:
      >>> import jax, jax.numpy as jnp, optchain
      >>> f = lambda w: jnp.sum(w**2)
      >>> tx = optchain.scale_by_strong_wolfe_linesearch()
      >>> w = jnp.array([1.0, -2.0])
      >>> value, grad = jax.value_and_grad(f)(w)
      >>> u, state = tx.update(-grad, tx.init(w), w, value=value, grad=grad, value_fn=f)
      >>> w + u, state.learning_rate  # the cubic is exact on a quadratic
      (Array([0., 0.], dtype=float32), Array(0.5, dtype=float32))

    References:
      Nocedal & Wright, *Numerical Optimization*, 1999, algorithms 3.5 and 3.6.
      Moré & Thuente, *Line search algorithms with guaranteed sufficient decrease*, ACM TOMS
      20, 1994. torch.optim.LBFGS's ``_strong_wolfe`` (after minFunc's ``WolfeLineSearch``).
    """
    _core.check_hyperparameter(
        "max_linesearch_steps", max_linesearch_steps, low=0.0, integer=True, allow_schedule=False
    )
    _core.check_hyperparameter("initial_step", initial_step, low=0.0)
    unit = {"high": 1.0, "low_open": True, "high_open": True, "allow_schedule": False}
    _core.check_hyperparameter("c1", c1, low=0.0, **unit)
    _core.check_hyperparameter("c2", c2, low=c1, **unit)
    _core.check_hyperparameter("tolerance_change", tolerance_change, low=0.0, allow_schedule=False)

    def init_fn(params):
        leaves = [_core.as_leaf(x) for x in jax.tree.leaves(params)]
        dtype = next((_core.real_dtype(x.dtype) for x in leaves if _core.is_float(x)), None)
        dtype = jnp.float64 if dtype == jnp.float64 else jnp.float32
        return ScaleByStrongWolfeLinesearchState(
            count=_core.zero_count(),
            learning_rate=jnp.zeros([], dtype),
            value=jnp.full([], jnp.inf, dtype),
            grad=_core.tree_zeros(params),
            num_linesearch_steps=jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        _core.require_params(params, updates, "scale_by_strong_wolfe_linesearch")
        value, grad, value_fn = (extra_args.pop(k, None) for k in ("value", "grad", "value_fn"))
        if value is None or grad is None or value_fn is None:
            raise ValueError(
                "scale_by_strong_wolfe_linesearch: update needs value=, grad= and value_fn= "
                "(the objective's value and gradient at params, and the objective)"
            )
        fn_kwargs = _kwargs_for(value_fn, extra_args)
        try:  # one compiled search per objective: eager updates do not retrace it each time
            hash(value_fn)
        except TypeError:
            return search(updates, state, params, value, grad, fn_kwargs, value_fn)
        return compiled(updates, state, params, value, grad, fn_kwargs, value_fn=value_fn)

    def search(updates, state, params, value, grad, fn_kwargs, value_fn):
        d_all, treedef = jax.tree.flatten(updates)
        d_all = [_core.as_leaf(x) for x in d_all]
        floats = [_core.is_float(x) for x in d_all]
        w_all = [_core.as_leaf(x) for x in treedef.flatten_up_to(params)]
        real = state.value.dtype

        def pick(leaves):
            return [x for x, f in zip(leaves, floats) if f]

        def slope(g):  # JAX's gradient of a real loss: phi'(0) = Re sum(g d), no conjugate
            with jax.numpy_dtype_promotion("standard"):
                terms = [jnp.real(jnp.sum(a * b)).astype(real) for a, b in zip(g, pick(d_all))]
            return sum(terms, jnp.zeros([], real))

        def moved(t):
            return [
                (w + _core.as_scalar(t, w.dtype) * d).astype(w.dtype) if f else w
                for w, d, f in zip(w_all, d_all, floats)
            ]

        def evaluate(t):
            fixed = moved(t)

            def objective(xs):
                it = iter(xs)
                full = [next(it) if f else w for w, f in zip(fixed, floats)]
                return value_fn(jax.tree.unflatten(treedef, full), **fn_kwargs)

            f_t, g_t = jax.value_and_grad(objective)(pick(fixed))
            return jnp.asarray(f_t).astype(real), list(g_t)

        f0 = jnp.asarray(value).astype(real)
        g_all = [  # in the parameters' dtypes, as the gradients of the trials come
            _core.as_leaf(g).astype(w.dtype) if f else _core.as_leaf(g)
            for g, w, f in zip(treedef.flatten_up_to(grad), w_all, floats)
        ]
        g0 = pick(g_all)
        gtd = slope(g0)
        d_norm = max_abs(pick(d_all), real)
        t0 = jnp.asarray(_core.resolve(initial_step, state.count)).astype(real)
        c1_, c2_, tol = (jnp.asarray(c, real) for c in (c1, c2, tolerance_change))

        def put(s, slot, t, f_t, g_t, gtd_t):
            return s._replace(
                steps=s.steps.at[slot].set(t),
                values=s.values.at[slot].set(f_t),
                slopes=s.slopes.at[slot].set(gtd_t),
                grads=[m.at[slot].set(x) for m, x in zip(s.grads, g_t)],
            )

        def copy(s, to, frm):
            return put(s, to, s.steps[frm], s.values[frm], [m[frm] for m in s.grads], s.slopes[frm])

        def choose(flag, a, b):
            return jax.tree.map(lambda x, y: jnp.where(flag, x, y), a, b)

        def lower_slot(s):
            return jnp.where(s.values[0] <= s.values[1], 0, 1).astype(jnp.int32)

        def bracketing(s, t, f_t, g_t, gtd_t, ls_iter):
            """One bracketing test of the newest trial (slot 1; slot 0 the previous one)."""
            s = put(s, 1, t, f_t, g_t, gtd_t)
            exhausted = ls_iter >= max_linesearch_steps
            fail = (f_t > f0 + c1_ * t * gtd) | ((ls_iter > 1) & (f_t >= s.values[0]))
            wolfe = jnp.abs(gtd_t) <= -c2_ * gtd
            rising = gtd_t >= 0
            t_prev = s.steps[0]
            nxt = _cubic_minimum(
                t_prev, s.values[0], s.slopes[0], t, f_t, gtd_t, t + 0.01 * (t - t_prev), t * 10
            )
            go_on = copy(s, 0, 1)._replace(trial=nxt)
            start = put(s, 0, jnp.zeros([], real), f0, g0, gtd)  # exhausted: bracket [0, t]
            start = start._replace(phase=jnp.int32(_DONE), low=lower_slot(start))
            zoom = s._replace(phase=jnp.int32(_ZOOM), low=lower_slot(s), insufficient=False)
            wolfe_s = s._replace(phase=jnp.int32(_DONE), low=jnp.int32(1))
            out = choose(rising, zoom, go_on)
            out = choose(wolfe, wolfe_s, out)
            out = choose(fail, zoom, out)
            return choose(exhausted, start, out)

        def zooming(s, t, f_t, g_t, gtd_t):
            """The zoom phase's update of the bracket with the newest trial."""
            low, high = s.low, 1 - s.low
            fail = (f_t > f0 + c1_ * t * gtd) | (f_t >= s.values[low])
            worse = put(s, high, t, f_t, g_t, gtd_t)
            worse = worse._replace(low=lower_slot(worse))
            wolfe = jnp.abs(gtd_t) <= -c2_ * gtd
            flip = ~wolfe & (gtd_t * (s.steps[high] - s.steps[low]) >= 0)
            better = put(choose(flip, copy(s, high, low), s), low, t, f_t, g_t, gtd_t)
            better = better._replace(phase=jnp.where(wolfe, _DONE, _ZOOM).astype(jnp.int32))
            return choose(fail, worse, better)

        def next_zoom_trial(s, ls_iter):
            """Where the zoom phase tries next (or that it stops)."""
            lo, hi = jnp.minimum(s.steps[0], s.steps[1]), jnp.maximum(s.steps[0], s.steps[1])
            small = jnp.abs(s.steps[1] - s.steps[0]) * d_norm < tol
            stop = (s.phase != _ZOOM) | (ls_iter >= max_linesearch_steps) | small
            t = _cubic_minimum(
                s.steps[0], s.values[0], s.slopes[0], s.steps[1], s.values[1], s.slopes[1], lo, hi
            )
            eps = 0.1 * (hi - lo)
            near = jnp.minimum(hi - t, t - lo) < eps
            edge = s.insufficient | (t >= hi) | (t <= lo)
            away = jnp.where(jnp.abs(t - hi) < jnp.abs(t - lo), hi - eps, lo + eps)
            t = jnp.where(near & edge, away, t)
            insufficient = jnp.where(near, ~edge, False)
            go = s._replace(trial=t, insufficient=insufficient)
            return choose(stop, s._replace(phase=jnp.int32(_DONE)), go)

        def body(s):
            ls_iter = s.evals  # trials before this one (torch's ls_iter after it)
            f_t, g_t = evaluate(s.trial)
            gtd_t = slope(g_t)
            s = s._replace(evals=s.evals + 1)
            bracketed = bracketing(s, s.trial, f_t, g_t, gtd_t, ls_iter)
            zoomed = zooming(s, s.trial, f_t, g_t, gtd_t)
            s = choose(s.phase == _BRACKET, bracketed, zoomed)
            return choose(s.phase == _ZOOM, next_zoom_trial(s, ls_iter), s)

        descent = gtd <= -tol
        search = _Search(
            phase=jnp.where(descent, _BRACKET, _DONE).astype(jnp.int32),
            evals=jnp.zeros([], jnp.int32),
            trial=t0,
            steps=jnp.zeros([2], real),
            values=jnp.stack([f0, f0]),
            slopes=jnp.stack([gtd, gtd]),
            grads=[jnp.stack([g, g]) for g in g0],
            low=jnp.int32(0),
            insufficient=jnp.asarray(False),
        )
        search = jax.lax.while_loop(lambda s: s.phase != _DONE, body, search)
        t = search.steps[search.low]
        it = iter([m[search.low] for m in search.grads])
        g_new = [next(it) if f else _core.zero_update(g) for g, f in zip(g_all, floats)]
        out = [
            (_core.as_scalar(t, d.dtype) * d).astype(d.dtype) if f else _core.zero_update(d)
            for d, f in zip(d_all, floats)
        ]
        new_state = ScaleByStrongWolfeLinesearchState(
            count=_core.next_count(state.count),
            learning_rate=t,
            value=search.values[search.low],
            grad=jax.tree.unflatten(treedef, g_new),
            num_linesearch_steps=search.evals,
        )
        return jax.tree.unflatten(treedef, out), new_state

    compiled = jax.jit(search, static_argnames="value_fn")
    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
