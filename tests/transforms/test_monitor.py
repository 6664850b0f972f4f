"""monitored: gradient and update statistics in the state."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optchain as oc


def test_records_norms_ratios_and_passes_updates_through():
    params = {"w": jnp.array([[3.0, 4.0]]), "b": jnp.array([0.0, 2.0]), "n": jnp.array(3)}
    grads = {"w": jnp.array([[0.0, 2.0]]), "b": jnp.array([1.0, 0.0]), "n": jnp.array(3)}
    inner = oc.adam(0.01)
    tx = oc.monitored(inner)
    state = tx.init(params)
    u, state = jax.jit(tx.update)(grads, state, params)
    want, _ = inner.update(grads, inner.init(params), params)
    for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(want), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(state.grad_norm, np.sqrt(5.0), rtol=1e-6)
    np.testing.assert_allclose(state.leaf_grad_norms["w"], 2.0)
    np.testing.assert_allclose(
        state.update_norm, np.sqrt(2) * 0.01, rtol=1e-4
    )  # zero gradients: zero Adam steps
    np.testing.assert_allclose(state.update_ratio, np.sqrt(2) * 0.01 / np.sqrt(29.0), rtol=1e-4)
    np.testing.assert_allclose(state.leaf_update_ratios["w"], 0.01 / 5.0, rtol=1e-4)
    assert not bool(state.exploding) and not bool(state.vanishing)
    assert int(state.leaf_grad_norms["n"]) == 0


def test_flags_and_counts_exploding_vanishing_and_nonfinite():
    tx = oc.monitored(oc.sgd(0.1), explode_threshold=10.0, vanish_threshold=1e-3)
    w = jnp.ones(2)
    state = tx.init(w)
    flags = []
    for g in ([100.0, 0.0], [1e-5, 0.0], [1.0, 1.0], [jnp.nan, 0.0]):
        _, state = tx.update(jnp.array(g), state, w)
        flags.append((bool(state.exploding), bool(state.vanishing), bool(state.nonfinite)))
    assert flags == [
        (True, False, False),
        (False, True, False),
        (False, False, False),
        (True, False, True),
    ]
    assert int(state.exploding_steps) == 2 and int(state.vanishing_steps) == 1


def test_works_inside_a_chain_and_under_jit_without_params():
    tx = optax.chain(oc.monitored(oc.clip_by_global_norm(1.0)), oc.sgd(0.1))
    state = tx.init(jnp.zeros(3))
    _, state = jax.jit(lambda g, s: tx.update(g, s))(jnp.array([3.0, 0.0, 4.0]), state)
    assert float(state[0].grad_norm) == 5.0
    np.testing.assert_allclose(state[0].update_norm, 1.0, rtol=1e-6)
    assert bool(jnp.isnan(state[0].update_ratio))


def test_state_name_does_not_collide_with_optaxs_monitor_state():
    state = oc.monitored(oc.sgd(0.1)).init(jnp.zeros(2))
    assert type(state).__name__ == "MonitoredState" and isinstance(state, oc.MonitoredState)


def test_complex_norms_are_norms_of_the_moduli():
    tx = oc.monitored(oc.scale(-0.5))
    w = {"z": jnp.array([3.0 + 4.0j], jnp.complex64)}
    g = {"z": jnp.array([0.0 + 2.0j], jnp.complex64)}
    u, state = tx.update(g, tx.init(w), w)
    np.testing.assert_allclose(u["z"], [-1.0j])
    np.testing.assert_allclose(state.grad_norm, 2.0)
    np.testing.assert_allclose(state.update_ratio, 1.0 / 5.0, rtol=1e-6)
