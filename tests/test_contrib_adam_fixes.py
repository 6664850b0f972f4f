"""optax.contrib's newest Adam fixes (adopt, acprop, ademamix, simplified_ademamix, madgrad and
their scale_by_ forms): optax's signatures, values and state fields over 200 jitted steps, real
and complex, then one closed form per new primitive, complex handling where optax has none,
and argument checks by public name."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from quartic_bowl import run_steps

import optchain as oc
import optchain.contrib as occ

STEPS = 200


def _sqrt_clip(step):
    return 0.5 * step**0.5


_B3 = optax.linear_schedule(0.9, 0.999, 100)
_ALPHA = optax.linear_schedule(0.0, 5.0, 100)


def _mask(params):
    """Decay every leaf but the bias (a callable mask fits any tree)."""
    return {k: k != "b" for k in params}


# case -> (factory name, shared by optchain.contrib and optax.contrib; its arguments)
CASES = {
    "adopt": ("adopt", dict(learning_rate=0.01)),
    "adopt_nesterov_unclipped": (
        "adopt",
        dict(learning_rate=0.01, nesterov=True, use_clipping=False),
    ),
    "scale_by_adopt": ("scale_by_adopt", dict(b2=0.999, clip_value_fn=_sqrt_clip)),
    "acprop": ("acprop", dict(learning_rate=0.01, weight_decay=0.1, mask=_mask)),
    "ademamix": ("ademamix", dict(learning_rate=0.01, b3=_B3, alpha=_ALPHA, weight_decay=0.1)),
    "scale_by_ademamix": ("scale_by_ademamix", dict(b3=0.99, eps_root=1e-8)),
    "simplified_ademamix": (
        "simplified_ademamix",
        dict(learning_rate=0.001, alpha=_ALPHA, weight_decay=0.1),
    ),
    "madgrad": ("madgrad", dict(learning_rate=0.01, weight_decay=0.01)),
    "scale_by_madgrad": (
        "scale_by_madgrad",
        dict(learning_rate=optax.linear_schedule(0.02, 0.005, 200), momentum=0.5),
    ),
}
FIELDS = ("count", "count_m2", "mu", "nu", "m1", "m2", "t", "m", "n", "grad_sum_sq", "s", "x0")
NAMES = sorted({factory for factory, _ in CASES.values()})


def _params(complex_params):
    params = {
        "w": jnp.array([1.0, -0.5, 0.25]),
        "b": jnp.array([0.3, -2.0]),
        "k": jnp.array([[0.1, 0.2], [0.3, -0.4]]),
    }
    if not complex_params:
        return params
    del params["b"]  # two complex leaves: compiling complex arithmetic is slow
    return jax.tree.map(lambda x: x.astype(jnp.complex64) * jnp.complex64(1 + 0.5j), params)


def _run(tx, params):
    return run_steps(tx, params, STEPS)


def _build(name, module):
    factory, kwargs = CASES[name]
    tx = getattr(module, factory)(**kwargs)
    if factory.startswith("scale_by") and factory != "scale_by_madgrad":  # a direction
        tx = optax.chain(tx, optax.scale(-0.01))
    return tx


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(1.0, float(np.max(np.abs(b)))))


# complex parameters where optax's answer is sensible (it refuses to clip complex numbers,
# squares them without conjugating in the simplified AdEMAMix and has no complex cube root)
COMPLEX = ("adopt_nesterov_unclipped", "acprop", "ademamix")
PARITY = [(name, False) for name in sorted(CASES)] + [(name, True) for name in COMPLEX]


@pytest.mark.parametrize(
    "name, complex_params", PARITY, ids=[f"{n}-{'complex' if c else 'real'}" for n, c in PARITY]
)
def test_values_and_state_fields_are_optax(name, complex_params):
    params = _params(complex_params)
    p_ours, s_ours = _run(_build(name, occ), params)
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-promotion clean
        p_theirs, s_theirs = _run(_build(name, optax.contrib), params)
    jax.tree.map(_close, p_ours, p_theirs)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(p_ours))
    found = 0
    for field in FIELDS:
        theirs = optax.tree.get(s_theirs, field)
        if theirs is None:
            continue
        mine = optax.tree.get(s_ours, field)
        assert mine is not None, f"{name}: no {field!r} in optchain's state"
        jax.tree.map(_close, mine, theirs)
        jax.tree.map(lambda a, b: np.testing.assert_equal(a.dtype, b.dtype), mine, theirs)
        found += 1
    assert found >= 3


def _parameters(fn):
    return [
        (p.name, p.kind, None if callable(p.default) else p.default)
        for p in inspect.signature(fn).parameters.values()
        if p.name != "finite_guard"
    ]


@pytest.mark.parametrize("name", NAMES + ["scale_by_acprop", "scale_by_simplified_ademamix"])
def test_signatures_are_optax(name):
    assert _parameters(getattr(occ, name)) == _parameters(getattr(optax.contrib, name))
    assert getattr(oc, name) is getattr(occ, name)


def test_adopt_normalization_closed_form():
    """u_t = clip(g_t / max(sqrt(v_{t-1}), eps), c_t), then v_t = b2 v_{t-1} + (1-b2) g_t**2."""
    b2, eps = 0.5, 0.1
    tx = oc.normalize_by_previous_rms(b2, eps, clip_value_fn=lambda t: 1.0 + t)
    state, update = tx.init(jnp.zeros(3)), jax.jit(tx.update)
    v = None
    for t, g in enumerate(([0.05, -2.0, 0.0], [3.0, 0.5, -1.0], [1.0, -9.0, 0.2])):
        g = np.asarray(g, np.float32)
        u, state = update(jnp.asarray(g), state)
        if v is None:  # nothing to normalise by yet
            np.testing.assert_array_equal(u, np.zeros(3))
        else:
            u_expected = np.clip(g / np.maximum(np.sqrt(v), eps), -1.0 - t, 1.0 + t)
            np.testing.assert_allclose(u, u_expected, rtol=1e-6)
        v = g**2 if v is None else b2 * v + (1 - b2) * g**2
        np.testing.assert_allclose(state.nu, v, rtol=1e-6)
    unclipped = oc.normalize_by_previous_rms(b2, eps, use_clipping=False)
    state = unclipped.update(jnp.array([0.5]), unclipped.init(jnp.zeros(1)))[1]
    np.testing.assert_allclose(unclipped.update(jnp.array([4.0]), state)[0], [8.0])
    # float16 without clipping: optax's first step overflows (g / eps) into NaN; here it is 0
    tx = occ.adopt(0.01, use_clipping=False)
    p = jnp.array([3.0, -2.0], jnp.float16)
    state = tx.init(p)
    for _ in range(3):
        u, state = tx.update(p, state, p)
    assert u.dtype == jnp.float16
    np.testing.assert_array_equal(np.sign(np.asarray(u, np.float32)), [-1.0, 1.0])  # descent


def test_adopt_clips_a_complex_gradient_by_its_modulus_and_keeps_its_phase():
    tx = oc.normalize_by_previous_rms(0.9, 1.0, clip_value_fn=lambda t: 2.0 + 0 * t)
    g = jnp.array([3 + 4j, 0.6 - 0.8j], jnp.complex64)
    u, state = tx.update(g, tx.init(jnp.zeros_like(g)))
    np.testing.assert_allclose(state.nu, [25.0, 1.0], rtol=1e-6)  # |g|**2, real
    u, state = tx.update(5 * g, state)  # / sqrt(v) = (5, 1), then |u| clipped to 2
    np.testing.assert_allclose(u, [2 * (0.6 + 0.8j), 2 * (0.6 - 0.8j)], rtol=1e-6)
    g = jnp.array([0.3 + 0.4j], jnp.complex64)  # |u| = 0.5 < 2: unchanged
    u, _ = tx.update(g, tx.update(jnp.ones(1, jnp.complex64), tx.init(g))[1])
    np.testing.assert_allclose(u, g, rtol=1e-6)


def test_acprop_denominator_is_the_previous_belief():
    b1, b2 = 0.5, 0.75
    tx = oc.previous_centered_rms(b1, b2, eps_root=0.0)
    state, update = tx.init(jnp.zeros(2)), jax.jit(tx.update)
    m, s = np.zeros(2), np.zeros(2)
    for t, g in enumerate(([1.0, -2.0], [3.0, 0.5], [-1.0, 1.0]), start=1):
        g = np.asarray(g, np.float32)
        d, state = update(jnp.asarray(g), state)
        expected = np.ones(2) if t == 1 else np.sqrt(s / (1 - b2 ** (t - 1)))
        np.testing.assert_allclose(d, expected, rtol=1e-6)
        s = b2 * s + (1 - b2) * (g - m) ** 2  # centered on the previous first moment
        m = b1 * m + (1 - b1) * g
        np.testing.assert_allclose(state.nu, s, rtol=1e-6)
        np.testing.assert_allclose(state.mu, m, rtol=1e-6)


def test_ema_mixture_of_a_constant_gradient():
    """m1_hat = g and m2 = g (1 - b3**t): the output is g (1 + alpha_t (1 - b3**t)); alpha's
    schedule is read at the step t - 1 (0 on the first update)."""
    b3, g = 0.75, 2.0
    tx = oc.ema_mixture(0.5, b3, alpha=lambda t: 1.0 + t)
    state, update = tx.init(jnp.zeros(1)), jax.jit(tx.update)
    for t in range(1, 5):
        out, state = update(jnp.array([g]), state)
        np.testing.assert_allclose(out, [g * (1 + t * (1 - b3**t))], rtol=1e-6)
        assert int(state.count) == int(state.count_m2) == t


def test_accumulator_mixture_and_squared_average_of_a_constant_gradient():
    b1, b2, alpha, g = 0.5, 0.75, 3.0, 2.0
    mix, average = oc.accumulator_mixture(b1, alpha), oc.squared_gradient_average(b2)
    ms, ns = mix.init(jnp.zeros(1)), average.init(jnp.zeros(1))
    mix_update, average_update = jax.jit(mix.update), jax.jit(average.update)
    for t in range(1, 5):
        out, ms = mix_update(jnp.array([g]), ms)
        n, ns = average_update(jnp.array([g]), ns)
        m = g * (1 - b1**t) / (1 - b1)
        np.testing.assert_allclose(out, [m + alpha * g], rtol=1e-6)
        np.testing.assert_allclose(n, [g**2 * (1 - b2**t)], rtol=1e-6)
        assert int(ms.t) == t
    z = jnp.array([3 - 4j], jnp.complex64)  # |g|**2 = 25, not g**2 = -7 - 24j
    np.testing.assert_allclose(average.update(z, average.init(z))[0], [25 * (1 - b2)], rtol=1e-6)


def test_simplified_ademamix_keeps_the_phase_of_a_complex_gradient():
    g = jnp.array([3 - 4j, 1j], jnp.complex64)
    tx = occ.scale_by_simplified_ademamix(alpha=1.0, eps=0.0)
    u, _ = tx.update(g, tx.init(jnp.zeros_like(g)))
    g = np.asarray(g)
    np.testing.assert_allclose(u, 2 * g / np.abs(g), rtol=1e-6)  # (g + g) / |g|


def test_dual_averaging_closed_form_without_momentum():
    """momentum 0: x_k = x_0 - s_k / G_k**(1/3), s_k = g L_k, G_k = g**2 L_k, L_k the sum of
    (lr + eps) sqrt(i + 1); for a complex g, G_k uses |g|**2."""
    lr = 0.1
    for g, x0 in (
        (jnp.array([2.0, -0.5]), jnp.array([1.0, 1.0])),
        (jnp.array([3 - 4j]), jnp.ones(1, jnp.complex64)),
    ):
        tx = oc.dual_averaging(lr, momentum=0.0, eps=0.0)
        x, state, update = x0, tx.init(x0), jax.jit(tx.update)
        for k in range(1, 4):
            u, state = update(g, state, x)
            x = x + u
            weight = sum(lr * np.sqrt(i) for i in range(1, k + 1))
            g_, x0_ = np.asarray(g), np.asarray(x0)
            expected = x0_ - g_ * weight / np.cbrt(np.abs(g_) ** 2 * weight)
            np.testing.assert_allclose(x, expected, rtol=1e-5)
        np.testing.assert_array_equal(state.x0, x0)
        assert state.x0.unsafe_buffer_pointer() != x0.unsafe_buffer_pointer()


def test_one_counter_and_integer_leaves():
    params = {"w": jnp.ones(2), "n": jnp.array([1, 2], jnp.int32)}
    for name in ("adopt", "acprop", "ademamix", "simplified_ademamix", "madgrad"):
        tx = getattr(occ, name)(0.1)
        state = tx.init(params)
        paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(state)]
        assert [p for p in paths if p.endswith(".count")] == [".count"], (name, paths)
        u, state = tx.update(params, state, params)
        assert u["n"].dtype == jnp.int32 and not np.any(u["n"])
        assert int(optax.tree.get(state, "count")) == 1


def test_arguments_are_checked_by_name():
    cases = [
        (lambda: occ.adopt(0.1, b1=1.5), r"^adopt: b1 must be in \[0, 1\)"),
        (lambda: occ.adopt(0.1, clip_value_fn=0.25), r"^adopt: clip_value_fn must be a callable"),
        (lambda: occ.adopt(0.1, use_clipping=1), r"^adopt: use_clipping must be True or False"),
        (lambda: occ.ademamix(0.1, b3=1.0), r"^ademamix: b3 must be in \[0, 1\)"),
        (lambda: occ.ademamix(0.1, b1=_B3), r"^ademamix: b1 must be a number, not a schedule"),
        (lambda: occ.simplified_ademamix(0.1, alpha=-1.0), r"^simplified_ademamix: alpha must"),
        (lambda: occ.acprop(0.1, b2=_B3), r"^acprop: b2 must be a number, not a schedule"),
        (lambda: occ.madgrad(0.1, momentum=1.5), r"^madgrad: momentum must be in \[0, 1\]"),
        (lambda: occ.scale_by_madgrad(-0.1), r"^scale_by_madgrad: learning_rate must be"),
    ]
    for build, message in cases:
        with pytest.raises(ValueError, match=message):
            build()
