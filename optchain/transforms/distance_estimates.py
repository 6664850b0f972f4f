"""The D-Adaptation / Prodigy distance estimate: a running lower bound :math:`d` on the
distance to the solution, and Adam's direction scaled by it (the step size learns itself)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from optchain import _core
from optchain.transforms import _tree_reductions as tr
from optchain.transforms.moments import _moment

__all__ = [
    "DistanceEstimateState",
    "ExpAvgSqState",
    "ExpAvgState",
    "exp_avg",
    "exp_avg_sq",
    "scale_by_distance_estimate",
]

RULES = ("prodigy", "dadapt")


@_core.shares_count()
class ExpAvgState(NamedTuple):
    """State of :func:`exp_avg`: an EMA of the updates under the D-Adaptation name."""

    count: jax.Array
    exp_avg: Any


@_core.shares_count()
class ExpAvgSqState(NamedTuple):
    """State of :func:`exp_avg_sq`: an EMA of :math:`|u|^2` under the D-Adaptation name."""

    count: jax.Array
    exp_avg_sq: Any


def exp_avg(decay: _core.ScalarOrSchedule = 0.9) -> optax.GradientTransformation:
    r""":math:`m_t = \beta m_{t-1} + (1-\beta) u_t`, output :math:`m_t` (:func:`first_moment`
    with the state field ``exp_avg`` of D-Adaptation and Prodigy).

    Args:
      decay: :math:`\beta` in [0, 1], or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ExpAvgState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.exp_avg(0.5)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([1.], dtype=float32)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015.
    """
    return _moment(decay, None, ExpAvgState)


def exp_avg_sq(decay: _core.ScalarOrSchedule = 0.999) -> optax.GradientTransformation:
    r""":math:`v_t = \beta v_{t-1} + (1-\beta) |u_t|^2`, output :math:`v_t` (:func:`second_moment`
    with the state field ``exp_avg_sq``; real for complex updates).

    Args:
      decay: :math:`\beta` in [0, 1], or a schedule.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`ExpAvgSqState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.exp_avg_sq(0.5)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([2.], dtype=float32)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015.
    """
    return _moment(decay, None, ExpAvgSqState, square=True)


@_core.shares_count("numerator_state", "denominator_state")
class DistanceEstimateState(NamedTuple):
    """State of :func:`scale_by_distance_estimate`: the two moment chains, the weighted sum of
    gradients :math:`s`, the starting point (Prodigy; ``None`` for D-Adaptation), the estimate
    :math:`d` (``estim_lr``), the weighted numerator and the largest estimate seen (Prodigy's
    ``growth_rate`` bound; ``None`` for D-Adaptation)."""

    count: jax.Array
    numerator_state: Any
    denominator_state: Any
    grad_sum: Any
    params0: Any
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    estim_lr_max: Any


def check_arguments(rule: str, betas: Any, beta3: Any, growth_rate: Any) -> None:
    """Raises ``ValueError`` naming the argument (``betas[1]``, ``growth_rate``) out of range."""
    _core.check_choice("rule", rule, RULES)
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (b1, b2); got {betas!r}")
    for i, beta in enumerate(betas):  # numbers, as optax's (the bias correction's b**t)
        _core.check_hyperparameter(
            f"betas[{i}]", beta, low=0.0, high=1.0, high_open=True, allow_schedule=False
        )
    if beta3 is not None:
        _core.check_hyperparameter(
            "beta3", beta3, low=0.0, high=1.0, high_open=True, allow_schedule=False
        )
    rate = _core.concrete_float(growth_rate)
    if rate is None or math.isnan(rate) or rate <= 0:
        raise ValueError(f"growth_rate must be a number > 0 (inf: unbounded); got {growth_rate!r}")


def scale_by_distance_estimate(
    numerator: optax.GradientTransformation,
    denominator: optax.GradientTransformation,
    learning_rate: _core.ScalarOrSchedule = 1.0,
    *,
    rule: str = "prodigy",
    betas: tuple[float, float] = (0.9, 0.999),
    beta3: float | None = None,
    eps: _core.ScalarOrSchedule = 1e-8,
    estim_lr0: float = 1e-6,
    estim_lr_coef: _core.ScalarOrSchedule = 1.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    safeguard_warmup: bool = False,
    growth_rate: float = math.inf,
    use_bias_correction: bool = True,
) -> optax.GradientTransformationExtraArgs:
    r"""Adam's ratio scaled by a learned distance :math:`d`: :math:`u \mapsto \eta\, N / (\sqrt{D} + \epsilon') + \lambda \eta_d w`.

    :math:`\eta_d = d\,\alpha_t\,c_t` is the step (:math:`\alpha_t` = ``learning_rate``,
    :math:`c_t = \sqrt{1-\beta_2^t}/(1-\beta_1^t)` with ``use_bias_correction``, else 1).
    :math:`d` (``estim_lr``) starts at ``estim_lr0`` and grows to
    :math:`\kappa\, r_t / \lVert s_t \rVert_1` (at most by ``growth_rate`` per step after its
    first growth; ``inf``: unbounded), a lower bound on the distance to the solution, where
    :math:`r_t` (``numerator_weighted``) and :math:`s_t` (``grad_sum``) are weighted sums of
    :math:`\langle g, \delta\rangle` and of the gradients :math:`g`. ``rule`` picks the weights
    and the displacement :math:`\delta`:

    * ``"prodigy"`` (Mishchenko & Defazio): :math:`\delta = w_0 - w` (``params0``),
      :math:`r_t = \beta_3 r + (d/d_0)\eta_d \langle g,\delta\rangle`,
      :math:`s_t = \beta_3 s + (d/d_0)\eta_d g` (:math:`\eta_d \to d` with
      ``safeguard_warmup``); both moments are fed :math:`d g`; :math:`\eta = \eta_d`,
      :math:`\epsilon' = d_{new}\,\epsilon`.
    * ``"dadapt"`` (Defazio & Mishchenko, with :math:`\beta = \sqrt{\beta_2}`):
      :math:`\delta = s / (\sqrt{v} + \epsilon)` with :math:`v` the denominator chain's
      ``exp_avg_sq`` before this step, :math:`r_t = \beta r + (1-\beta)\eta_d\langle g,
      \delta\rangle`, :math:`s_t = \beta s + (1-\beta)\eta_d g`, :math:`\kappa = 1/(1-\beta)`;
      the numerator is fed :math:`\eta_d g`, the denominator :math:`g`; :math:`\eta = 1`,
      :math:`\epsilon' = \epsilon`.

    While :math:`s` is zero (only zero gradients so far) :math:`d` keeps its value (optax
    would divide 0 by 0). Complex leaves are points of the plane:
    :math:`\langle g,\delta\rangle = \operatorname{Re}\sum g\bar\delta`, :math:`|s|` the modulus.
    The output is a descent *direction* scaled by the step: negate it (named optimizers do).

    Args:
      numerator: the chain of :math:`N` (an EMA, :func:`exp_avg`).
      denominator: the chain of :math:`D` (an EMA of squares, :func:`exp_avg_sq`).
      learning_rate: :math:`\alpha_t`, a float or a schedule (1 is the base value).
      rule: ``"prodigy"`` or ``"dadapt"``.
      betas: :math:`(\beta_1, \beta_2)` of the bias correction.
      beta3: Prodigy's :math:`\beta_3` (``None``: :math:`\sqrt{\beta_2}`).
      eps: :math:`\epsilon`, a float or a schedule.
      estim_lr0: :math:`d_0 > 0`.
      estim_lr_coef: :math:`\kappa` (Prodigy's ``d_coef``), a float or a schedule.
      weight_decay: :math:`\lambda`, decoupled, scaled by :math:`\eta_d`.
      safeguard_warmup: Prodigy: leave :math:`\alpha_t c_t` out of :math:`s`.
      growth_rate: the largest factor by which :math:`d` may grow per step.
      use_bias_correction: multiply the step by :math:`c_t`.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state :class:`DistanceEstimateState`.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_distance_estimate(optchain.exp_avg(), optchain.exp_avg_sq())
      >>> w = jnp.array([1.0, -2.0])
      >>> u, state = tx.update(jnp.array([0.5, -0.5]), tx.init(w), w)
      >>> float(state.estim_lr)  # w0 - w = 0 on the first step: d stays d0
      1e-06

    References:
      Defazio & Mishchenko, *Learning-Rate-Free Learning by D-Adaptation*, ICML 2023.
      Mishchenko & Defazio, *Prodigy: An Expeditiously Adaptive Parameter-Free Learner*, 2023.
    """
    check_arguments(rule, betas, beta3, growth_rate)
    _core.check_hyperparameter("estim_lr0", estim_lr0, low=0.0, low_open=True, allow_schedule=False)
    _core.check_hyperparameter("learning_rate", learning_rate, low=0.0)
    _core.check_hyperparameter("eps", eps, low=0.0)
    _core.check_hyperparameter("estim_lr_coef", estim_lr_coef, low=0.0, low_open=True)
    _core.check_hyperparameter("weight_decay", weight_decay, low=0.0)
    b1, b2 = betas
    prodigy = rule == "prodigy"
    decay = (b2**0.5 if beta3 is None else beta3) if prodigy else b2**0.5
    branches = tuple(optax.with_extra_args_support(t) for t in (numerator, denominator))

    def init_fn(params):
        _core.check_leaves(params, "scale_by_distance_estimate")
        dtype = tr.scalar_dtype(params)
        denominator_state = branches[1].init(params)
        if not prodigy and optax.tree.get(denominator_state, "exp_avg_sq") is None:
            raise ValueError(
                "scale_by_distance_estimate: rule='dadapt' reads the denominator's second "
                "moment 'exp_avg_sq' (use exp_avg_sq(b2) as the denominator)"
            )
        return DistanceEstimateState(
            count=_core.zero_count(),
            numerator_state=branches[0].init(params),
            denominator_state=denominator_state,
            grad_sum=_core.tree_zeros(params),
            params0=tr.copy_tree(params) if prodigy else None,
            estim_lr=jnp.full([], estim_lr0, dtype),
            numerator_weighted=jnp.zeros([], dtype),
            estim_lr_max=jnp.full([], estim_lr0, dtype) if prodigy else None,
        )

    def update_fn(updates, state, params=None, **extra_args):
        _core.require_params(params, updates, "scale_by_distance_estimate")
        count = state.count
        f32 = _core.compute_dtype(state.estim_lr.dtype)  # the scalars' arithmetic
        t = _core.next_count(count).astype(f32)
        lr = jnp.asarray(_core.resolve(learning_rate, count), f32)
        bc = jnp.sqrt(1 - jnp.power(jnp.asarray(b2, f32), t)) / (
            1 - jnp.power(jnp.asarray(b1, f32), t)
        )
        d = state.estim_lr.astype(f32)
        dlr = d * lr * (bc if use_bias_correction else 1.0)
        e = jnp.asarray(_core.resolve(eps, count), f32)
        d0 = jnp.asarray(estim_lr0, f32)

        def axpy(s, g, a):  # decay * s + a * g, in the state's dtype
            dt = _core.compute_dtype(s.dtype)
            out = decay * s.astype(dt) + _core.scale_real(g.astype(dt), a)
            return out.astype(s.dtype)

        if prodigy:
            displacement = _core.map_floats(lambda p0, p: p0 - p, state.params0, params)
            weight = d / d0 * dlr
            inputs = (d, d)
            sum_weight = d / d0 * (d if safeguard_warmup else dlr)
        else:
            nu = optax.tree.get(state.denominator_state, "exp_avg_sq")

            def preconditioned(s, v):  # in at least float32: eps = 1e-8 is 0 in float16
                dt = _core.compute_dtype(s.dtype)
                root = jnp.sqrt(_core.real_part(v).astype(_core.real_dtype(dt)))
                return s.astype(dt) / (root + e.astype(root.dtype)).astype(dt)

            displacement = _core.map_floats(preconditioned, state.grad_sum, nu)
            weight = (1 - decay) * dlr
            inputs = (dlr, None)
            sum_weight = weight
        # The new term is stored once (divided by a one XLA cannot fold, from the finite step
        # t), so the sum below has one product for XLA:CPU to contract into an FMA; with two,
        # its choice follows the operand order, which buffer aliasing changes: a donated step
        # would differ by an ulp.
        gained = weight * tr.real_vdot(updates, displacement).astype(f32)
        gained = _core.computed_once(gained, t)
        numerator_weighted = decay * state.numerator_weighted.astype(f32) + gained
        grad_sum = _core.map_floats(
            lambda g, s: axpy(s, g, sum_weight), updates, state.grad_sum, keep=1
        )
        total = tr.l1_norm(grad_sum).astype(f32)
        coef = jnp.asarray(_core.resolve(estim_lr_coef, count), f32)
        estimate = coef * numerator_weighted / (total if prodigy else (1 - decay) * total)
        moved = total > 0  # all gradients zero so far: no estimate yet
        if prodigy:
            d_max = jnp.maximum(state.estim_lr_max.astype(f32), estimate)
            first = state.estim_lr == jnp.asarray(estim_lr0, state.estim_lr.dtype)
            grown = jnp.where(first, jnp.maximum(d, estimate), d)
            new_d = jnp.minimum(d_max, grown * growth_rate)
            new_max = jnp.where(moved, d_max, state.estim_lr_max.astype(f32))
            new_max = new_max.astype(state.estim_lr.dtype)
        else:
            new_d = jnp.maximum(d, jnp.minimum(estimate, d * growth_rate))
            new_max = None
        new_d = jnp.where(moved, new_d, d)

        def fed(scale):
            if scale is None:
                return updates
            return _core.map_floats(lambda g: _core.scale_real(g, scale), updates)

        (num, den), (num_state, den_state) = zip(
            *(
                b.update(fed(s), st, params, **extra_args)
                for b, s, st in zip(
                    branches, inputs, (state.numerator_state, state.denominator_state)
                )
            )
        )
        eps_now = new_d * e if prodigy else e
        scale = dlr if prodigy else jnp.ones([], f32)
        wd = jnp.asarray(_core.resolve(weight_decay, count), f32)

        def step(n, v, w):
            dt = _core.compute_dtype(n.dtype)
            root = jnp.sqrt(_core.real_part(v).astype(_core.real_dtype(dt)))
            ratio = n.astype(dt) / (root + eps_now.astype(root.dtype)).astype(dt)
            out = _core.scale_real(ratio, scale) + _core.scale_real(w.astype(dt), wd * dlr)
            return out.astype(n.dtype)

        out = _core.map_floats(step, num, den, params)
        new_state = DistanceEstimateState(
            count=_core.next_count(count),
            numerator_state=num_state,
            denominator_state=den_state,
            grad_sum=grad_sum,
            params0=state.params0,
            estim_lr=new_d.astype(state.estim_lr.dtype),
            numerator_weighted=numerator_weighted.astype(state.numerator_weighted.dtype),
            estim_lr_max=new_max,
        )
        return _core.cast_tree(out, updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
