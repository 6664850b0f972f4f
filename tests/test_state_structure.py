"""A named optimizer's state is shaped by its algorithm, never by a numeric value.

For every named optimizer, the default call and one call per numeric argument set to another
value (0 among them: a 0 never removes a link) have the same ``jax.tree.structure`` and the
same leaf paths, shapes and dtypes, so ``transfer_state`` between them keeps every moment and
a checkpoint written with one value restores into the other. A schedule in place of a number
keeps every leaf path, shape and dtype (only empty nodes differ: a schedule's link may count).
"""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optchain as oc

PARAMS = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
GRADS = {"w": jnp.full((2, 3), 0.3), "b": jnp.array([0.1, -0.2, 0.4])}
REQUIRED = {
    "signum_majority": {"axis_name": "batch"},
    "dgc_sgd": {"axis_name": "batch"},
    "differentially_private_aggregate": {"l2_norm_clip": 1.0, "noise_multiplier": 0.5},
    "dpsgd": {"l2_norm_clip": 1.0, "noise_multiplier": 0.5, "seed": 0},
}
# required transforms: these optimizers wrap or alternate other optimizers
TRANSFORM_ARGS = {
    "sam": lambda: {"optimizer": oc.sgd(0.1), "adv_optimizer": oc.adversarial_perturbation(0.05)},
    "mechanize": lambda: {"base_optimizer": oc.sgd(0.1)},
}
# integer arguments that size the state by design (the algorithm's structure, not a value)
STRUCTURAL = {
    ("lbfgs", "memory_size"): "the number of stored secant pairs",
    ("adafactor", "min_dim_size_to_factor"): "which leaves are factored",
    ("mechanize", "num_betas"): "the number of scale estimates Mechanic runs in parallel",
}
# optimizers whose update needs more than gradients (a loss, a line search's value_fn)
NEEDS_EXTRA_ARGS = {"polyak_sgd", "lbfgs", "momo", "momo_adam", "sophia"}
# optimizers whose update the shared PARAMS cannot feed: per-example gradients (a leading
# batch axis), a tree of matrices only (tests/test_contrib_*.py run them)
NOT_ON_PARAMS = {"differentially_private_aggregate", "dpsgd", "scale_by_muon"}
NAMES = [n for n in oc.optimizers.__all__ if n != "named_optimizer"]


def _base(name):
    signature = inspect.signature(getattr(oc, name))
    kwargs = dict(REQUIRED.get(name, {}))
    if name in TRANSFORM_ARGS:
        kwargs.update(TRANSFORM_ARGS[name]())
    lr = signature.parameters.get("learning_rate")
    if lr is not None and lr.default is inspect.Parameter.empty:
        kwargs["learning_rate"] = 0.1
    return kwargs


def _other_values(default):
    """Non-default values of a numeric argument that every rule accepts or rejects clearly."""
    if isinstance(default, float):
        return [v for v in (0.0, 0.5, 2 * default + 0.25) if v != default]
    return [default + 1]


def _variants(name):
    signature = inspect.signature(getattr(oc, name))
    for p in signature.parameters.values():
        default = p.default
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            continue
        if (name, p.name) in STRUCTURAL:
            continue
        for value in _other_values(default):
            yield p.name, value


CASES = [(name, arg, value) for name in NAMES for arg, value in _variants(name)]


def _layout(state):
    leaves = jax.tree_util.tree_leaves_with_path(state)
    return [(jax.tree_util.keystr(path), leaf.shape, leaf.dtype) for path, leaf in leaves]


def _build(name, **kwargs):
    return getattr(oc, name)(**{**_base(name), **kwargs})


def test_every_named_optimizer_has_numeric_variants():
    # no numeric default: dpsgd's and the private aggregate's numbers are all required
    without = {"scale_by_sign", "lbfgs", "dpsgd", "differentially_private_aggregate"}
    assert {name for name, _, _ in CASES} >= set(NAMES) - without
    assert len(CASES) >= 150


@pytest.mark.parametrize("name, arg, value", CASES, ids=[f"{n}-{a}={v}" for n, a, v in CASES])
def test_numeric_values_do_not_change_the_state_structure(name, arg, value):
    reference = jax.eval_shape(_build(name).init, PARAMS)
    try:
        tx = _build(name, **{arg: value})
    except ValueError as error:  # out of this argument's range: rejected by name, not ignored
        assert arg in str(error)
        return
    state = jax.eval_shape(tx.init, PARAMS)
    assert jax.tree.structure(state) == jax.tree.structure(reference)
    assert _layout(state) == _layout(reference)


def _data(leaf):
    if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(leaf)
    return leaf


@pytest.mark.parametrize(
    "name", [n for n in NAMES if n not in {*REQUIRED, *NEEDS_EXTRA_ARGS, *NOT_ON_PARAMS}]
)
def test_transfer_state_keeps_every_moment_when_weight_decay_is_turned_on(name):
    signature = inspect.signature(getattr(oc, name))
    old_tx = _build(name)
    state = old_tx.init(PARAMS)
    for _ in range(2):
        _, state = old_tx.update(GRADS, state, PARAMS)
    changes = {}
    if "weight_decay" in signature.parameters:
        changes["weight_decay"] = 1e-3
    if "eps" in signature.parameters:
        changes["eps"] = 1e-5
    new_tx = _build(name, **changes)
    moved = oc.transfer_state(state, new_tx.init(PARAMS))
    old_leaves = dict(
        (jax.tree_util.keystr(p), x) for p, x in jax.tree_util.tree_leaves_with_path(state)
    )
    for path, leaf in jax.tree_util.tree_leaves_with_path(moved):
        np.testing.assert_array_equal(_data(leaf), _data(old_leaves[jax.tree_util.keystr(path)]))
    # the moved state runs in the new optimizer
    updates, _ = new_tx.update(GRADS, moved, PARAMS)
    assert all(bool(jnp.all(jnp.isfinite(u))) for u in jax.tree.leaves(updates))


SCHEDULED = [
    (name, arg)
    for name in NAMES
    for arg, default in (
        (p.name, p.default) for p in inspect.signature(getattr(oc, name)).parameters.values()
    )
    if isinstance(default, float) and not isinstance(default, bool)
]


@pytest.mark.parametrize("name, arg", SCHEDULED, ids=[f"{n}-{a}" for n, a in SCHEDULED])
def test_a_schedule_keeps_every_leaf_path_shape_and_dtype(name, arg):
    default = inspect.signature(getattr(oc, name)).parameters[arg].default
    try:
        tx = _build(name, **{arg: lambda step: default})
    except ValueError as error:  # a number-only argument says so
        assert arg in str(error) and "schedule" in str(error)
        return
    reference = jax.eval_shape(_build(name).init, PARAMS)
    assert _layout(jax.eval_shape(tx.init, PARAMS)) == _layout(reference)
