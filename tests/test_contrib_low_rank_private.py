"""GaLore, split_real_and_imaginary and DP-SGD (optax.contrib's names): optax's values and
state fields over 200 jitted steps, the projector's and the private aggregate's closed forms,
and argument checks."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc
import optchain.contrib as occ

STEPS = 200
DIMS = optax.contrib.GaLoreDimensionNumbers


def _close(a, b, rtol=1e-5):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    if not a.size:
        return
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6 * max(1.0, float(np.max(np.abs(b)))))


def _galore_params():
    rows = jnp.arange(24, dtype=jnp.float32).reshape(6, 4)
    return {
        "w": jnp.cos(rows) + 0.1 * rows / 24,  # 6 x 4: left projector
        "k": jnp.sin(jnp.arange(15, dtype=jnp.float32)).reshape(3, 5),  # 3 x 5: right one
        "t": jnp.cos(jnp.arange(24, dtype=jnp.float32)).reshape(2, 3, 4),  # 3-d
        "b": jnp.array([0.3, -2.0, 0.5]),  # a vector: never projected
    }


def _abs_sq(x):
    return jnp.real(x * jnp.conj(x))


def _loss(params):
    """A quartic bowl: |x - 0.1|**2 + 0.1 |x|**4 per entry (real for complex leaves)."""
    return sum(jnp.sum(_abs_sq(x - 0.1) + 0.1 * _abs_sq(x) ** 2) for x in jax.tree.leaves(params))


def _run(tx, params, steps=STEPS):
    @jax.jit
    def run(params):
        def step(carry, _):
            p, s = carry
            g = jax.tree.map(jnp.conj, jax.grad(_loss)(p))  # optax's convention for complex
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
        return p, s

    return run(params)


# case -> (factory name, its arguments, the base optimizer for optchain and for optax)
GALORE = {
    "galore_adam": ("galore", dict(learning_rate=0.02, rank=2, update_proj_gap=50), None),
    "galore_base_decay_dims": (
        "galore",
        dict(
            learning_rate=0.02,
            rank=1,
            update_proj_gap=30,
            scale=0.5,
            weight_decay=0.1,
            mask={"w": True, "k": False, "t": True, "b": False},
            weight_dimension_numbers={"w": DIMS(), "k": DIMS(1, 0), "t": DIMS((0, 2), 1), "b": None},
        ),
        (lambda: oc.scale_by_adam(b1=0.8, b2=0.99), lambda: optax.scale_by_adam(b1=0.8, b2=0.99)),
    ),
    "scale_by_galore_one_spec": (  # one spec for every matrix (no 3-d leaf here)
        "scale_by_galore",
        dict(rank=2, update_proj_gap=40, scale=2.0, weight_dimension_numbers=DIMS(-1, (0,))),
        (lambda: optax.scale_by_lion(b1=0.9), lambda: optax.scale_by_lion(b1=0.9)),
    ),
}  # fmt: skip


def _galore_case(name):
    params = _galore_params()
    if name == "scale_by_galore_one_spec":
        del params["t"]
    return params


def _galore(name, module):
    factory, kwargs, bases = GALORE[name]
    if bases is not None:
        kwargs = dict(kwargs, base_optimizer=bases[module is optax.contrib]())
    tx = getattr(module, factory)(**kwargs)
    if factory.startswith("scale_by"):
        tx = optax.chain(tx, optax.scale(-0.01))
    return tx


@pytest.mark.parametrize("name", sorted(GALORE))
def test_galore_values_and_state_fields_are_optax(name):
    params = _galore_case(name)
    p_ours, s_ours = _run(_galore(name, occ), params)
    with jax.numpy_dtype_promotion("standard"):
        p_theirs, s_theirs = _run(_galore(name, optax.contrib), params)
    jax.tree.map(_close, p_ours, p_theirs)
    assert float(_loss(p_ours)) < 0.5 * float(_loss(params))
    # the SVD's signs are those of the same jnp.linalg.svd on the same gradient
    jax.tree.map(_close, optax.tree.get(s_ours, "projector"), optax.tree.get(s_theirs, "projector"))
    for field in ("mu", "nu"):
        theirs = optax.tree.get(s_theirs, field)
        if theirs is not None:
            jax.tree.map(_close, optax.tree.get(s_ours, field), theirs)
    ours = jax.tree.leaves(optax.tree.get(s_ours, "base_optimizer_state"))
    assert [x.shape for x in ours if x.ndim] == [
        x.shape for x in jax.tree.leaves(optax.tree.get(s_theirs, "base_optimizer_state")) if x.ndim
    ]
    assert int(jax.tree.leaves(s_ours)[0]) == STEPS  # the chain's one count


def _rank_r(rows, cols, r, complex_=False, seed=0):
    a, b, c, d = jax.random.normal(jax.random.key(seed), (4, max(rows, cols), r))
    left, right = a[:rows], b[:cols]
    if complex_:
        left, right = jax.lax.complex(left, c[:rows]), jax.lax.complex(right, d[:cols])
    return left @ right.T


@pytest.mark.parametrize("kind", ["left-real", "right-real", "left-complex"])
def test_projector_is_orthonormal_and_a_rank_r_gradient_loses_nothing(kind):
    rows, cols = (7, 4) if kind.startswith("left") else (4, 7)
    g = _rank_r(rows, cols, 2, complex_=kind.endswith("complex"))
    tx = oc.galore_projection(oc.scale(1.0), rank=2, update_proj_gap=3)
    update = jax.jit(tx.update)
    state = tx.init(g)
    u, state = update(g, state)
    p = state.projector
    assert p.shape == ((rows if kind.startswith("left") else cols), 2) and p.dtype == g.dtype
    np.testing.assert_allclose(np.conj(p).T @ p, np.eye(2), atol=1e-5)
    np.testing.assert_allclose(u, g, atol=1e-4)
    # kept between refreshes (steps 1, 2), recomputed from the SVD at step 3
    for step in (1, 2, 3):
        h = g + _rank_r(rows, cols, 2, complex_=kind.endswith("complex"), seed=step) * (step / 3)
        u, new = update(h, state)
        assert np.array_equal(new.projector, state.projector) == (step < 3), step
        state = new
    left, sigma, right = np.linalg.svd(np.asarray(h))  # u is h's best rank-2 approximation
    np.testing.assert_allclose(u, (left[:, :2] * sigma[:2]) @ right[:2], atol=1e-4)


def test_galore_leaves_outside_the_projection():
    """Vectors go through the base optimizer whole and unscaled, integer leaves get zeros."""
    params = {"w": jnp.ones((4, 3)), "b": jnp.array([1.0, -2.0]), "n": jnp.array([3, 4])}
    tx = oc.scale_by_galore(rank=1, scale=0.25, base_optimizer=oc.scale(2.0))
    g = {"w": jnp.outer(jnp.arange(4.0), jnp.ones(3)), "b": jnp.array([0.5, 1.0]), "n": params["n"]}
    u, state = tx.update(g, tx.init(params))
    np.testing.assert_allclose(u["w"], 0.5 * g["w"], rtol=1e-5)  # rank-1: s * 2 * g
    np.testing.assert_array_equal(u["b"], 2.0 * g["b"])
    assert u["n"].dtype == jnp.int32 and not np.any(u["n"])
    assert optax.tree.get(state, "projector")["b"].shape == (0, 0)


def test_galore_dimension_numbers_as_a_function_of_the_params():
    """A callable spec gives what its tree gives; a 3-d leaf is a matrix through its axes."""
    params = _galore_params()
    tree = {"w": None, "k": DIMS(), "t": DIMS(2, (0, 1)), "b": None}
    g = jax.grad(_loss)(params)
    by_tree = oc.scale_by_galore(rank=2, weight_dimension_numbers=tree)
    by_fn = oc.scale_by_galore(rank=2, weight_dimension_numbers=lambda p: tree)

    @jax.jit
    def both(g):
        return by_tree.update(g, by_tree.init(params)), by_fn.update(g, by_fn.init(params))[0]

    (u_tree, s_tree), u_fn = both(g)
    jax.tree.map(np.testing.assert_array_equal, u_tree, u_fn)
    projector = optax.tree.get(s_tree, "projector")
    assert projector["t"].shape == (6, 2) and projector["w"].shape == (0, 0)  # t: 6 x 4 matrix
    left, sigma, right = np.linalg.svd(np.transpose(np.asarray(g["t"]), (2, 0, 1)).reshape(4, 6).T)
    np.testing.assert_allclose(np.abs(projector["t"]), np.abs(left[:, :2]), atol=1e-5)


def _complex_params():
    return {
        "z": jnp.array([1.0 + 0.5j, -0.5 + 0.2j, 0.25 - 1.0j], jnp.complex64),
        "k": jnp.array([[0.1j, 0.2], [0.3 - 0.3j, -0.4]], jnp.complex64),
        "b": jnp.array([0.3, -2.0]),  # a real leaf next to complex ones
    }


def test_split_real_and_imaginary_around_adam_is_optax():
    params = _complex_params()
    p_ours, s_ours = _run(occ.split_real_and_imaginary(oc.adam(0.05)), params)
    with jax.numpy_dtype_promotion("standard"):
        tx = optax.contrib.split_real_and_imaginary(optax.adam(0.05))
        p_theirs, s_theirs = _run(tx, params)
    jax.tree.map(_close, p_ours, p_theirs)
    assert p_ours["z"].dtype == jnp.complex64 and p_ours["b"].dtype == jnp.float32
    assert isinstance(s_ours, occ.SplitRealAndImaginaryState)
    for field in ("mu", "nu"):  # per part: the leaves of the split trees, in the same order
        mine = jax.tree.leaves(optax.tree.get(s_ours, field))
        theirs = jax.tree.leaves(optax.tree.get(s_theirs, field))
        assert len(mine) == len(theirs) == 5
        jax.tree.map(_close, mine, theirs)


def test_split_real_and_imaginary_treats_the_parts_as_two_real_leaves():
    tx = oc.split_real_and_imaginary(oc.scale_by_rms(decay=0.0, eps=0.0))  # u = g / |g| per part
    g = jnp.array([3.0 - 0.5j, -2.0 + 4.0j])
    u, state = tx.update(g, tx.init(jnp.zeros(2, jnp.complex64)))
    np.testing.assert_allclose(u, np.sign(g.real) + 1j * np.sign(g.imag), rtol=1e-6)
    nu = optax.tree.get(state, "nu")
    np.testing.assert_allclose(nu.real, np.square(g.real))
    np.testing.assert_allclose(nu.imaginary, np.square(g.imag))


# DP-SGD: four examples, each with its own target; per-example gradients by vmap
TARGETS = {
    "w": jnp.array([[1.0, -0.5, 0.25], [3.0, 1.0, -2.0], [0.0, 0.1, 0.2], [-4.0, 2.0, 1.0]]),
    "k": jnp.array([[[0.1, 0.2], [0.3, -0.4]]] * 2 + [[[2.0, -1.0], [0.0, 0.5]]] * 2),
}


def _example_loss(params, target):
    return sum(jnp.sum(jnp.square(params[n] - target[n])) for n in params)


def _run_private(tx, steps=STEPS):
    params = {"w": jnp.zeros(3), "k": jnp.ones((2, 2))}

    @jax.jit
    def run(params):
        def step(carry, _):
            p, s = carry
            g = jax.vmap(jax.grad(_example_loss), (None, 0))(p, TARGETS)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), u

        (p, s), us = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
        return p, s, us

    return run(params)


DPSGD = {
    "plain": dict(learning_rate=0.05, l2_norm_clip=1.0, noise_multiplier=0.3, seed=3),
    "nesterov": dict(
        learning_rate=0.02, l2_norm_clip=2.0, noise_multiplier=1.0, seed=5, momentum=0.9,
        nesterov=True,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(DPSGD))
def test_dpsgd_values_noise_and_state_fields_are_optax(name):
    p_ours, s_ours, u_ours = _run_private(occ.dpsgd(**DPSGD[name]))
    with jax.numpy_dtype_promotion("standard"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # optax's dpsgd passes seed=
        p_theirs, s_theirs, u_theirs = _run_private(optax.contrib.dpsgd(**DPSGD[name]))
    jax.tree.map(_close, u_ours, u_theirs)  # every step's update, noise included
    jax.tree.map(_close, p_ours, p_theirs)
    key_ours, key_theirs = optax.tree.get(s_ours, "rng_key"), optax.tree.get(s_theirs, "rng_key")
    np.testing.assert_array_equal(jax.random.key_data(key_ours), jax.random.key_data(key_theirs))
    if "momentum" in DPSGD[name]:
        jax.tree.map(_close, optax.tree.get(s_ours, "trace"), optax.tree.get(s_theirs, "trace"))
    assert int(optax.tree.get(s_ours, "count")) == STEPS


def test_same_key_same_noise_bit_for_bit():
    """On zero gradients the aggregate is the noise alone: optax's draws, bit for bit (a typed
    key here, its int seed there; ``seed=`` spells the same key)."""
    zeros = {"a": jnp.zeros((5, 3)), "b": jnp.zeros((5, 2, 2))}
    ours = occ.differentially_private_aggregate(1.5, 2.0, key=jax.random.key(11))
    theirs = optax.contrib.differentially_private_aggregate(1.5, 2.0, key=11)
    seeded = occ.differentially_private_aggregate(1.5, 2.0, seed=11)

    @jax.jit
    def draws(zeros):
        out, states = [], [tx.init(None) for tx in (ours, theirs)]
        for _ in range(3):
            steps = [tx.update(zeros, s) for tx, s in zip((ours, theirs), states)]
            out.append([u for u, _ in steps])
            states = [s for _, s in steps]
        return out, seeded.update(zeros, seeded.init(None))[0]

    with jax.numpy_dtype_promotion("standard"):
        out, u_seed = draws(zeros)
    for u_ours, u_theirs in out:
        jax.tree.map(np.testing.assert_array_equal, u_ours, u_theirs)
    assert float(jnp.std(out[2][0]["a"])) > 0 and not np.array_equal(out[0][0]["a"], out[1][0]["a"])
    jax.tree.map(np.testing.assert_array_equal, u_seed, out[0][0])  # seed= is key=int


def test_private_aggregate_without_noise_is_the_mean_of_clipped_examples():
    g = {
        "a": jnp.array([[3.0, 0.0], [0.0, 0.1], [1.0, 1.0]]),
        "b": jnp.array([[4.0], [0.0], [1.0]]),
    }
    tx = occ.differentially_private_aggregate(l2_norm_clip=1.0, noise_multiplier=0.0, key=0)
    u, state = jax.jit(tx.update)(g, tx.init(None))
    norms = np.sqrt(np.sum(np.asarray(g["a"]) ** 2, 1) + np.asarray(g["b"])[:, 0] ** 2)  # 5, .1, √3
    factor = np.minimum(1.0, 1.0 / norms)
    np.testing.assert_allclose(u["a"], np.mean(np.asarray(g["a"]) * factor[:, None], 0), rtol=1e-6)
    np.testing.assert_allclose(u["b"], np.mean(np.asarray(g["b"]) * factor[:, None], 0), rtol=1e-6)
    assert isinstance(state, occ.DifferentiallyPrivateAggregateState)
    clipped, _ = oc.per_example_clip(1.0).update(g, optax.EmptyState())
    np.testing.assert_allclose(np.sqrt(np.sum(clipped["a"] ** 2, 1) + clipped["b"][:, 0] ** 2),
                               np.minimum(norms, 1.0), rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: occ.galore(0.1, rank=0), "galore: rank must be in [1, inf); got 0"),
        (lambda: occ.galore(0.1, rank=2.5), "galore: rank must be an int"),
        (lambda: occ.scale_by_galore(update_proj_gap=0), "scale_by_galore: update_proj_gap must"),
        (lambda: occ.galore(-1.0), "galore: learning_rate must be in [0, inf)"),
        (lambda: occ.galore(0.1, weight_decay=-0.1), "galore: weight_decay must be in [0, inf)"),
        (lambda: occ.dpsgd(0.1, -1.0, 1.0, 0), "dpsgd: l2_norm_clip must be in [0, inf)"),
        (lambda: occ.dpsgd(0.1, 1.0, lambda t: 1.0, 0), "dpsgd: noise_multiplier must be a number"),
        (lambda: occ.dpsgd(0.1, 1.0, 1.0, "x"), "dpsgd: seed must be a jax.random key or an int"),
        (lambda: occ.dpsgd(0.1, 1.0, 1.0, 0, momentum=1.5), "dpsgd: momentum must be in [0, 1]"),
        (lambda: occ.dpsgd(0.1, 1.0, 1.0, 0, nesterov=1), "dpsgd: nesterov must be True or False"),
        (
            lambda: occ.differentially_private_aggregate(1.0, 1.0, key=0, seed=1),
            "differentially_private_aggregate: give key or seed, not both",
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_arguments_are_checked_by_their_public_names(build, message):
    with pytest.raises(ValueError) as error:
        build()
    assert message in str(error.value)


def test_bad_shapes_are_reported_by_leaf():
    params = {"t": jnp.zeros((2, 3, 4)), "v": jnp.zeros(3)}
    bad_axes = oc.scale_by_galore(weight_dimension_numbers={"t": DIMS(0, 1), "v": None})
    with pytest.raises(ValueError, match=r"galore: .*\['t'\].* disjoint groups"):
        bad_axes.init(params)
    vector = oc.scale_by_galore(weight_dimension_numbers={"t": None, "v": DIMS()})
    with pytest.raises(ValueError, match=r"\['v'\] of shape \(3,\) is no matrix"):
        vector.init(params)
    dp = occ.differentially_private_aggregate(1.0, 1.0, key=0)
    with pytest.raises(ValueError, match=r"updates\['b'\] has 2 examples but updates\['a'\] has 3"):
        dp.update({"a": jnp.zeros((3, 2)), "b": jnp.zeros((2, 2))}, dp.init(None))
