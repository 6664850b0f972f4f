"""Parameter-free step sizes (dog, dowg, cocob, scale_by_cocob and their primitives): optax's
values and state fields over 200 jitted steps, the first step in closed form, argument checks
by public name."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from quartic_bowl import loss as _loss
from quartic_bowl import run_steps

import optchain as oc
import optchain.contrib as occ

STEPS = 200
MASK = {"w": True, "b": False, "k": True}

# case -> (factory name in optax.contrib and optchain.contrib; its arguments)
CASES = {
    "dog_heuristic": ("dog", dict()),
    "dog_distance": ("dog", dict(init_step=("distance", 0.1))),
    "dog_learning_rate": ("dog", dict(init_step=("learning_rate", 0.01), eps=1e-6)),
    "dog_decay_mask_schedule": (
        "dog",
        dict(
            learning_rate=optax.linear_schedule(1.0, 0.5, 100),
            init_step=("distance", 0.05),
            weight_decay=0.1,
            mask=MASK,
        ),
    ),
    "dowg": ("dowg", dict()),
    "dowg_decay_mask": ("dowg", dict(init_estim_sq_dist=0.01, weight_decay=0.1, mask=MASK)),
    "cocob": ("cocob", dict()),
    "cocob_decay_mask": ("cocob", dict(learning_rate=0.5, alpha=50.0, weight_decay=0.1, mask=MASK)),
    "scale_by_cocob": ("scale_by_cocob", dict(alpha=20.0)),
}
FIELDS = {
    "dog": ("is_init_step", "init_params", "max_dist", "sum_sq_norm_grads"),
    "dowg": ("init_params", "weighted_sq_norm_grads", "estim_sq_dist"),
    "cocob": ("init_particles", "cumulative_gradients", "scale", "subgradients", "reward"),
}
FIELDS["scale_by_cocob"] = FIELDS["cocob"]
# complex parameters: one case per global-norm technique (COCOB rejects them)
COMPLEX = ("dog_heuristic", "dowg")
PARITY = [(name, False) for name in sorted(CASES)] + [(name, True) for name in COMPLEX]


def _params(complex_params=False):
    params = {
        "w": jnp.array([1.0, -0.5, 0.25]),
        "b": jnp.array([0.3, -2.0]),
        "k": jnp.array([[0.1, 0.2], [0.3, -0.4]]),
    }
    if not complex_params:
        return params
    return jax.tree.map(lambda x: x.astype(jnp.complex64) * jnp.complex64(1 + 0.5j), params)


def _run(tx, params):
    return run_steps(tx, params, STEPS)


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize(
    "name, complex_params", PARITY, ids=[f"{n}-{'complex' if c else 'real'}" for n, c in PARITY]
)
def test_values_and_state_fields_are_optax(name, complex_params):
    factory, kwargs = CASES[name]
    params = _params(complex_params)
    p_ours, s_ours = _run(getattr(occ, factory)(**kwargs), params)
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-promotion clean
        p_theirs, s_theirs = _run(getattr(optax.contrib, factory)(**kwargs), params)
    jax.tree.map(_close, p_ours, p_theirs)
    assert _loss(p_ours) < 0.5 * _loss(params)
    for field in FIELDS[factory]:
        theirs, mine = optax.tree.get(s_theirs, field), optax.tree.get(s_ours, field)
        assert mine is not None, f"{name}: no {field!r} in optchain's state"
        if complex_params and isinstance(theirs, jax.Array) and jnp.iscomplexobj(theirs):
            # optax keeps a complex tree's scalars complex (imaginary part 0); optchain real
            np.testing.assert_allclose(np.imag(theirs), 0.0)
            theirs = np.real(theirs).astype(np.float32)
        jax.tree.map(_close, mine, theirs)
        jax.tree.map(lambda a, b: np.testing.assert_equal(a.dtype, b.dtype), mine, theirs)
    assert int(optax.tree.get(s_ours, "count")) == STEPS


@pytest.mark.parametrize("mode", ["distance", "heuristic", "learning_rate"])
def test_dog_first_step_size_per_init_step_mode(mode):
    x, g, value, eps = jnp.array([1.0, -2.0, 2.0]), jnp.array([3.0, 0.0, -4.0]), 0.2, 1e-3
    tx = occ.dog(init_step=(mode, value), eps=eps)
    u, state = tx.update(g, tx.init(x), x)
    r0 = {"distance": value, "heuristic": value * (1 + 3.0), "learning_rate": 0.0}[mode]
    step = value if mode == "learning_rate" else r0 / np.sqrt(25.0 + eps)
    np.testing.assert_allclose(u, -step * np.asarray(g), rtol=1e-6)
    np.testing.assert_allclose(optax.tree.get(state, "max_dist"), r0, rtol=1e-6)
    np.testing.assert_allclose(optax.tree.get(state, "sum_sq_norm_grads"), 25.0)
    assert not bool(optax.tree.get(state, "is_init_step"))
    # the second step: the largest distance travelled over the root of the summed squares
    x1 = x + u
    u2, _ = tx.update(g, state, x1)
    r1 = max(r0, float(np.linalg.norm(np.asarray(u))))
    np.testing.assert_allclose(u2, -r1 / np.sqrt(50.0 + eps) * np.asarray(g), rtol=1e-5)


def test_dowg_first_steps_closed_form():
    x, g, r2, eps = jnp.array([0.0, 1.0]), jnp.array([3.0, 4.0]), 0.25, 1e-3
    tx = occ.dowg(init_estim_sq_dist=r2, eps=eps)
    u, state = tx.update(g, tx.init(x), x)
    weighted = r2 * 25.0
    np.testing.assert_allclose(u, -r2 / (np.sqrt(weighted) + eps) * np.asarray(g), rtol=1e-6)
    np.testing.assert_allclose(optax.tree.get(state, "weighted_sq_norm_grads"), weighted)
    u2, state = tx.update(g, state, x + u)
    d2 = max(r2, float(np.sum(np.asarray(u) ** 2)))
    weighted += d2 * 25.0
    np.testing.assert_allclose(u2, -d2 / (np.sqrt(weighted) + eps) * np.asarray(g), rtol=1e-5)
    np.testing.assert_allclose(optax.tree.get(state, "estim_sq_dist"), d2, rtol=1e-6)


@pytest.mark.parametrize("alpha", [1.0, 100.0])
def test_cocob_first_update_from_zero_wealth(alpha):
    """theta = -g, L = G = |g|, R = 0: the first bet is -sign(g) / max(2, alpha)."""
    x, g = jnp.array([0.5, -1.0, 2.0]), jnp.array([2.0, -0.5, 3.0])
    for tx in (occ.cocob(alpha=alpha), occ.scale_by_cocob(alpha=alpha)):
        u, state = tx.update(g, tx.init(x), x)
        np.testing.assert_allclose(u, -np.sign(np.asarray(g)) / max(2.0, alpha), rtol=1e-6)
        np.testing.assert_allclose(optax.tree.get(state, "reward"), np.zeros(3))
        np.testing.assert_allclose(optax.tree.get(state, "scale"), np.abs(np.asarray(g)))
    # the second step wins -g (x1 - x0) where the bet paid off
    x1, g1 = x + u, jnp.array([1.0, -1.0, -1.0])
    _, state = tx.update(g1, state, x1)
    won = np.maximum(-np.asarray(g1) * np.asarray(u), 0.0)
    np.testing.assert_allclose(optax.tree.get(state, "reward"), won, rtol=1e-6)


def test_one_counter_integer_leaves_and_no_aliasing():
    params = {"w": jnp.ones(2), "n": jnp.array([1, 2], jnp.int32)}
    for tx in (occ.dog(weight_decay=0.0), occ.dowg(), occ.cocob(), occ.scale_by_cocob()):
        state = tx.init(params)
        counts = [p for p, _ in jax.tree_util.tree_leaves_with_path(state) if "count" in str(p)]
        assert len(counts) == 1, counts
        pointers = {x.unsafe_buffer_pointer() for x in jax.tree.leaves(params)}
        assert all(x.unsafe_buffer_pointer() not in pointers for x in jax.tree.leaves(state))
        u, _ = tx.update(params, state, params)
        assert u["n"].dtype == jnp.int32 and not np.any(u["n"])
        assert u["w"].dtype == jnp.float32 and np.all(np.isfinite(u["w"]))


def test_state_dtypes_follow_optax_on_mixed_precision_trees():
    params = {"h": jnp.ones(2, jnp.float16), "f": jnp.ones(3)}
    for name in ("dog", "dowg", "cocob"):
        ours = getattr(occ, name)().init(params)
        with jax.numpy_dtype_promotion("standard"):
            theirs = getattr(optax.contrib, name)().init(params)
        for field in FIELDS[name]:
            jax.tree.map(
                lambda a, b: np.testing.assert_equal(a.dtype, b.dtype),
                optax.tree.get(ours, field),
                optax.tree.get(theirs, field),
            )


def test_cocob_rejects_complex_parameters_by_path():
    params = {"a": jnp.ones(2), "z": jnp.ones(2, jnp.complex64)}
    with pytest.raises(ValueError, match=r"params\['z'\].*complex64"):
        occ.cocob().init(params)


def test_turning_weight_decay_on_keeps_the_state_paths():
    """optax's weight_decay=None is the no-op rate 0 here: the decay link keeps its place."""
    params, grads = {"w": jnp.ones(2), "b": jnp.zeros(1)}, {"w": jnp.ones(2), "b": jnp.ones(1)}
    mask = {"w": True, "b": False}
    for name in ("dog", "dowg", "cocob"):
        off = getattr(occ, name)().init(params)
        on = getattr(occ, name)(weight_decay=0.1, mask=mask).init(params)
        paths = [jax.tree_util.tree_leaves_with_path(s) for s in (off, on)]
        assert [p for p, _ in paths[0]] == [p for p, _ in paths[1]], name
    u_none, _ = occ.dog(mask=mask).update(grads, occ.dog(mask=mask).init(params), params)
    u_zero, _ = occ.dog(weight_decay=0.0).update(grads, occ.dog().init(params), params)
    jax.tree.map(np.testing.assert_array_equal, u_none, u_zero)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: occ.dog(init_step=("rate", 0.1)), "dog: init_step's mode must be one of"),
        (lambda: occ.dog(init_step=("distance", 0.0)), "dog: init_step's value must be in"),
        (lambda: occ.dog(init_step=0.1), r"dog: init_step must be a pair \(mode, value\)"),
        (lambda: occ.dog(eps=-1.0), r"dog: eps must be in \[0, inf\)"),
        (lambda: occ.dog(learning_rate=-0.1), "dog: learning_rate must be in"),
        (lambda: occ.dog(weight_decay=-0.1), "dog: weight_decay must be in"),
        (lambda: occ.dowg(init_estim_sq_dist=0.0), r"dowg: init_estim_sq_dist must be in \(0"),
        (lambda: occ.dowg(eps=lambda t: 1e-4), "dowg: eps must be a number, not a schedule"),
        (lambda: occ.cocob(alpha=-1.0), r"cocob: alpha must be in \[0, inf\)"),
        (lambda: occ.cocob(weight_decay=float("nan")), "cocob: weight_decay must be in"),
        (lambda: occ.scale_by_cocob(eps=-1e-8), r"scale_by_cocob: eps must be in \[0, inf\)"),
    ],
    ids=[
        "dog-mode",
        "dog-value",
        "dog-pair",
        "dog-eps",
        "dog-lr",
        "dog-wd",
        "dowg-init",
        "dowg-eps-schedule",
        "cocob-alpha",
        "cocob-wd",
        "scale_by_cocob-eps",
    ],
)
def test_arguments_are_checked_by_public_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_primitives_are_exported_and_contrib_serves_optchain():
    assert occ.DoGState is oc.DoGState and occ.COCOBState is oc.COCOBState
    assert occ.DoWGState is oc.DoWGState and occ.dog is oc.dog and occ.cocob is oc.cocob
    tx = oc.scale_by_dog(("distance", 1.0))
    assert isinstance(tx.init(jnp.ones(2)), oc.DoGState)
