"""Named optimizers: recipes that chain public primitives and nothing else.

Where optax has the optimizer, the name, keyword names and defaults are optax's, and the
trajectory matches optax 0.2.8 (except ``rprop``, see its docstring). Settings that
reproduce torch.optim 2.13 and Apache MXNet 1.9.1 are given in each docstring and tested
against committed reference trajectories.
"""

from __future__ import annotations

from typing import Any

import optax

from optchain import _core
from optchain.combine import counted_chain, divide, fork
from optchain.distributed import buffer_density, dgc_sparsify, majority_vote, sparse_mean
from optchain.transforms.accumulators import scale_by_adadelta, scale_by_sum_of_squares
from optchain.transforms.adaptive_rates import (
    scale_by_delta_bar_delta,
    scale_by_ftml,
    scale_by_rprop,
)
from optchain.transforms.clipping import clip, clip_by_global_norm
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.layerwise import scale_by_trust_ratio
from optchain.transforms.maxima import infinity_norm, running_max
from optchain.transforms.moments import bias_correction, ema, first_moment, second_moment
from optchain.transforms.moments import momentum as heavy_ball
from optchain.transforms.noise import add_noise
from optchain.transforms.rms import scale_by_rms, scale_by_stddev
from optchain.transforms.scaling import scale, scale_by_learning_rate, sqrt
from optchain.transforms.sign import sign

GT = optax.GradientTransformationExtraArgs


def _chain(*links: optax.GradientTransformation | None) -> GT:
    """A named optimizer: its links in a :func:`counted_chain` (one step counter). ``None``
    marks a link the optimizer's structure leaves out (``momentum=None``); a value of 0 never
    removes a link: such a link is a no-op that keeps its place in the state."""
    return counted_chain(*(link for link in links if link is not None))


def _all_is_none(mask: Any) -> Any:
    """optax's masks default to ``True`` (every leaf); optchain's transforms take ``None``."""
    return None if mask is True else mask


def _inner(*links: optax.GradientTransformation | None) -> GT:
    """A sub-chain inside a named optimizer (it shares the optimizer's counter)."""
    return optax.chain(*(link for link in links if link is not None))


def sgd(
    learning_rate: _core.ScalarOrSchedule,
    momentum: _core.ScalarOrSchedule | None = None,
    nesterov: bool = False,
    accumulator_dtype: Any = None,
    *,
    dampening: _core.ScalarOrSchedule = 0.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""Stochastic gradient descent, with optional heavy-ball or Nesterov momentum.

    :math:`g \leftarrow g + \lambda w`; :math:`b_t = \mu b_{t-1} + (1-\tau) g_t`;
    :math:`w \leftarrow w - \alpha (g_t + \mu b_t)` with Nesterov, else :math:`w - \alpha b_t`.

    Recipe: ``chain(add_decayed_weights(weight_decay), momentum(momentum, dampening,
    nesterov), scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.sgd`` with the same arguments.
    * torch.optim.SGD(lr, momentum, dampening, weight_decay, nesterov): the same
      arguments (``weight_decay`` is coupled, as in torch).
    * MXNet ``NAG(learning_rate, momentum)``: ``sgd(lr, momentum, nesterov=True)``.
      MXNet 1.9.1's NAG with ``wd > 0`` agrees with this (and with torch) on the first
      step only; its later steps are not reproduced.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.sgd(0.1, momentum=0.9, nesterov=True)
      >>> w = jnp.array([1.0]); state = tx.init(w)
      >>> u, state = tx.update(2 * w, state, w)
      >>> optax.apply_updates(w, u)
      Array([0.62], dtype=float32)

    References:
      Robbins & Monro 1951; Polyak 1964; Sutskever et al., ICML 2013.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        None
        if momentum is None
        else heavy_ball(
            momentum, dampening=dampening, nesterov=nesterov, accumulator_dtype=accumulator_dtype
        ),
        scale_by_learning_rate(learning_rate),
    )


def adagrad(
    learning_rate: _core.ScalarOrSchedule,
    initial_accumulator_value: float = 0.1,
    eps: _core.ScalarOrSchedule = 1e-7,
    *,
    eps_in_sqrt: bool = True,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    accumulator_dtype: Any = None,
) -> GT:
    r"""AdaGrad: :math:`s_t = s_{t-1} + g_t^2`, :math:`w \leftarrow w - \alpha g_t / \sqrt{s_t + \epsilon}`.

    Recipe: ``chain(add_decayed_weights(weight_decay), scale_by_sum_of_squares(...),
    scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.adagrad`` defaults.
    * torch.optim.Adagrad(lr, eps=1e-10): ``adagrad(lr, initial_accumulator_value=0.0,
      eps=1e-10, eps_in_sqrt=False)``; torch's ``lr_decay`` is the schedule
      ``lambda t: lr / (1 + t * lr_decay)``.

    References:
      Duchi et al., JMLR 2011.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        scale_by_sum_of_squares(
            initial_accumulator_value,
            eps,
            eps_in_sqrt=eps_in_sqrt,
            accumulator_dtype=accumulator_dtype,
        ),
        scale_by_learning_rate(learning_rate),
    )


def rmsprop(
    learning_rate: _core.ScalarOrSchedule,
    decay: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-8,
    initial_scale: float = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: _core.ScalarOrSchedule | None = None,
    nesterov: bool = False,
    bias_correction: bool = False,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    accumulator_dtype: Any = None,
) -> GT:
    r"""RMSprop: :math:`w \leftarrow w - \alpha g_t / \sqrt{\nu_t + \epsilon}` (centered: :math:`\nu_t - \mu_t^2`).

    ``bias_correction`` (optax's) debiases :math:`\nu` (and :math:`\mu`) by
    :math:`1-\rho^t`. Momentum, if given, accumulates the *scaled* step (after the learning rate), as in
    optax and torch. Recipe: ``chain(add_decayed_weights, scale_by_rms | scale_by_stddev,
    scale_by_learning_rate, momentum)``.

    * optax: ``optax.rmsprop`` with the same arguments.
    * torch.optim.RMSprop(lr, alpha, eps, weight_decay, momentum, centered):
      ``rmsprop(lr, decay=alpha, eps=eps, eps_in_sqrt=False, centered=centered,
      momentum=momentum or None, weight_decay=weight_decay)``.

    References:
      Tieleman & Hinton 2012; Graves 2013 (centered).
    """
    scaler = scale_by_stddev if centered else scale_by_rms
    return _chain(
        add_decayed_weights(weight_decay),
        scaler(
            decay,
            eps,
            eps_in_sqrt=eps_in_sqrt,
            initial_scale=initial_scale,
            bias_correction=bias_correction,
            accumulator_dtype=accumulator_dtype,
        ),
        scale_by_learning_rate(learning_rate),
        None if momentum is None else heavy_ball(momentum, nesterov=nesterov),
    )


def adadelta(
    learning_rate: _core.ScalarOrSchedule = 1.0,
    rho: _core.ScalarOrSchedule = 0.9,
    eps: _core.ScalarOrSchedule = 1e-6,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = None,
    *,
    accumulator_dtype: Any = None,
) -> GT:
    r"""AdaDelta: :math:`w \leftarrow w - \alpha\, g_t \sqrt{E[\Delta^2]_{t-1} + \epsilon} / \sqrt{E[g^2]_t + \epsilon}`.

    Recipe: ``chain(add_decayed_weights(weight_decay, weight_decay_mask),
    scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.adadelta`` with the same arguments (optax's default learning
      rate is ``None``; here it is torch's and Zeiler's 1.0).
    * torch.optim.Adadelta(lr, rho, eps, weight_decay): the same arguments.

    References:
      Zeiler 2012.
    """
    return _chain(
        add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_adadelta(rho, eps, accumulator_dtype=accumulator_dtype),
        scale_by_learning_rate(learning_rate),
    )


def _adam_direction(
    b1, b2, eps, eps_root, mu_dtype, nu_dtype, *, nesterov=False, amsgrad=None, debias=(True, True)
) -> GT:
    """Adam's preconditioned direction ``m_hat / (sqrt(v_hat + eps_root) + eps)`` as a chain;
    its state holds optax's ``mu`` and ``nu`` (and ``nu_max`` for AMSGrad)."""
    debias_mu, debias_nu = debias
    if nesterov:
        numerator = fork(
            _inner(
                first_moment(b1, accumulator_dtype=mu_dtype),
                bias_correction(b1, step_offset=1) if debias_mu else None,
                scale(b1),
            ),
            _inner(bias_correction(b1) if debias_mu else None, scale(_core.one_minus(b1))),
            merge=lambda look_ahead, gradient: look_ahead + gradient,
        )
    else:
        numerator = _inner(
            first_moment(b1, accumulator_dtype=mu_dtype),
            bias_correction(b1) if debias_mu else None,
        )
    correct_nu = bias_correction(b2) if debias_nu else None
    if amsgrad == "corrected":
        second = (correct_nu, running_max(accumulator_dtype=nu_dtype))
    elif amsgrad == "raw":
        second = (running_max(accumulator_dtype=nu_dtype), correct_nu)
    else:
        second = (correct_nu,)
    denominator = _inner(second_moment(b2, accumulator_dtype=nu_dtype), *second, sqrt(eps_root))
    return divide(numerator, denominator, eps=eps)


def adam(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
    weight_decay: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""Adam: :math:`w \leftarrow w - \alpha\, \hat m_t / (\sqrt{\hat v_t + \bar\epsilon} + \epsilon)`.

    :math:`\hat m, \hat v` are the bias-corrected EMAs of :math:`g` and :math:`g^2`.
    Recipe::

        counted_chain(
            add_decayed_weights(weight_decay),          # coupled L2, a no-op by default
            divide(chain(first_moment(b1), bias_correction(b1)),
                   chain(second_moment(b2), bias_correction(b2), sqrt(eps_root)),
                   eps=eps),
            scale_by_learning_rate(learning_rate))

    The state has optax's ``count``, ``mu`` and ``nu`` (``optax.tree.get(state, "mu")``).

    * optax: ``optax.adam`` with the same arguments (``nu_dtype`` is extra: optax has no
      dtype knob for the second moment).
    * torch.optim.Adam(lr, betas=(b1, b2), eps, weight_decay): the same values; torch
      computes :math:`\sqrt{v}/\sqrt{1-\beta_2^t}` instead of :math:`\sqrt{v/(1-\beta_2^t)}`,
      equal up to rounding.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.adam(0.1)
      >>> w = jnp.array([1.0, -1.0]); state = tx.init(w)
      >>> u, state = tx.update(w, state, w)
      >>> optax.apply_updates(w, u)
      Array([ 0.9, -0.9], dtype=float32)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        _adam_direction(b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )


def nadam(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    nu_dtype: Any = None,
) -> GT:
    r"""NAdam (Dozat 2016, optax's form): Adam whose numerator looks one step ahead.

    :math:`\hat m_t = \beta_1 m_t / (1-\beta_1^{t+1}) + (1-\beta_1) g_t / (1-\beta_1^t)`.
    Recipe: :func:`adam` with ``nesterov=True``, whose numerator is
    ``fork(chain(first_moment(b1), bias_correction(b1, step_offset=1), scale(b1)),
    chain(bias_correction(b1), scale(1 - b1)), merge=add)``.

    * optax: ``optax.nadam`` with the same arguments (``nesterov=False`` is Adam).
      torch.optim.NAdam uses a momentum-decay schedule
      (:math:`\psi`) that this recipe does not include.

    References:
      Dozat, *Incorporating Nesterov Momentum into Adam*, ICLR workshop 2016.
    """
    return adam(
        learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype
    )


def adamw(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    weight_decay: _core.ScalarOrSchedule = 1e-4,
    mask: Any = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GT:
    r"""AdamW: :math:`w \leftarrow w - \alpha (\hat m_t / (\sqrt{\hat v_t} + \epsilon) + \lambda w)`.

    Recipe: Adam's direction, then ``add_decayed_weights(weight_decay, mask)``, then
    ``scale_by_learning_rate``: the decay is decoupled from the moments but scaled by
    the learning rate.

    * optax: ``optax.adamw`` with the same arguments.
    * torch.optim.AdamW(lr, betas, eps, weight_decay): the same values (torch's default
      ``weight_decay`` is 0.01). For decay independent of the learning rate use
      :func:`optchain.decoupled_weight_decay` after the learning rate.

    References:
      Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019.
    """
    return _chain(
        _adam_direction(b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov=nesterov),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


def amsgrad(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    max_of: str = "corrected",
    nu_dtype: Any = None,
    weight_decay: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""AMSGrad: Adam whose denominator uses the running maximum of the second moment.

    ``max_of="corrected"`` (optax): :math:`\hat v^{max}_t = \max(\hat v^{max}_{t-1}, v_t / (1-\beta_2^t))`.
    ``max_of="raw"`` (torch.optim.Adam with ``amsgrad=True``): the maximum of the raw
    :math:`v_t`, bias-corrected afterwards. The two differ: the correction shrinks
    over time, so the corrected maximum can freeze at an early, inflated value.
    ``bias_correction_mu``/``bias_correction_nu`` (optax's) drop a bias correction. The state
    holds optax's ``mu``, ``nu`` and ``nu_max``.
    Recipe: the denominator is ``chain(second_moment(b2), bias_correction(b2),
    running_max(), sqrt(eps_root))``, with the middle two swapped for ``"raw"``.

    References:
      Reddi et al., *On the Convergence of Adam and Beyond*, ICLR 2018.
    """
    _core.check_choice("max_of", max_of, ("corrected", "raw"))
    _core.check_choice("bias_correction_mu", bias_correction_mu, (True, False))
    _core.check_choice("bias_correction_nu", bias_correction_nu, (True, False))
    return _chain(
        add_decayed_weights(weight_decay),
        _adam_direction(
            b1,
            b2,
            eps,
            eps_root,
            mu_dtype,
            nu_dtype,
            amsgrad=max_of,
            debias=(bias_correction_mu, bias_correction_nu),
        ),
        scale_by_learning_rate(learning_rate),
    )


def adamax(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GT:
    r"""Adamax: :math:`w \leftarrow w - \alpha\, \hat m_t / u_t`, :math:`u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)`.

    Recipe: ``divide(chain(first_moment(b1), bias_correction(b1)), infinity_norm(b2, eps))``
    then the learning rate. Same rule in optax.adamax and torch.optim.Adamax (same
    arguments; torch's ``weight_decay`` is coupled).

    References:
      Kingma & Ba, ICLR 2015, section 7.1.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        divide(
            _inner(first_moment(b1, accumulator_dtype=mu_dtype), bias_correction(b1)),
            infinity_norm(b2, eps, accumulator_dtype=nu_dtype),
        ),
        scale_by_learning_rate(learning_rate),
    )


def ftml(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.6,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    clip_gradient: _core.ScalarOrSchedule | None = None,
    accumulator_dtype: Any = None,
) -> GT:
    r"""Follow the Moving Leader (Zheng & Kwok 2017), as Apache MXNet's ``FTML``.

    Recipe: ``chain(add_decayed_weights(weight_decay), clip(clip_gradient),
    scale_by_ftml(learning_rate, b1, b2, eps))``. With the same hyperparameters it
    reproduces ``mx.optimizer.FTML(learning_rate, beta1=b1, beta2=b2, epsilon=eps,
    wd=weight_decay, clip_gradient=clip_gradient)`` step for step.

    References:
      Zheng & Kwok, *Follow the Moving Leader in Deep Learning*, ICML 2017.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        None if clip_gradient is None else clip(clip_gradient),
        scale_by_ftml(learning_rate, b1, b2, eps, accumulator_dtype=accumulator_dtype),
    )


def sign_sgd(
    learning_rate: _core.ScalarOrSchedule,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    wd_lh: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""signSGD: :math:`w \leftarrow w - \alpha \operatorname{sign}(g_t + \lambda w) - \alpha \lambda_{lh} w`.

    Recipe: ``chain(add_decayed_weights(weight_decay), sign(),
    add_decayed_weights(wd_lh), scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.sign_sgd``.
    * MXNet ``Signum(learning_rate, momentum=0, wd=wd)`` (its ``signsgd_update``):
      ``sign_sgd(lr, wd_lh=wd)``: with zero momentum MXNet's ``wd`` shrinks the weights
      by ``lr * wd`` after the sign instead of entering it.

    References:
      Bernstein et al., ICML 2018.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        sign(),
        add_decayed_weights(wd_lh),
        scale_by_learning_rate(learning_rate),
    )


def signum(
    learning_rate: _core.ScalarOrSchedule,
    beta: _core.ScalarOrSchedule = 0.9,
    accumulator_dtype: Any = None,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    wd_lh: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""Signum: :math:`m_t = \beta m_{t-1} + (1-\beta)(g_t + \lambda w)`, :math:`w \leftarrow w - \alpha (\operatorname{sign}(m_t) + \lambda_{lh} w)`.

    Recipe: ``chain(add_decayed_weights(weight_decay), ema(beta, debias=False), sign(),
    add_decayed_weights(wd_lh), scale_by_learning_rate(learning_rate))``.

    * optax: ``optax.signum(learning_rate, beta)``.
    * MXNet ``Signum(learning_rate, momentum=beta, wd=weight_decay, wd_lh=wd_lh)``:
      the same values, step for step.

    References:
      Bernstein et al., *signSGD: Compressed Optimisation for Non-Convex Problems*,
      ICML 2018.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
        sign(),
        add_decayed_weights(wd_lh),
        scale_by_learning_rate(learning_rate),
    )


def noisy_sgd(
    learning_rate: _core.ScalarOrSchedule,
    eta: _core.ScalarOrSchedule = 0.01,
    gamma: _core.ScalarOrSchedule = 0.55,
    key: Any = None,
    *,
    seed: int | None = None,
) -> GT:
    r"""SGD with annealed Gaussian noise: :math:`w \leftarrow w - \alpha (g_t + N(0, \eta/(1+t)^\gamma))`.

    Recipe: ``chain(add_noise(eta, gamma, key, seed=seed), scale_by_learning_rate(learning_rate))``.
    optax: ``optax.noisy_sgd(learning_rate, eta, gamma, key, seed=seed)`` gives the same
    trajectory (same key stream; ``key`` and ``seed`` as in optax).

    References:
      Neelakantan et al., 2015.
    """
    return _chain(add_noise(eta, gamma, key, seed=seed), scale_by_learning_rate(learning_rate))


def delta_bar_delta(
    learning_rate: float,
    kappa: _core.ScalarOrSchedule = 1e-3,
    phi: _core.ScalarOrSchedule = 0.1,
    theta: _core.ScalarOrSchedule = 0.7,
    *,
    accumulator_dtype: Any = None,
) -> GT:
    r"""Jacobs' delta-bar-delta: a learning rate per weight that adapts to gradient-sign agreement.

    Recipe: ``chain(scale_by_delta_bar_delta(learning_rate, kappa, phi, theta),
    scale(-1))``; ``learning_rate`` is every weight's initial rate.

    References:
      Jacobs, Neural Networks 1(4), 1988.
    """
    return _chain(
        scale_by_delta_bar_delta(
            learning_rate, kappa, phi, theta, accumulator_dtype=accumulator_dtype
        ),
        scale(-1.0),
    )


def rprop(
    learning_rate: float,
    eta_minus: _core.ScalarOrSchedule = 0.5,
    eta_plus: _core.ScalarOrSchedule = 1.2,
    min_step_size: _core.ScalarOrSchedule = 1e-6,
    max_step_size: _core.ScalarOrSchedule = 50.0,
    *,
    torch_compatible: bool = False,
) -> GT:
    r"""Rprop (iRprop-): per-element steps that grow while the gradient keeps its sign.

    Recipe: ``chain(scale_by_rprop(...), scale(-1))``. By default optax 0.2.8's values (its
    update lags one step: the first update is zero; see :func:`optchain.scale_by_rprop`).
    ``torch_compatible=True`` reproduces torch.optim.Rprop(lr, etas=(eta_minus, eta_plus),
    step_sizes=(min, max)) step for step.

    References:
      Riedmiller & Braun, ICNN 1993; Igel & Huesken 2000.
    """
    return _chain(
        scale_by_rprop(
            learning_rate,
            eta_minus,
            eta_plus,
            min_step_size,
            max_step_size,
            torch_compatible=torch_compatible,
        ),
        scale(-1.0),
    )


def lars(
    learning_rate: _core.ScalarOrSchedule,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = True,
    trust_coefficient: _core.ScalarOrSchedule = 0.001,
    eps: float = 0.0,
    trust_ratio_mask: Any = True,
    momentum: _core.ScalarOrSchedule = 0.9,
    nesterov: bool = False,
    *,
    accumulator_dtype: Any = None,
) -> GT:
    r"""LARS: SGD with momentum on the trust-ratio-scaled, decayed gradient.

    :math:`u_l = \eta \lVert w_l \rVert / \lVert g_l + \lambda w_l \rVert \,(g_l + \lambda w_l)`, then
    :math:`-\alpha` and heavy-ball momentum. Recipe: ``chain(add_decayed_weights(weight_decay,
    weight_decay_mask), scale_by_trust_ratio(trust_coefficient, eps, mask=trust_ratio_mask),
    scale_by_learning_rate(learning_rate), momentum(momentum, nesterov=nesterov))``. Same
    arguments, defaults and trajectory as optax 0.2.8's ``lars`` (a mask of ``True`` or
    ``None`` means every leaf). Pass ``optchain.layerwise_mask`` as either mask to spare
    biases and normalisation scales.

    References:
      You et al., *Large Batch Training of Convolutional Networks*, 2017.
    """
    return _chain(
        add_decayed_weights(weight_decay, _all_is_none(weight_decay_mask)),
        scale_by_trust_ratio(
            trust_coefficient=trust_coefficient, eps=eps, mask=_all_is_none(trust_ratio_mask)
        ),
        scale_by_learning_rate(learning_rate),
        heavy_ball(momentum, nesterov=nesterov, accumulator_dtype=accumulator_dtype),
    )


def lamb(
    learning_rate: _core.ScalarOrSchedule,
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-6,
    eps_root: _core.ScalarOrSchedule = 0.0,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    mask: Any = None,
    *,
    trust_ratio_mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GT:
    r"""LAMB: Adam's direction plus decoupled decay, scaled per layer by the trust ratio.

    Recipe: ``chain(<adam direction>, add_decayed_weights(weight_decay, mask),
    scale_by_trust_ratio(mask=trust_ratio_mask), scale_by_learning_rate(learning_rate))``.
    Same arguments and trajectory as optax 0.2.8's ``lamb``.

    References:
      You et al., *Large Batch Optimization for Deep Learning: Training BERT in 76
      minutes*, ICLR 2020.
    """
    return _chain(
        _adam_direction(b1, b2, eps, eps_root, mu_dtype, nu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_trust_ratio(mask=trust_ratio_mask),
        scale_by_learning_rate(learning_rate),
    )


def signum_majority(
    learning_rate: _core.ScalarOrSchedule,
    axis_name: Any,
    beta: _core.ScalarOrSchedule = 0.9,
    accumulator_dtype: Any = None,
    *,
    weight_decay: _core.ScalarOrSchedule = 0.0,
) -> GT:
    r"""Signum with majority vote: each device keeps its own momentum
    :math:`m^{(i)} = \beta m^{(i)} + (1-\beta) g^{(i)}` and votes with its sign;
    :math:`w \leftarrow w - \alpha\, \operatorname{sign}\big(\sum_i \operatorname{sign}(m^{(i)})\big)`.

    Recipe: ``chain(add_decayed_weights(weight_decay), ema(beta, debias=False), majority_vote(axis_name),
    scale_by_learning_rate(learning_rate))``. Run ``update`` inside ``pmap`` or ``shard_map``
    over ``axis_name``; one bit per parameter per device enters the collective. On one device
    it is :func:`signum` (with a zero momentum voting +1).

    References:
      Bernstein et al., *signSGD with Majority Vote is Communication Efficient and Fault
      Tolerant*, ICLR 2019.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
        majority_vote(axis_name),
        scale_by_learning_rate(learning_rate),
    )


def dgc_sgd(
    learning_rate: _core.ScalarOrSchedule,
    axis_name: Any,
    density: _core.ScalarOrSchedule = 0.001,
    momentum: _core.ScalarOrSchedule = 0.9,
    *,
    momentum_masking: bool = True,
    max_density: float | None = None,
    local_clip_norm: float | None = None,
    weight_decay: _core.ScalarOrSchedule = 0.0,
    accumulator_dtype: Any = None,
) -> GT:
    r"""Deep Gradient Compression momentum SGD: momentum correction and accumulation per
    device, the top :math:`\rho` of each layer exchanged as (index, value) pairs,
    :math:`w \leftarrow w - \alpha \frac{1}{n}\sum_i \operatorname{topk}(v^{(i)})`.

    Recipe: ``chain(clip_by_global_norm(local_clip_norm), add_decayed_weights(weight_decay),
    dgc_sparsify(density, momentum, ...), sparse_mean(axis_name, max_density),
    scale_by_learning_rate(learning_rate))``. ``local_clip_norm`` clips each device's gradient
    before accumulation; the paper scales a global threshold by :math:`n^{-1/2}`, so pass
    ``threshold / sqrt(n_devices)``. The warm-up density is ``schedules.dgc_warmup``.

    References:
      Lin et al., *Deep Gradient Compression: Reducing the Communication Bandwidth for
      Distributed Training*, ICLR 2018.
    """
    sparsify = dgc_sparsify(
        density,
        momentum,
        momentum_masking=momentum_masking,
        max_density=max_density,
        accumulator_dtype=accumulator_dtype,
    )
    return _chain(
        None if local_clip_norm is None else clip_by_global_norm(local_clip_norm),
        add_decayed_weights(weight_decay),
        sparsify,
        sparse_mean(axis_name, buffer_density(density, max_density)),
        scale_by_learning_rate(learning_rate),
    )


def scale_by_adam(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GT:
    r"""optax's ``scale_by_adam`` as a chain: :math:`\hat m_t / (\sqrt{\hat v_t + \bar\epsilon} + \epsilon)`.

    Adam without its learning rate: ``counted_chain(divide(chain(first_moment(b1),
    bias_correction(b1)), chain(second_moment(b2), bias_correction(b2), sqrt(eps_root)),
    eps=eps))``. Same values as optax's, and its state holds optax's ``count``, ``mu`` and
    ``nu``. ``nesterov=True`` is optax's NAdam direction.

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.scale_by_adam()
      >>> state = tx.init(jnp.zeros(2))
      >>> tx.update(jnp.array([0.5, -2.0]), state)[0]
      Array([ 1., -1.], dtype=float32)
      >>> optax.tree.get(state, "nu")
      Array([0., 0.], dtype=float32)

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015.
    """
    return _chain(_adam_direction(b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov=nesterov))


def scale_by_amsgrad(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    eps_root: _core.ScalarOrSchedule = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    nu_dtype: Any = None,
) -> GT:
    r"""optax's ``scale_by_amsgrad`` as a chain: Adam's direction over the running maximum of
    the debiased second moment (see :func:`amsgrad`); state ``count``, ``mu``, ``nu``, ``nu_max``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_amsgrad()
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([1.], dtype=float32)

    References:
      Reddi et al., *On the Convergence of Adam and Beyond*, ICLR 2018.
    """
    debias = (bias_correction_mu, bias_correction_nu)
    return _chain(
        _adam_direction(
            b1, b2, eps, eps_root, mu_dtype, nu_dtype, amsgrad="corrected", debias=debias
        )
    )


def scale_by_adamax(
    b1: _core.ScalarOrSchedule = 0.9,
    b2: _core.ScalarOrSchedule = 0.999,
    eps: _core.ScalarOrSchedule = 1e-8,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GT:
    r"""optax's ``scale_by_adamax`` as a chain: :math:`\hat m_t / u_t` with Adamax's infinity
    norm :math:`u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)`; state ``count``, ``mu``, ``nu``.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_adamax(eps=0.0)
      >>> tx.update(jnp.array([-4.0]), tx.init(jnp.zeros(1)))[0]
      Array([-1.], dtype=float32)

    References:
      Kingma & Ba, ICLR 2015, section 7.1.
    """
    return _chain(
        divide(
            _inner(first_moment(b1, accumulator_dtype=mu_dtype), bias_correction(b1)),
            infinity_norm(b2, eps, accumulator_dtype=nu_dtype),
        )
    )


def scale_by_rss(
    initial_accumulator_value: float = 0.1, eps: _core.ScalarOrSchedule = 1e-7
) -> optax.GradientTransformation:
    r"""optax's ``scale_by_rss`` (AdaGrad's scaling): :math:`g_t / \sqrt{\sum_{i \le t} |g_i|^2 + \epsilon}`.

    :func:`scale_by_sum_of_squares` with optax's arguments (state field ``sum_of_squares``).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
      >>> tx.update(jnp.array([-3.0]), tx.init(jnp.zeros(1)))[0]
      Array([-1.], dtype=float32)
    """
    return scale_by_sum_of_squares(initial_accumulator_value, eps)


def scale_by_sign() -> optax.GradientTransformation:
    r"""optax's ``scale_by_sign``: :math:`u \mapsto \operatorname{sign}(u)` (:func:`sign`;
    complex updates become :math:`u / |u|`, optax's convention).

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> tx = optchain.scale_by_sign()
      >>> tx.update(jnp.array([-0.5, 2.0]), tx.init(None))[0]
      Array([-1.,  1.], dtype=float32)
    """
    return sign()
