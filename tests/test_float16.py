"""Reliability at the edges (issue 17): float16.

* float16: FTML stays finite and close to float32. The named optimizers whose default
  :math:`|g|^2` is float16 break there, as optax's do (strict xfails naming the cause); a
  float32 accumulator fixes AdaGrad, RMSprop, AdaDelta and torch's Adafactor, but not yet the
  Adam family.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from reliability_helpers import _all_finite, _close, _lead, _run, _unlead
from reliability_rows import F16, F32, NAMED_ALL, Case, _params

import optchain as oc


def _f16_problem(dtype: Any) -> dict[str, jax.Array]:
    """The quadratic's params with a large gradient (300: |g|**2 = 9e4 > float16's 65504) and a
    tiny one (1e-3: (1 - b2) |g|**2 = 1e-9 underflows float16) next to ordinary ones."""
    return {**_params(dtype), "b": jnp.array([0.1, -0.2, 300.0, -200.0, 0.251, 0.0], dtype)}


def _train16(tx, params, steps=20, axis=None):
    case = Case(lambda: tx, axis=axis)
    tx = optax.with_extra_args_support(tx)
    state = tx.init(params)
    if axis:
        params, state = _lead(params), _lead(state)
    params, state, _ = _run(case, tx, steps)(params, state)
    return (_unlead(params), _unlead(state)) if axis else (params, state)


# The named optimizers that break in float16 only because their |g|**2 (or its maximum) is
# float16 by default, as optax's: a float32 accumulator (the dtype knob) fixes the first three
# and torch's Adafactor.
F16_SECOND_MOMENT = {
    "adagrad": "the sum of |g|**2 of g = 300 overflows at the first step",
    "rmsprop": "the EMA of |g|**2 of g = 300 overflows by step 13",
    "adadelta": "the EMA of |g|**2 of g = 300 overflows by step 13",
    "adam": "nu of g = 1e-3 underflows to 0, so m / (sqrt(0) + eps) overflows the update",
    "adamw": "nu of g = 1e-3 underflows to 0, so m / (sqrt(0) + eps) overflows the update",
    "nadam": "nu of g = 1e-3 underflows to 0, so m / (sqrt(0) + eps) overflows the update",
    "amsgrad": "nu of g = 1e-3 underflows, and the maximum of the debiased nu of g = 300 overflows",
    "adafactor_torch": "v, the EMA of |g|**2, of g = 300 overflows at the first step",
}
F32_ACCUMULATOR = {
    "adagrad": lambda: oc.adagrad(0.1, accumulator_dtype=F32),
    "rmsprop": lambda: oc.rmsprop(0.01, centered=True, momentum=0.5, accumulator_dtype=F32),
    "adadelta": lambda: oc.adadelta(1.0, accumulator_dtype=F32),
    "adafactor_torch": lambda: oc.adafactor_torch(0.01, weight_decay=0.01, accumulator_dtype=F32),
}
# nu_dtype=float32 does not rescue the Adam family: second_moment hands nu on to
# bias_correction and sqrt in the gradient's dtype (every link keeps the update's dtype), so
# the debiased nu underflows (and overflows) float16 all the same.
F32_NU = {
    "adam": lambda: oc.adam(0.01, nu_dtype=F32),
    "adamw": lambda: oc.adamw(0.01, weight_decay=0.01, nu_dtype=F32),
    "nadam": lambda: oc.nadam(0.01, nu_dtype=F32),
    "amsgrad": lambda: oc.amsgrad(0.01, nu_dtype=F32),
}
# The zoo's optax aliases with the same float16 |g|**2 and no accumulator-dtype argument in
# optax's signature (float32 state for float16 params is a later issue's).
F16_NO_KNOB = {
    "adabelief": "s, the EMA of (g - m)**2, of g = 1e-3 underflows: the update m / sqrt(s) overflows",
    "nadamw": "nu of g = 1e-3 underflows to 0, so m / (sqrt(0) + eps) overflows the update",
    "optimistic_adam": "nu of g = 1e-3 underflows, so the Adam direction overflows the update",
    "optimistic_adam_v2": "nu of g = 1e-3 underflows, so the Adam direction overflows the update",
    "adafactor": "v, the factored EMA of |g|**2, of g = 300 overflows at the first step",
    "novograd": "nu, the layer's EMA of ||g||**2, of g = 300 overflows at the first step",
    "sm3": "mu, the cover sets' sum of |g|**2, of g = 300 overflows at the first step",
    # optax.contrib's (issue 20): optax's float16 state breaks the same way
    "adopt": "nu = g**2 of g = 300 overflows at the first step (then g / sqrt(nu) = 0 there)",
    "acprop": "s, the EMA of (g - m)**2, of g = 1e-3 underflows: g / (sqrt(s) + eps) overflows",
    "ademamix": "nu of g = 1e-3 underflows to 0, so the mixed m / (sqrt(0) + eps) overflows",
    "dog": "sum_sq_norm_grads, float16 as optax's, the sum of ||g||**2 of g = 300, overflows",
    "mechanize": "Mechanic's v, float16 as optax's, the EMA of <g, delta>**2, overflows (optax's"
    " goes NaN; its adam base breaks too: nu of g = 1e-3 underflows)",
    "galore": "its Adam (on the 1-D leaf, as optax's) has nu of g = 1e-3 underflow: m / eps overflows",
    "muon": "its Adam for non-matrix leaves has nu of g = 1e-3 underflow to 0: m / eps overflows",
    "schedule_free_adamw": "nu of g = 1e-3 underflows (state_dtype casts only z): m / eps overflows",
}
assert set(F32_ACCUMULATOR) | set(F32_NU) == set(F16_SECOND_MOMENT)
F16_SECOND_MOMENT = {**F16_SECOND_MOMENT, **F16_NO_KNOB}


def _xfail_where(names: dict[str, str], all_names) -> list[Any]:
    return [
        pytest.param(name, marks=pytest.mark.xfail(reason=names[name], strict=True))
        if name in names
        else name
        for name in sorted(all_names)
    ]


def _named_f16_params():
    reasons = {k: v + " (float16 default, as optax)" for k, v in F16_SECOND_MOMENT.items()}
    return _xfail_where(reasons, NAMED_ALL)


@pytest.mark.parametrize("name", _named_f16_params())
def test_named_optimizers_stay_finite_with_float16_params(name):
    params, state = _train16(NAMED_ALL[name].make(), _f16_problem(F16), axis=NAMED_ALL[name].axis)
    assert _all_finite(params) and _all_finite(state), "non-finite params or state"


@pytest.mark.parametrize("name", sorted(F32_ACCUMULATOR))
def test_a_float32_accumulator_keeps_float16_training_finite(name):
    params, state = _train16(F32_ACCUMULATOR[name](), _f16_problem(F16))
    assert _all_finite(params) and _all_finite(state)
    want, _ = _train16(F32_ACCUMULATOR[name](), _f16_problem(F32))
    _close(params, want, rtol=2e-2, atol=2e-2)


_NU_REASON = "second_moment passes nu on in the gradient's dtype, where it underflows again"


@pytest.mark.parametrize("name", _xfail_where(dict.fromkeys(F32_NU, _NU_REASON), F32_NU))
def test_a_float32_nu_does_not_yet_keep_the_adam_family_finite_in_float16(name):
    params, state = _train16(F32_NU[name](), _f16_problem(F16))
    assert _all_finite(params) and _all_finite(state)


@pytest.mark.parametrize("lr", [0.01, 0.1])
def test_ftml_with_float16_params_stays_finite_and_close_to_float32(lr):
    """FTML's d ~ |g| / lr and z ~ d w leave float16's range (a parameter of 300 overflowed z
    at the first step), and d's eps / lr underflows it (a parameter at the minimum, gradient
    0, jumped to 0 or became NaN): its state is float32 for float16 params."""
    start = _params(F16)
    edges = {"big": jnp.array([300.0, -200.0], F16), "at_minimum": jnp.full(2, 0.25, F16)}
    params, state = _train16(oc.ftml(lr), {**start, **edges})
    assert _all_finite(params) and _all_finite(state)
    assert {x.dtype for x in jax.tree.leaves(params)} == {jnp.dtype(F16)}
    np.testing.assert_array_equal(np.asarray(params["at_minimum"], np.float32), 0.25)
    want, _ = _train16(oc.ftml(lr), jax.tree.map(lambda x: x.astype(F32), start))
    _close({k: params[k] for k in start}, want, rtol=1e-2, atol=2e-3)
    # a float16 state on request
    tx = oc.ftml(lr, accumulator_dtype=F16)
    assert {x.dtype for x in jax.tree.leaves(tx.init(start))} == {
        jnp.dtype(F16),
        jnp.dtype("int32"),
    }
