"""fork and divide: the combinators that let Adam be a recipe."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc


def test_fork_merges_branch_outputs_leafwise():
    tx = oc.fork(oc.scale(1.0), oc.scale(2.0), oc.scale(-4.0), merge=lambda a, b, c: a * b + c)
    u, state = tx.update({"x": jnp.array([1.0, 2.0])}, tx.init({"x": jnp.zeros(2)}))
    np.testing.assert_allclose(u["x"], [2 - 4, 8 - 8])
    assert isinstance(state, oc.ForkState) and len(state.branches) == 3


def test_divide_adds_eps_to_the_denominator():
    tx = oc.divide(oc.scale(3.0), oc.scale(0.0), eps=0.5)
    u, _ = tx.update(jnp.array([1.0]), tx.init(None))
    np.testing.assert_allclose(u, [6.0])


def test_adam_written_out_by_hand_is_adam():
    b1, b2, eps = 0.9, 0.999, 1e-8
    by_hand = oc.counted_chain(
        oc.add_decayed_weights(0.0),
        oc.divide(
            optax.chain(oc.first_moment(b1), oc.bias_correction(b1)),
            optax.chain(oc.second_moment(b2), oc.bias_correction(b2), oc.sqrt()),
            eps=eps,
        ),
        oc.scale_by_learning_rate(0.01),
    )
    named = oc.adam(0.01)
    w = jnp.array([1.0, -2.0, 0.5])
    s1, s2 = by_hand.init(w), named.init(w)
    assert jax.tree.structure(s1) == jax.tree.structure(s2)
    for t in range(20):
        g = jnp.sin(w * (t + 1))
        u1, s1 = by_hand.update(g, s1, w)
        u2, s2 = named.update(g, s2, w)
        np.testing.assert_array_equal(u1, u2)
        w = optax.apply_updates(w, u1)


def test_counted_chain_holds_one_counter_and_gives_optax_chain_values():
    """Every link of a counted chain reads the chain's step: same values as optax.chain with
    a counter per link, one ``count`` leaf, and schedules in two links see the same step."""
    lr = optax.linear_schedule(0.1, 0.01, 5)
    links = lambda: (oc.momentum(lambda t: 0.5 + 0.1 * t), oc.scale_by_learning_rate(lr))  # noqa: E731
    shared, separate = oc.counted_chain(*links()), optax.chain(*links())
    w = jnp.array([1.0, -2.0])
    s1, s2 = shared.init(w), separate.init(w)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(s1)]
    assert paths == [".count", ".links[0].trace"]
    for t in range(7):
        g = jnp.cos(w * (t + 1))
        u1, s1 = shared.update(g, s1)
        u2, s2 = separate.update(g, s2)
        np.testing.assert_array_equal(u1, u2)
    assert int(optax.tree.get(s1, "count")) == 7
    np.testing.assert_array_equal(s1.links[0].trace, s2[0].trace)


def test_counted_chain_keeps_a_skipping_wrapper_s_own_counter():
    """skip_nonfinite's inner transform does not see skipped steps: its counter stays its own."""
    tx = oc.counted_chain(oc.skip_nonfinite(oc.momentum(0.9)), oc.scale_by_learning_rate(0.1))
    state = tx.init(jnp.zeros(1))
    _, state = tx.update(jnp.array([jnp.nan]), state)
    _, state = tx.update(jnp.array([1.0]), state)
    assert int(state.count) == 2
    assert int(state.links[0].inner_state.count) == 1


def test_swapping_a_link_adam_with_sign_instead_of_rms():
    """Copy Adam's recipe, replace the RMS denominator with sign: the step is -lr*sign(m)."""
    tx = optax.chain(
        oc.first_moment(0.9), oc.bias_correction(0.9), oc.sign(), oc.scale_by_learning_rate(0.1)
    )
    w = jnp.array([1.0, -1.0])
    u, _ = tx.update(jnp.array([0.3, -5.0]), tx.init(w), w)
    np.testing.assert_allclose(u, [-0.1, 0.1])


def test_extra_args_reach_every_branch():
    seen = []

    def spy():
        def update(updates, state, params=None, *, value=None):
            seen.append(value)
            return updates, state

        return optax.GradientTransformationExtraArgs(lambda p: optax.EmptyState(), update)

    tx = oc.fork(spy(), spy(), merge=lambda a, b: a + b)
    tx.update(jnp.ones(1), tx.init(jnp.ones(1)), value=3.0)
    assert seen == [3.0, 3.0]


def test_fork_needs_branches_and_a_callable_merge():
    with pytest.raises(ValueError, match="branch"):
        oc.fork(merge=jnp.add)
    with pytest.raises(ValueError, match="merge"):
        oc.fork(oc.sign(), merge=None)


def test_fork_under_jit():
    tx = oc.adam(0.1)
    w = {"a": jnp.ones(3)}
    u, _ = jax.jit(tx.update)(w, tx.init(w), w)
    np.testing.assert_allclose(u["a"], -0.1, rtol=1e-5)  # float32 1 - b2 rounding
