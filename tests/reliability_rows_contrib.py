"""The reliability rows of optax.contrib's primitives and of the named optimizers that need
extra arguments (issue 20): part of ``reliability_rows.STATEFUL`` (a file under 400 lines each).
"""

from __future__ import annotations

import optax
from reliability_rows import (
    _ADOPT_WHY,
    _GALORE,
    _MADGRAD_WHY,
    _SAM,
    _SOPHIA,
    Case,
    _grad_fn,
    _objective,
    _value,
)

import optchain as oc

STATEFUL_CONTRIB = {
    "sophia": Case(lambda: oc.sophia(0.05, update_interval=2), _objective, tree=True),
    "momo": Case(lambda: oc.momo(0.5), _value, tree=True),
    "momo_adam": Case(lambda: oc.momo_adam(0.05), _value, tree=True),
    "scale_by_galore": Case(lambda: oc.scale_by_galore(rank=1, update_proj_gap=2), **_GALORE),
    "scale_by_muon": Case(lambda: oc.scale_by_muon()),
    "scale_by_cocob": Case(lambda: oc.scale_by_cocob()),
    "scale_by_adopt": Case(lambda: oc.scale_by_adopt(), far_equal=False, why=_ADOPT_WHY),
    "scale_by_acprop": Case(lambda: oc.scale_by_acprop()),
    "scale_by_ademamix": Case(lambda: oc.scale_by_ademamix()),
    "scale_by_simplified_ademamix": Case(lambda: oc.scale_by_simplified_ademamix()),
    "scale_by_madgrad": Case(lambda: oc.scale_by_madgrad(0.01), far_equal=False, why=_MADGRAD_WHY),
    "normalize_by_previous_rms": Case(
        lambda: oc.normalize_by_previous_rms(), far_equal=False, why=_ADOPT_WHY
    ),
    "previous_centered_rms": Case(lambda: oc.previous_centered_rms()),
    "ema_mixture": Case(lambda: oc.ema_mixture()),
    "accumulator_mixture": Case(lambda: oc.accumulator_mixture(0.9, 1.0)),
    "squared_gradient_average": Case(lambda: oc.squared_gradient_average()),
    "dual_averaging": Case(lambda: oc.dual_averaging(0.01), far_equal=False, why=_MADGRAD_WHY),
    "exp_avg": Case(lambda: oc.exp_avg(0.9)),
    "exp_avg_sq": Case(lambda: oc.exp_avg_sq(0.99)),
    "scale_by_distance_estimate": Case(
        lambda: oc.scale_by_distance_estimate(oc.exp_avg(), oc.exp_avg_sq(), estim_lr0=0.05),
        tree=True,
    ),
    "scale_by_mechanic": Case(lambda: oc.scale_by_mechanic(oc.sgd(0.1)), tree=True),
    "scale_by_dog": Case(
        lambda: optax.chain(oc.scale_by_dog(("distance", 0.1)), oc.scale(-1.0)), tree=True
    ),
    "scale_by_dowg": Case(lambda: optax.chain(oc.scale_by_dowg(0.01), oc.scale(-1.0)), tree=True),
    "scale_by_coin_betting": Case(lambda: oc.scale_by_coin_betting()),
    "schedule_free": Case(lambda: oc.schedule_free(oc.sgd(0.1), 0.1)),
    "sharpness_aware": Case(
        lambda: oc.sharpness_aware(oc.sgd(0.1), oc.adversarial_perturbation(0.05)), **_SAM
    ),
    "sharpness_aware_inner_loop": Case(
        lambda: oc.sharpness_aware_inner_loop(oc.sgd(0.1), oc.adversarial_perturbation(0.05)),
        _grad_fn,
        tree=True,
    ),
    "hutchinson_estimator_diag_hessian": Case(
        lambda: oc.hutchinson_estimator_diag_hessian(), _objective
    ),
    "sophia_preconditioner": Case(
        lambda: oc.sophia_preconditioner(update_interval=2), _objective, **_SOPHIA
    ),
    "momo_step": Case(lambda: oc.momo_step(0.5), _value, tree=True),
    "momo_adam_step": Case(lambda: oc.momo_adam_step(0.05), _value, tree=True),
    "orthogonalize_matrices": Case(lambda: oc.orthogonalize_matrices()),
    "galore_projection": Case(
        lambda: oc.galore_projection(oc.adam(0.01), rank=1, update_proj_gap=2), **_GALORE
    ),
    "split_real_and_imaginary": Case(lambda: oc.split_real_and_imaginary(oc.adam(0.01))),
}
