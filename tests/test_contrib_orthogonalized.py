"""Muon (muon, scale_by_muon), the Newton-Schulz primitive and normalize: optax's values and
state fields over 200 jitted steps, closed forms of the iteration, argument checks."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optax.contrib import MuonDimensionNumbers as Dims
from quartic_bowl import loss as _loss
from quartic_bowl import run_steps

import optchain as oc
import optchain.contrib as occ

STEPS = 200
DEFAULT = (3.4445, -4.7750, 2.0315)


def _params(complex_params=False):
    params = {
        "w": jnp.linspace(-0.5, 0.6, 12).reshape(4, 3),
        "v": jnp.cos(jnp.arange(15.0)).reshape(3, 5),
        "k": jnp.sin(jnp.arange(24.0)).reshape(2, 3, 4),
        "b": jnp.array([0.3, -2.0, 1.0]),
    }
    if not complex_params:
        return params
    return jax.tree.map(lambda x: x.astype(jnp.complex64) * jnp.complex64(1 + 0.5j), params)


def _run(tx, params):
    return run_steps(tx, params, STEPS)


LR = optax.exponential_decay(0.05, 1, 0.98)  # a decaying rate: the trajectory settles
CUSTOM = {  # k: batch axis 0; v read transposed; b: Adam
    "w": Dims(),
    "v": Dims(reduction_axis=1, output_axis=0),
    "k": Dims(reduction_axis=(1,), output_axis=(2,)),
    "b": None,
}
CASES = {
    "muon": ("muon", dict(learning_rate=LR)),
    "muon_no_nesterov_spectral": (
        "muon",
        dict(learning_rate=LR, nesterov=False, preconditioning="spectral"),
    ),
    "muon_adaptive_aol": ("muon", dict(learning_rate=LR, adaptive=True, preconditioning="aol")),
    "muon_schatten_dims_rms": (
        "muon",
        dict(
            learning_rate=LR,
            preconditioning="schatten",
            muon_weight_dimension_numbers=CUSTOM,
            consistent_rms=0.2,
            ns_coeffs="dion",
            weight_decay=0.1,
            adam_weight_decay=0.1,
            adam_learning_rate=0.02,
        ),
    ),
    "scale_by_muon": (
        "scale_by_muon",
        dict(
            ns_steps=4,
            beta=0.9,
            weight_dimension_numbers={k: d for k, d in CUSTOM.items() if k != "b"},
        ),
    ),
}
COMPLEX = ("muon",)
PARITY = [(name, False) for name in CASES] + [(name, True) for name in COMPLEX]


def _build(name, module):
    factory, kwargs = CASES[name]
    tx = getattr(module, factory)(**kwargs)
    if factory.startswith("scale_by"):  # a direction: take small steps along it
        tx = optax.chain(tx, optax.scale(-0.01))
    return tx


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(1.0, float(np.max(np.abs(b)))))


def _field(state, name):
    """Every leaf of every ``name`` field, by its path inside the field (Muon's ``mu`` and
    Adam's ``mu`` hold complementary leaves, ``optax.MaskedNode`` elsewhere)."""
    found = {}
    for _, value in optax.tree.get_all_with_path(state, name):
        for path, leaf in jax.tree_util.tree_leaves_with_path(value):
            found[jax.tree_util.keystr(path)] = leaf
    return found


@pytest.mark.parametrize(
    "name, complex_params", PARITY, ids=[f"{n}-{'complex' if c else 'real'}" for n, c in PARITY]
)
def test_values_and_state_fields_are_optax(name, complex_params):
    params = _params(complex_params)
    if name == "scale_by_muon":
        params = {k: v for k, v in params.items() if v.ndim >= 2}
    p_ours, s_ours = _run(_build(name, occ), params)
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-promotion clean
        p_theirs, s_theirs = _run(_build(name, optax.contrib), params)
    jax.tree.map(_close, p_ours, p_theirs)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(p_ours))
    assert float(_loss(p_ours)) < float(_loss(params))
    counts = [c for _, c in optax.tree.get_all_with_path(s_ours, "count")]
    assert len(counts) == 1 and int(counts[0]) == STEPS  # one step counter
    for _, theirs in optax.tree.get_all_with_path(s_theirs, "count"):
        assert int(theirs) == STEPS
    for field in ("mu", "nu", "ns_coeffs"):
        theirs, mine = _field(s_theirs, field), _field(s_ours, field)
        assert mine.keys() == theirs.keys(), field
        for key in theirs:
            _close(mine[key], theirs[key])
            assert mine[key].dtype == theirs[key].dtype


def _iterate(sigma, coeffs=DEFAULT, steps=5):
    """The Newton-Schulz polynomial on one singular value, ``steps`` times."""
    a, b, c = (np.float64(x) for x in coeffs)
    for _ in range(steps):
        sigma = a * sigma + b * sigma**3 + c * sigma**5
    return sigma


def test_scaled_orthogonal_matrix_stays_orthogonal_up_to_the_polynomial():
    """All singular values of 5 Q are equal: after the Frobenius scaling each is
    1/sqrt(3), and the output is p^5(1/sqrt(3)) Q, inside the band the coefficients give."""
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 3)))
    out = oc.newton_schulz(jnp.asarray(5.0 * q, jnp.float32))
    s = _iterate(1 / np.sqrt(3.0))
    assert 0.68 < s < 1.2
    np.testing.assert_allclose(out, s * q, rtol=2e-5, atol=2e-6)
    singular = np.linalg.svd(np.asarray(out), compute_uv=False)
    np.testing.assert_allclose(singular, s, rtol=2e-5)


def test_diagonal_matrix_stays_diagonal():
    d = np.array([3.0, -0.5, 1.5], np.float32)
    out = np.asarray(oc.newton_schulz(jnp.asarray(np.diag(d)), ns_steps=3))
    np.testing.assert_array_equal(out - np.diag(np.diag(out)), 0.0)
    expected = np.sign(d) * _iterate(np.abs(d) / np.linalg.norm(d), steps=3)
    np.testing.assert_allclose(np.diag(out), expected, rtol=1e-5)
    coeffs = ((3.0, -3.2, 1.2), (2.0, -1.5, 0.5))  # one row per step: ns_steps is ignored
    out = np.asarray(oc.newton_schulz(jnp.asarray(np.diag(d)), coeffs, ns_steps=7))
    sigma = np.abs(d) / np.linalg.norm(d)
    for row in coeffs:
        sigma = _iterate(sigma, row, steps=1)
    np.testing.assert_allclose(np.diag(out), np.sign(d) * sigma, rtol=1e-5)


def test_batch_and_transposed_axes_match_the_matrix_form():
    x = jnp.sin(jnp.arange(24.0)).reshape(3, 2, 4)  # batch axis 1
    dims = Dims(reduction_axis=2, output_axis=0)  # matrices x[:, j, :].T (4 x 3)
    out = oc.newton_schulz(x, dimension_numbers=dims)
    for j in range(2):
        np.testing.assert_allclose(out[:, j, :].T, oc.newton_schulz(x[:, j, :].T), rtol=1e-5)


def test_normalize_divides_by_the_global_norm():
    tx = occ.normalize()
    tree = {"a": jnp.array([3.0, 0.0]), "c": jnp.array([4j], jnp.complex64), "i": jnp.ones(2, int)}
    out, state = tx.update(tree, tx.init(tree))
    np.testing.assert_allclose(out["a"], [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out["c"], [0.8j], rtol=1e-6)
    assert out["i"].dtype == tree["i"].dtype and not np.any(out["i"])
    assert isinstance(state, occ.NormalizeState)
    g = {"a": jnp.array([1.0, -2.0]), "b": jnp.array([[0.5]])}
    theirs = optax.contrib.normalize().update(g, optax.EmptyState())[0]
    jax.tree.map(_close, tx.update(g, state)[0], theirs)


def test_integer_leaves_get_zero_updates():
    params = {"w": jnp.ones((2, 3)), "n": jnp.ones((2, 2), jnp.int32), "b": jnp.ones(2)}
    tx = occ.muon(0.1)
    u, _ = jax.jit(tx.update)(params, tx.init(params), params)
    assert u["n"].dtype == jnp.int32 and not np.any(u["n"])
    assert np.all(np.isfinite(u["w"])) and np.any(u["w"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(ns_coeffs=(1.0, 2.0)), "muon: ns_coeffs must have shape"),
        (dict(ns_coeffs="polar"), "muon: ns_coeffs must be one of"),
        (dict(ns_coeffs="dion", ns_steps=3), "muon: ns_coeffs has 5 rows"),
        (dict(preconditioning="newton"), "muon: preconditioning must be one of"),
        (dict(beta=1.0), "muon: beta must be in"),
        (dict(ns_steps=2.5), "muon: ns_steps must be an int"),
        (dict(consistent_rms=-0.2), "muon: consistent_rms must be in"),
        (dict(adam_b2=1.5), "muon: adam_b2 must be in"),
        (dict(nesterov=1), "muon: nesterov must be True or False"),
    ],
    ids=["coeff_shape", "preset", "rows", "preconditioning", "beta", "steps", "rms", "b2", "flag"],
)
def test_arguments_are_checked_by_their_names(kwargs, message):
    with pytest.raises(ValueError, match=message):
        occ.muon(0.1, **kwargs)


def test_scale_by_muon_checks_its_arguments():
    with pytest.raises(ValueError, match="scale_by_muon: preconditioning must be one of"):
        occ.scale_by_muon(preconditioning="svd")
    with pytest.raises(ValueError, match=r"scale_by_muon: ns_coeffs must have shape \(3,\)"):
        occ.scale_by_muon(ns_coeffs=((1.0, 2.0, 3.0, 4.0),))


def test_scale_by_shape_scales_matrices_by_their_fans_and_rejects_vectors():
    tx = oc.scale_by_shape()
    tree = {"m": jnp.ones((2, 8)), "e": jnp.ones((0, 3)), "i": jnp.ones((2, 2), jnp.int32)}
    out, _ = tx.update(tree, tx.init(tree))
    np.testing.assert_array_equal(out["m"], 2.0 * np.ones((2, 8)))  # sqrt(8 / 2)
    assert out["e"].shape == (0, 3) and out["i"].dtype == jnp.int32 and not out["i"].any()
    rms, _ = oc.scale_by_shape(consistent_rms=0.2).update(tree, tx.init(tree))
    np.testing.assert_allclose(rms["m"], 0.2 * np.sqrt(8.0) * np.ones((2, 8)), rtol=1e-6)
    with pytest.raises(ValueError, match="rank >= 2; got shape"):
        tx.update({"v": jnp.ones(3)}, tx.init(None))
