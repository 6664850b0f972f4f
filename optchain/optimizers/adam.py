"""Adam and the optimizers that change only its numerator or its decay: Adam, NAdam, AdamW."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from optchain import _core
from optchain.combine import divide, fork
from optchain.optimizers._common import GT, _chain, _inner, named_optimizer
from optchain.transforms.decay import add_decayed_weights
from optchain.transforms.maxima import running_max
from optchain.transforms.moments import bias_correction, first_moment, second_moment
from optchain.transforms.scaling import scale, scale_by_learning_rate, sqrt

__all__ = ["adam", "nadam", "adamw", "scale_by_adam"]


def _warming_momentum(b1: Any, momentum_decay: float) -> _core.Schedule:
    r"""torch.optim.NAdam's momentum schedule (Dozat 2016): at step :math:`t` (1 on the first
    update, the schedule's ``count + 1``), :math:`\mu_t = \beta_1 (1 - 0.5 \cdot
    0.96^{t \psi})`."""

    def mu(count):
        t = count.astype(jnp.float32) + 1
        return _core.resolve(b1, count) * (1 - 0.5 * jnp.power(0.96, t * momentum_decay))

    return mu


def _torch_nesterov_numerator(b1, mu_dtype, momentum_decay) -> GT:
    r"""torch's NAdam numerator :math:`\mu_{t+1} m_t / (1 - \prod_{i \le t+1} \mu_i) +
    (1 - \mu_t) g_t / (1 - \prod_{i \le t} \mu_i)`, :math:`m` the EMA of decay ``b1``."""
    mu = _warming_momentum(b1, momentum_decay)
    return fork(
        _inner(
            first_moment(b1, accumulator_dtype=mu_dtype),
            bias_correction(mu, step_offset=1, look_ahead=mu),
            scale(lambda count: mu(_core.next_count(count))),
        ),
        _inner(bias_correction(mu), scale(_core.one_minus(mu))),
        merge=lambda look_ahead, gradient: look_ahead + gradient,
    )


def _adam_direction(
    b1,
    b2,
    eps,
    eps_root,
    mu_dtype,
    nu_dtype,
    *,
    nesterov=False,
    amsgrad=None,
    debias=(True, True),
    momentum_decay=None,
) -> GT:
    """Adam's preconditioned direction ``m_hat / (sqrt(v_hat + eps_root) + eps)`` as a chain;
    its state holds optax's ``mu`` and ``nu`` (and ``nu_max`` for AMSGrad). A
    ``momentum_decay`` gives torch's NAdam numerator (with ``nesterov``)."""
    debias_mu, debias_nu = debias
    if momentum_decay is not None:
        numerator = _torch_nesterov_numerator(b1, mu_dtype, momentum_decay)
    elif nesterov:
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


@named_optimizer
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

    Args:
      learning_rate: :math:`\alpha`, a float or a schedule.
      b1: decay :math:`\beta_1` of the first moment.
      b2: decay :math:`\beta_2` of the second moment.
      eps: :math:`\epsilon`, added outside the square root.
      eps_root: :math:`\bar\epsilon`, added inside the square root.
      mu_dtype: dtype of :math:`m` (``None``: the parameter's dtype).
      nesterov: use NAdam's look-ahead numerator (see :func:`nadam`).
      nu_dtype: dtype of :math:`v` (``None``: the parameter's dtype).
      weight_decay: coupled L2 coefficient added to the gradient (torch's ``weight_decay``).

    Example:
      >>> import jax.numpy as jnp, optax, optchain
      >>> tx = optchain.adam(0.1)
      >>> state = tx.init(jnp.zeros(2))
      >>> u, state = tx.update(jnp.array([0.5, -2.0]), state)
      >>> u  # the first step is -0.1 * sign(g)
      Array([-0.1,  0.1], dtype=float32)
      >>> optax.tree.get(state, "mu"), optax.tree.get(state, "nu")
      (Array([ 0.05, -0.2 ], dtype=float32), Array([0.00025, 0.004  ], dtype=float32))

    References:
      Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015.
    """
    return _chain(
        add_decayed_weights(weight_decay),
        _adam_direction(b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
@_core.same_signature_as(
    adam, nesterov=True, extra={"momentum_decay": None, "decoupled_weight_decay": False}
)
def nadam(**arguments: Any) -> GT:
    r"""NAdam (Dozat 2016): Adam whose numerator looks one step ahead; optax's form by default, torch's with ``momentum_decay``.

    optax: :math:`\hat m_t = \beta_1 m_t / (1-\beta_1^{t+1}) + (1-\beta_1) g_t / (1-\beta_1^t)`.
    Recipe: :func:`adam` with ``nesterov=True``, whose numerator is
    ``fork(chain(first_moment(b1), bias_correction(b1, step_offset=1), scale(b1)),
    chain(bias_correction(b1), scale(1 - b1)), merge=add)``.

    torch (``momentum_decay`` :math:`\psi` given): the momentum warms up,
    :math:`\mu_t = \beta_1 (1 - 0.5 \cdot 0.96^{t\psi})`, and
    :math:`\hat m_t = \mu_{t+1} m_t / (1 - \prod_{i \le t+1} \mu_i) + (1-\mu_t) g_t /
    (1 - \prod_{i \le t} \mu_i)` (:math:`m` is still the EMA of decay :math:`\beta_1`): the
    same fork with the schedule ``mu`` in place of ``b1``,
    ``bias_correction(mu, step_offset=1, look_ahead=mu)``, ``scale(mu(t + 1))`` and
    ``bias_correction(mu)``, ``scale(1 - mu)``.

    ``weight_decay`` is coupled (added to the gradient first) by default; with
    ``decoupled_weight_decay=True`` its link moves after the direction, before the learning
    rate: :math:`w \leftarrow w - \alpha(\hat m_t / (\sqrt{\hat v_t} + \epsilon) + \lambda w)`,
    torch's ``param *= 1 - lr * weight_decay`` (optax's :func:`nadamw` without
    ``momentum_decay``).

    * optax: ``optax.nadam`` with the same arguments (``nesterov=False`` is Adam); the state
      holds optax's ``count``, ``mu`` and ``nu``.
    * torch.optim.NAdam(lr, betas=(b1, b2), eps, weight_decay, momentum_decay,
      decoupled_weight_decay): ``nadam(lr, b1, b2, eps, momentum_decay=momentum_decay,
      weight_decay=weight_decay, decoupled_weight_decay=decoupled_weight_decay)``, step for
      step (torch's default ``momentum_decay`` is ``4e-3``).

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`adam`.
      nesterov: ``False`` gives plain Adam (``momentum_decay`` needs ``True``).
      weight_decay: :math:`\lambda \ge 0`, coupled L2 (torch's ``weight_decay``).
      momentum_decay: :math:`\psi \ge 0`, a number: torch's momentum schedule; ``None``:
        optax's constant :math:`\beta_1`.
      decoupled_weight_decay: decay the weights after the direction (AdamW's placement, scaled
        by the learning rate) instead of adding :math:`\lambda w` to the gradient.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> g = jnp.array([1.0, -1.0])
      >>> ahead, plain = optchain.nadam(0.1), optchain.nadam(0.1, nesterov=False)
      >>> ahead.update(g, ahead.init(g))[0], plain.update(g, plain.init(g))[0]
      (Array([-0.147,  0.147], dtype=float32), Array([-0.1,  0.1], dtype=float32))
      >>> torch_like = optchain.nadam(0.1, momentum_decay=4e-3)  # torch.optim.NAdam(lr=0.1)
      >>> torch_like.update(g, torch_like.init(g))[0].round(4)
      Array([-0.1056,  0.1056], dtype=float32)

    References:
      Dozat, *Incorporating Nesterov Momentum into Adam*, ICLR workshop 2016; Loshchilov &
      Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019.
    """
    a = arguments
    if a["momentum_decay"] is not None and not a["nesterov"]:
        raise ValueError("momentum_decay (torch's NAdam schedule) needs nesterov=True")
    decay = add_decayed_weights(a["weight_decay"])
    moments = (a["b1"], a["b2"], a["eps"], a["eps_root"], a["mu_dtype"], a["nu_dtype"])
    direction = _adam_direction(
        *moments, nesterov=a["nesterov"], momentum_decay=a["momentum_decay"]
    )
    decoupled = a["decoupled_weight_decay"]
    return _chain(
        None if decoupled else decay,
        direction,
        decay if decoupled else None,
        scale_by_learning_rate(a["learning_rate"]),
    )


@named_optimizer
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

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype: as in :func:`adam`.
      weight_decay: :math:`\lambda`, applied after the moments.
      mask: tree of bools (or a function ``params -> tree``) selecting leaves to decay.

    Example:
      >>> import jax.numpy as jnp, optchain
      >>> params = {"bias": jnp.ones(1), "kernel": jnp.ones(2)}
      >>> tx = optchain.adamw(0.1, weight_decay=0.5, mask={"bias": False, "kernel": True})
      >>> tx.update(params, tx.init(params), params)[0]  # -0.1 * (1 + 0.5 * w) on the kernel
      {'bias': Array([-0.1], dtype=float32), 'kernel': Array([-0.15, -0.15], dtype=float32)}

    References:
      Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019.
    """
    return _chain(
        _adam_direction(b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov=nesterov),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@named_optimizer
@_core.same_signature_as(adam, drop=("learning_rate", "weight_decay"))
def scale_by_adam(**arguments: Any) -> GT:
    r"""optax's ``scale_by_adam`` as a chain: :math:`\hat m_t / (\sqrt{\hat v_t + \bar\epsilon} + \epsilon)`.

    Adam without its learning rate: ``counted_chain(divide(chain(first_moment(b1),
    bias_correction(b1)), chain(second_moment(b2), bias_correction(b2), sqrt(eps_root)),
    eps=eps))``. Same values as optax's, and its state holds optax's ``count``, ``mu`` and
    ``nu``. ``nesterov=True`` is optax's NAdam direction.

    Args:
      b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype: as in :func:`adam`.

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
    return _chain(_adam_direction(**arguments))
