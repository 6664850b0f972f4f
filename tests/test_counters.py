"""Reliability at the edges (issue 17): counters saturate.

* Counters saturate: started at ``2**31 - 3``, five steps leave every step counter at
  ``2**31 - 1`` (no wrap, no stall), the run finite, and what depends on the counter sensible:
  the result equals a run from ``2**20`` (bias corrections ~1, averaging weights ~0) and a
  schedule reads its final value.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from reliability_helpers import (
    _all_finite,
    _close,
    _compiled,
    _grad,
    _int_leaves,
    _is_counter,
    _lead,
    _readout,
    _run,
    _unlead,
)
from reliability_rows import FAR, NEAR, TABLE, TOP, Case, _averaging, _params

import optchain as oc


@pytest.mark.parametrize("name", sorted(TABLE))
def test_counters_saturate_at_int32_max_and_the_run_stays_sensible(name):
    case = TABLE[name]
    tx, step, _ = _compiled(name)
    params = case.params()
    state = tx.init(params)

    def run(value):
        counters = jax.tree.map(lambda x: jnp.full_like(x, value) if _is_counter(x) else x, state)
        p, s = (_lead(params), _lead(counters)) if case.axis else (params, counters)
        path = []
        for _ in range(5):
            p, s = step(p, s, _grad(p))
            path.append(p)
        return (_unlead(s), _unlead(path)) if case.axis else (s, path)

    s_near, path_near = run(NEAR)
    for where, field, x in _int_leaves(s_near):
        value = int(x)
        assert value >= 0, f"state{where} wrapped around to {value}"
        if field == "count" or field in case.counters:
            assert value == TOP, f"state{where} = {value}, not saturated at 2**31 - 1"
    assert _all_finite(path_near) and _all_finite(s_near), "non-finite params or state"
    if case.far_equal:
        s_far, path_far = run(FAR)
        _close(path_near, path_far, rtol=1e-6, atol=1e-7)
        # an average from 2**20 still moves by (w - average) / 2**20 per step
        _close(_readout(s_near), _readout(s_far), rtol=1e-6, atol=1e-6)


SCHEDULES = {
    # optax's
    "optax.linear_schedule": (optax.linear_schedule(1.0, 0.1, 1000), 0.1),
    "optax.cosine_decay_schedule": (optax.cosine_decay_schedule(1.0, 1000, alpha=0.1), 0.1),
    "optax.exponential_decay": (optax.exponential_decay(1.0, 10, 0.5, end_value=0.1), 0.1),
    "optax.polynomial_schedule": (optax.polynomial_schedule(1.0, 0.1, 2.0, 1000), 0.1),
    "optax.warmup_cosine_decay_schedule": (
        optax.warmup_cosine_decay_schedule(0.0, 1.0, 10, 1000, end_value=0.1),
        0.1,
    ),
    "optax.piecewise_constant_schedule": (
        optax.piecewise_constant_schedule(1.0, {10: 0.5, 100: 0.2}),
        0.1,
    ),
    # optchain's own
    "linear": (oc.schedules.linear(1.0, 0.1, 1000), 0.1),
    "linear_decay": (oc.schedules.linear_decay(1.0, 1000, end_value=0.1), 0.1),
    "polynomial": (oc.schedules.polynomial(1.0, 0.1, 2.0, 1000), 0.1),
    "exponential": (oc.schedules.exponential(1.0, 0.5, 10, end_value=0.1), 0.1),
    "step_decay": (oc.schedules.step_decay(1.0, 10, 0.5), 0.0),
    "multistep": (oc.schedules.multistep(1.0, [10, 100], 0.1), 0.01),
    "cosine": (oc.schedules.cosine(1.0, 1000, end_value=0.1), 0.1),
    "warmup": (oc.schedules.warmup(oc.schedules.cosine(1.0, 1000, 0.1), 10), 0.1),
    "one_cycle": (oc.schedules.one_cycle(1.0, 1000, final_div_factor=10.0), 1.0 / 25 / 10),
    "linear_scaling_rule": (oc.schedules.linear_scaling_rule(0.1, 256, 512, warmup_steps=10), 0.2),
    "dgc_warmup": (oc.schedules.dgc_warmup(10, final_density=0.01), 0.01),
    "one_cycle_momentum": (oc.schedules.one_cycle_momentum(1000), 0.95),
}
# periodic: no final value, but a value in their range
PERIODIC = {
    "cosine_warm_restarts": (oc.schedules.cosine_warm_restarts(1.0, 100, 2, 0.1), (0.1, 1.0)),
    "cyclical": (oc.schedules.cyclical(0.1, 1.0, 2000), (0.1, 1.0)),
}


def test_schedules_inside_an_optimizer_at_a_saturated_counter_read_their_final_value():
    """Every schedule drives one sgd of a partition (one compile for all of them)."""
    schedules = {
        **{k: v[0] for k, v in SCHEDULES.items()},
        **{k: v[0] for k, v in PERIODIC.items()},
    }
    tx = optax.partition({k: oc.sgd(v) for k, v in schedules.items()}, {k: k for k in schedules})
    params = {k: jnp.ones(2) for k in schedules}
    state = tx.init(params)
    state = jax.tree.map(lambda x: jnp.full_like(x, NEAR) if _is_counter(x) else x, state)
    update = jax.jit(tx.update)
    for _ in range(3):
        updates, state = update(params, state, params)
    assert all(int(x) == TOP for _, _, x in _int_leaves(state))
    rates = {k: -float(u[0]) for k, u in updates.items()}
    wrong = {
        k: rates[k]
        for k, (_, final) in SCHEDULES.items()
        if not np.isclose(rates[k], final, rtol=1e-5, atol=1e-12)
    }
    wrong |= {
        k: rates[k]
        for k, (_, (lo, hi)) in PERIODIC.items()
        if not lo - 1e-6 <= rates[k] <= hi + 1e-6
    }
    assert not wrong, f"values at 2**31 - 1: {wrong}"


def test_annealed_noise_at_a_saturated_counter_has_the_variance_of_its_step():
    """One update from 2**31 - 3 and one from 2**20, same key: the same draw, scaled by
    sqrt(eta / (1 + t)**gamma) at each step."""
    eta, gamma = 0.01, 0.55
    tx = oc.add_noise(eta, gamma, key=1)
    grads = _params()
    state = tx.init(grads)
    update = jax.jit(tx.update)
    noise = {}
    for t in (NEAR, FAR):
        u, _ = update(grads, state._replace(count=jnp.asarray(t, jnp.int32)))
        noise[t] = jax.tree.map(lambda a, g: np.asarray(a - g, np.float64), u, grads)
    ratio = ((FAR + 1) / (NEAR + 1)) ** (gamma / 2)
    _close(noise[NEAR], jax.tree.map(lambda n: n * ratio, noise[FAR]), rtol=1e-3, atol=1e-9)
    assert all(np.all(n != 0) for n in jax.tree.leaves(noise[NEAR]))


def test_tail_average_at_a_saturated_counter_is_the_mean_of_the_last_window_iterates():
    window = 3
    case = Case(_averaging(oc.tail_average(window)))
    tx = optax.with_extra_args_support(case.make())
    params = case.params()
    state = tx.init(params)
    state = jax.tree.map(lambda x: jnp.full_like(x, NEAR) if _is_counter(x) else x, state)
    _, state, path = _run(case, tx, 7)(params, state)
    expected = jax.tree.map(lambda p: p[-window:].mean(axis=0), path)
    _close(oc.averaged_params(state), expected, rtol=1e-6, atol=1e-7)


def test_perturb_near_saddle_keeps_its_interval_after_the_counter_saturates():
    """At a flat point it perturbs every ``interval`` steps, before and after saturation."""
    tx = oc.perturb_near_saddle(0.1, 1.0, interval=2, key=3)
    flat = {"w": jnp.zeros(3)}
    update = jax.jit(tx.update)
    fired = {}
    for start in (0, TOP - 2):
        state = tx.init(flat)
        state = state._replace(
            count=jnp.asarray(start, jnp.int32), perturbations=jnp.asarray(NEAR, jnp.int32)
        )
        fired[start] = []
        for _ in range(7):
            u, state = update(flat, state)
            fired[start].append(bool(jnp.any(u["w"] != 0)))
        assert int(state.perturbations) == TOP  # 4 perturbations from 2**31 - 3: saturated
    assert fired[0] == [True, False, True, False, True, False, True]
    assert fired[TOP - 2] == fired[0]
