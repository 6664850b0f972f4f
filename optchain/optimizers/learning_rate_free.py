"""Learning-rate-free methods that estimate the distance to the solution (Prodigy,
D-Adaptation's AdamW) or learn the scale of another optimizer's steps (Mechanic), as recipes in
optax.contrib's form and, through documented keywords, the authors' (``prodigyopt``,
``dadaptation``)."""

from __future__ import annotations

import math

import optax

from optchain import _core
from optchain.optimizers._common import GT, _chain, named_optimizer
from optchain.transforms import distance_estimates
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.distance_estimates import exp_avg, exp_avg_sq, scale_by_distance_estimate
from optchain.transforms.mechanic import scale_by_mechanic
from optchain.transforms.scaling import scale

__all__ = ["dadapt_adamw", "mechanize", "prodigy"]


def _decay_links(weight_decay, decouple):
    """(coupled L2 link before the estimate or ``None``, the decoupled rate it applies)."""
    if decouple:
        return None, weight_decay
    return add_decayed_weights(weight_decay), 0.0


@named_optimizer
def prodigy(
    learning_rate: _core.ScalarOrSchedule = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    beta3: float | None = None,
    eps: _core.ScalarOrSchedule = 1e-8,
    estim_lr0: float = 1e-6,
    estim_lr_coef: _core.ScalarOrSchedule = 1.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    safeguard_warmup: bool = False,
    *,
    use_bias_correction: bool = True,
    decouple: bool = True,
    growth_rate: float = math.inf,
) -> GT:
    r"""Prodigy: :math:`w \leftarrow w - \eta_d\,(m_t / (\sqrt{v_t} + d\epsilon) + \lambda w)`, :math:`\eta_d = d\,\alpha_t\sqrt{1-\beta_2^t}/(1-\beta_1^t)`, :math:`m, v` the moments of :math:`d g`.

    Recipe: ``counted_chain(scale_by_distance_estimate(exp_avg(b1), exp_avg_sq(b2), rule=
    "prodigy", ...), scale(-1))``: the distance estimate :math:`d` (``estim_lr``) grows to
    :math:`\kappa\, r_t / \lVert s_t\rVert_1` with :math:`r_t = \beta_3 r + (d/d_0)\eta_d
    \langle g, w_0 - w\rangle` and :math:`s_t = \beta_3 s + (d/d_0)\eta_d g` (see
    :func:`scale_by_distance_estimate`). The state holds optax's ``exp_avg``, ``exp_avg_sq``,
    ``grad_sum``, ``params0``, ``estim_lr``, ``numerator_weighted`` and ``count`` (and
    ``estim_lr_max``, the bound ``growth_rate`` reads).

    * optax: ``optax.contrib.prodigy`` with the same arguments (a zero first gradient keeps
      :math:`d` here; optax's estimate is 0/0 there).
    * prodigyopt.Prodigy(lr, betas, beta3, eps, weight_decay, decouple, use_bias_correction,
      safeguard_warmup, d0, d_coef, growth_rate): ``prodigy(lr, betas, beta3, eps, d0, d_coef,
      weight_decay, safeguard_warmup, use_bias_correction=use_bias_correction,
      decouple=decouple, growth_rate=growth_rate)``; its default
      ``use_bias_correction=False`` must be passed (optax always corrects).

    Args:
      learning_rate: :math:`\alpha_t`, a float or a schedule with base value 1.
      betas: :math:`(\beta_1, \beta_2)` of the moments.
      beta3: :math:`\beta_3` of :math:`r` and :math:`s` (``None``: :math:`\sqrt{\beta_2}`).
      eps: :math:`\epsilon`, scaled by :math:`d`.
      estim_lr0: :math:`d_0 > 0`, the initial (under-)estimate.
      estim_lr_coef: :math:`\kappa` (prodigyopt's ``d_coef``).
      weight_decay: :math:`\lambda \ge 0` (decoupled, scaled by :math:`\eta_d`).
      safeguard_warmup: leave :math:`\alpha_t` and the bias correction out of :math:`s`.
      use_bias_correction: Adam's correction in :math:`\eta_d` (prodigyopt: off by default).
      decouple: decoupled decay (optax, prodigyopt's default); ``False`` adds
        :math:`\lambda w` to the gradient instead.
      growth_rate: after its first growth :math:`d` grows at most by this factor per step.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.prodigy()
      >>> w = jnp.array([1.0, -2.0])
      >>> u, state = tx.update(jnp.array([0.5, -0.5]), tx.init(w), w)
      >>> u  # the first step is d0 * alpha * sign(g) (v = g**2, m = 0.1 g, c_1 = sqrt(0.001)/0.1)
      Array([-1.e-06,  1.e-06], dtype=float32)

    References:
      Mishchenko & Defazio, *Prodigy: An Expeditiously Adaptive Parameter-Free Learner*, ICML
      2024 (arXiv:2306.06101).
    """
    distance_estimates.check_arguments("prodigy", betas, beta3, growth_rate)
    coupled, decoupled = _decay_links(weight_decay, decouple)
    b1, b2 = betas
    direction = scale_by_distance_estimate(
        exp_avg(b1),
        exp_avg_sq(b2),
        learning_rate,
        rule="prodigy",
        betas=betas,
        beta3=beta3,
        eps=eps,
        estim_lr0=estim_lr0,
        estim_lr_coef=estim_lr_coef,
        weight_decay=decoupled,
        safeguard_warmup=safeguard_warmup,
        growth_rate=growth_rate,
        use_bias_correction=use_bias_correction,
    )
    return _chain(coupled, direction, scale(-1.0))


@named_optimizer
def dadapt_adamw(
    learning_rate: _core.ScalarOrSchedule = 1.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: _core.ScalarOrSchedule = 1e-8,
    estim_lr0: float = 1e-6,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    *,
    use_bias_correction: bool = True,
    decouple: bool = True,
    growth_rate: float = math.inf,
) -> GT:
    r"""D-Adapted AdamW: :math:`w \leftarrow w - m_t / (\sqrt{v_t} + \epsilon) - \lambda\eta_d w`, :math:`m` the EMA of :math:`\eta_d g`, :math:`\eta_d = d\,\alpha_t\sqrt{1-\beta_2^t}/(1-\beta_1^t)`.

    Recipe: ``counted_chain(scale_by_distance_estimate(exp_avg(b1), exp_avg_sq(b2), rule=
    "dadapt", ...), scale(-1))``: with :math:`\beta = \sqrt{\beta_2}`, :math:`d`
    (``estim_lr``) grows to :math:`r_t / ((1-\beta)\lVert s_t\rVert_1)`,
    :math:`r_t = \beta r + (1-\beta)\eta_d\langle g, s/(\sqrt{v}+\epsilon)\rangle`,
    :math:`s_t = \beta s + (1-\beta)\eta_d g`. The state holds optax's ``exp_avg``,
    ``exp_avg_sq``, ``grad_sum``, ``estim_lr``, ``numerator_weighted`` and ``count``.

    * optax: ``optax.contrib.dadapt_adamw`` with the same arguments (a zero first gradient
      keeps :math:`d` here; optax's estimate is 0/0 there).
    * dadaptation.DAdaptAdam(lr, betas, eps, weight_decay, decouple, use_bias_correction, d0,
      growth_rate): ``dadapt_adamw(lr, betas, eps, d0, weight_decay,
      use_bias_correction=use_bias_correction, decouple=decouple, growth_rate=growth_rate)``;
      its defaults ``decouple=False`` and ``use_bias_correction=False`` must be passed.
      ``log_every`` only logs (read ``estim_lr`` from the state); ``layer_scale`` is a
      per-group factor not offered here.

    Args:
      learning_rate: :math:`\alpha_t`, a float or a schedule with base value 1.
      betas: :math:`(\beta_1, \beta_2)` of the moments.
      eps: :math:`\epsilon`.
      estim_lr0: :math:`d_0 > 0`, the initial (under-)estimate.
      weight_decay: :math:`\lambda \ge 0` (decoupled, scaled by :math:`\eta_d`).
      use_bias_correction: Adam's correction in :math:`\eta_d` (dadaptation: off by default).
      decouple: decoupled decay (optax); ``False`` (dadaptation's default) adds
        :math:`\lambda w` to the gradient instead.
      growth_rate: :math:`d` grows at most by this factor per step.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.dadapt_adamw()
      >>> w = jnp.array([1.0, -2.0])
      >>> state = tx.init(w)
      >>> float(state.links[0].estim_lr)
      1e-06

    References:
      Defazio & Mishchenko, *Learning-Rate-Free Learning by D-Adaptation*, ICML 2023.
    """
    distance_estimates.check_arguments("dadapt", betas, None, growth_rate)
    coupled, decoupled = _decay_links(weight_decay, decouple)
    b1, b2 = betas
    direction = scale_by_distance_estimate(
        exp_avg(b1),
        exp_avg_sq(b2),
        learning_rate,
        rule="dadapt",
        betas=betas,
        eps=eps,
        estim_lr0=estim_lr0,
        weight_decay=decoupled,
        growth_rate=growth_rate,
        use_bias_correction=use_bias_correction,
    )
    return _chain(coupled, direction, scale(-1.0))


@named_optimizer
def mechanize(
    base_optimizer: optax.GradientTransformation,
    weight_decay: _core.ScalarOrSchedule = 1e-2,
    eps: _core.ScalarOrSchedule = 1e-8,
    s_init: float = 1e-6,
    num_betas: int = 6,
) -> GT:
    r"""Mechanic around ``base_optimizer``: :math:`w_{t+1} = x_0 + S_t \sum_{k \le t} u_k`, the scale :math:`S_t = \sum_j s_j` learned online.

    Recipe: ``counted_chain(scale_by_mechanic(base_optimizer, ...))`` (see
    :func:`scale_by_mechanic`). The state holds optax's ``base_optimizer_state``, ``count``,
    ``r``, ``m``, ``v``, ``s`` and ``x0``; the base optimizer keeps its own state (and counter).

    * optax: ``optax.contrib.mechanize`` with the same arguments.

    Args:
      base_optimizer: the optimizer to tune (learning rate 1, or a schedule with base 1).
      weight_decay: Mechanic's own decay :math:`\lambda \ge 0`.
      eps: :math:`\epsilon`.
      s_init: :math:`s_0 > 0`.
      num_betas: the number of accumulators, :math:`\beta_j = 1 - 10^{-j}`.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.mechanize(optax.sgd(1.0))
      >>> w = jnp.array([1.0, -2.0])
      >>> u, state = tx.update(jnp.array([0.5, -0.5]), tx.init(w), w)
      >>> round(float(optax.tree.get(state, "s").sum()), 12)  # first: the scales sum to s_init
      1e-06

    References:
      Cutkosky, Defazio & Mehta, *Mechanic: A Learning Rate Tuner*, NeurIPS 2023.
    """
    return _chain(scale_by_mechanic(base_optimizer, weight_decay, eps, s_init, num_betas))
