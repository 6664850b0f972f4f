"""Same name, same call, same result: every public name optchain shares with optax.

Walks ``optchain.__all__`` against optax's top level, ``optax.schedules``, ``optax.transforms``
and ``optax.contrib``. A shared function has optax's signature (positional order, keyword
names, defaults; optchain may only add keyword-only arguments with defaults); a shared state
class has optax's fields; a shared optimizer gives optax's values and named state fields, for
real and complex parameters. A deliberate difference is an entry of ``DIFFERENCES`` (with its
reason) and a row of the README's migration table; an entry that stops being true fails too.
"""

import inspect
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import optax.schedules
import optax.transforms
import pytest

import optchain as oc

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
NAMESPACES = (optax, optax.schedules, optax.transforms, optax.contrib)

# name -> why optchain's signature differs from optax's (each a migration-table row).
DIFFERENCES = {
    "adadelta": "default learning_rate is 1.0 (Zeiler, torch); optax's None skips the scaling, "
    "so its default step has the gradient's sign (ascent). learning_rate=None gives optax's",
}


def _optax_counterpart(name):
    for space in NAMESPACES:
        if hasattr(space, name):
            return getattr(space, name)
    return None


def _shared():
    pairs = []
    for name in sorted(oc.__all__):
        theirs = _optax_counterpart(name)
        if theirs is not None and not inspect.ismodule(theirs):
            pairs.append((name, getattr(oc, name), theirs))
    return pairs


SHARED = _shared()
FUNCTIONS = [(n, a, b) for n, a, b in SHARED if a is not b and inspect.isfunction(b)]
CLASSES = [(n, a, b) for n, a, b in SHARED if a is not b and hasattr(b, "_fields")]


def _same_default(a, b):
    if a is inspect.Parameter.empty or b is inspect.Parameter.empty:
        return a is b
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b))) and type(a) is type(b)
    except Exception:  # noqa: BLE001  (defaults that are not comparable as arrays)
        return a == b


def signature_differences(ours, theirs):
    """What a caller of optax's signature would meet with optchain's (empty: a drop-in)."""
    mine = inspect.signature(ours).parameters
    problems = []
    for p in inspect.signature(theirs).parameters.values():
        q = mine.get(p.name)
        if q is None:
            problems.append(f"no argument {p.name}")
        elif q.kind != p.kind:
            problems.append(f"{p.name} is {q.kind.description}, optax's is {p.kind.description}")
        elif not _same_default(q.default, p.default):
            problems.append(f"{p.name} defaults to {q.default!r}, optax's to {p.default!r}")
    positional = [
        p.name
        for p in inspect.signature(theirs).parameters.values()
        if p.kind == p.POSITIONAL_OR_KEYWORD
    ]
    if [n for n in mine if n in positional] != positional:
        problems.append("positional order differs")
    theirs_names = set(inspect.signature(theirs).parameters)
    for q in mine.values():
        extra = q.name not in theirs_names and q.kind != q.VAR_KEYWORD
        if extra and (q.kind != q.KEYWORD_ONLY or q.default is inspect.Parameter.empty):
            problems.append(f"extra argument {q.name} is not keyword-only with a default")
    return problems


def test_the_walk_covers_the_shared_names():
    names = {n for n, _, _ in SHARED}
    assert {"adam", "sgd", "ema", "scale", "chain", "cosine_decay_schedule"} <= names
    assert len(FUNCTIONS) >= 30


@pytest.mark.parametrize("name, ours, theirs", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_signature_is_optax(name, ours, theirs):
    problems = signature_differences(ours, theirs)
    if name in DIFFERENCES:
        assert problems, f"{name} is listed in DIFFERENCES but now matches optax: remove it"
    else:
        assert not problems, f"optchain.{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name, ours, theirs", CLASSES, ids=[c[0] for c in CLASSES])
def test_state_class_has_optax_fields(name, ours, theirs):
    assert ours._fields == theirs._fields


def test_every_difference_is_a_migration_table_row():
    table = README[README.index("## Migrating from optax and torch.optim") :]
    for name in DIFFERENCES:
        assert f"`{name}`" in table, f"{name} has no row in the README's migration table"


def _complex_tree():
    return {"w": jnp.array([1.0 + 2.0j, -0.5 + 0.1j, 0.25j]), "b": jnp.array([0.3 - 0.2j])}


def _real_tree():
    return {"w": jnp.array([1.0, -0.5, 0.25]), "b": jnp.array([0.3])}


OPTIMIZERS = {
    "sgd": dict(learning_rate=0.1, momentum=0.9),
    "sgd_nesterov": dict(learning_rate=0.1, momentum=0.9, nesterov=True),
    "adagrad": dict(learning_rate=0.1),
    "rmsprop": dict(learning_rate=0.1, momentum=0.9, centered=True),
    "adam": dict(learning_rate=0.1),
    "adamw": dict(learning_rate=0.1, weight_decay=0.1),
    "nadam": dict(learning_rate=0.1),
    "amsgrad": dict(learning_rate=0.1),
    "adamax": dict(learning_rate=0.1),
    "lamb": dict(learning_rate=0.1, weight_decay=0.1),
    "adadelta": dict(learning_rate=0.5),
    "noisy_sgd": dict(learning_rate=0.1, key=3),
    "scale_by_adam": dict(),
    "scale_by_amsgrad": dict(),
    "scale_by_adamax": dict(),
    "scale_by_rss": dict(),
}
FIELDS = ("count", "mu", "nu", "nu_max", "trace", "sum_of_squares")


@pytest.mark.parametrize("complex_params", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_values_and_state_fields_are_optax(name, complex_params):
    kwargs = OPTIMIZERS[name]
    factory = name.removesuffix("_nesterov")
    ours, theirs = getattr(oc, factory)(**kwargs), getattr(optax, factory)(**kwargs)
    params = _complex_tree() if complex_params else _real_tree()
    s_ours = ours.init(params)
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-promotion clean
        s_theirs = theirs.init(params)
    p_ours = p_theirs = params
    factor = 1.5 - 0.5j if complex_params else 1.5
    for step in range(3):
        grads = jax.tree.map(lambda p, k=step: p * factor - 0.1 * k, p_ours)
        u_ours, s_ours = ours.update(grads, s_ours, p_ours)
        with jax.numpy_dtype_promotion("standard"):
            u_theirs, s_theirs = theirs.update(grads, s_theirs, p_theirs)
        p_ours, p_theirs = (
            optax.apply_updates(p_ours, u_ours),
            optax.apply_updates(p_theirs, u_theirs),
        )
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7), p_ours, p_theirs
        )
    for field in FIELDS:
        theirs_value = optax.tree.get(s_theirs, field)
        if theirs_value is None:
            continue
        mine = optax.tree.get(s_ours, field)
        assert mine is not None, f"{name}: no {field!r} in optchain's state"
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7), mine, theirs_value
        )
        jax.tree.map(lambda a, b: np.testing.assert_equal(a.dtype, b.dtype), mine, theirs_value)


from named_optimizers import NAMED  # noqa: E402  (the shared table of named optimizers)

# sign agreement, cover sets, coin betting: rejected at init
NO_COMPLEX = {"delta_bar_delta", "rprop", "sm3", "cocob"}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_integer_bool_and_python_scalar_leaves(name):
    """Integer and bool leaves get zeros of their dtype; a Python-float leaf is optimized and
    eager equals jit; complex leaves are optimized or rejected at init by path."""
    tx = NAMED[name]()
    params = {
        "w": jnp.array([0.5, -1.0]),
        "n": jnp.array([3, 4], jnp.int32),
        "flag": jnp.array(True),
        "s": 0.75,
    }
    grads = {
        "w": jnp.array([0.2, 0.1]),
        "n": jnp.array([7, -7], jnp.int32),
        "flag": jnp.array(True),
        "s": 0.5,
    }
    state = tx.init(params)
    _, state = tx.update(grads, state, params)  # two steps: optax's rprop moves from the second
    eager, _ = tx.update(grads, state, params)
    jitted, _ = jax.jit(tx.update)(grads, state, params)
    for key in ("n", "flag"):
        assert eager[key].dtype == params[key].dtype
        np.testing.assert_array_equal(eager[key], np.zeros_like(params[key]))
    assert float(eager["s"]) != 0.0 and np.all(np.asarray(eager["w"]) != 0.0)
    # jit fuses differently (FMA): equal to float32 rounding of one ulp or so (of the update, or
    # of the unit-scale parameters where the update is a difference of two points: schedule-free)
    np.testing.assert_allclose(eager["s"], jitted["s"], rtol=1e-5, atol=2.5e-7)
    np.testing.assert_allclose(eager["w"], jitted["w"], rtol=1e-5, atol=2.5e-7)
    complex_params = {"z": jnp.array([1.0 + 1.0j])}
    if name in NO_COMPLEX:
        with pytest.raises(ValueError, match=r"\['z'\].*complex64"):
            tx.init(complex_params)
    else:
        z_grads = {"z": jnp.array([0.5 - 0.25j])}
        _, z_state = tx.update(z_grads, tx.init(complex_params), complex_params)
        u, _ = tx.update(z_grads, z_state, complex_params)  # ADOPT's first update is 0
        assert u["z"].dtype == jnp.complex64 and float(jnp.abs(u["z"][0])) > 0
