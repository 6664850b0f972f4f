"""What XLA makes of a donated optimizer step: no hidden copies, no temporary buffers.

A step that updates params and state in place reads and writes each buffer once. When XLA
recomputes a new state leaf inside the parameter update from the *old* leaves, it must keep
a copy of the donated state alive (on XLA:CPU a fresh temporary per leaf, paid in page faults
every step): rprop and delta-bar-delta ran 3x slower than their in-place form that way. These
tests read the compiled step (``memory_analysis`` and the optimized HLO), which is
deterministic, so they guard the fix without timing anything.
"""

import re

import jax
import jax.numpy as jnp
import optax
import pytest

import optchain as oc

PARAMS = {"a": jnp.ones((256, 128)), "b": jnp.ones((1024,)), "c": {"d": jnp.ones((64, 256))}}
LEAF_BYTES = min(x.nbytes for x in jax.tree.leaves(PARAMS))  # 4096
PARAM_BYTES = sum(x.nbytes for x in jax.tree.leaves(PARAMS))

# named optimizers whose step needs no parameter-sized temporary at all
IN_PLACE = {
    "sgd": lambda: oc.sgd(1e-2),
    "sgd_momentum": lambda: oc.sgd(1e-2, momentum=0.9),
    "nesterov": lambda: oc.sgd(1e-2, momentum=0.9, nesterov=True),
    "adagrad": lambda: oc.adagrad(1e-2),
    "rmsprop": lambda: oc.rmsprop(1e-3),
    "adam": lambda: oc.adam(1e-3),
    "adamw": lambda: oc.adamw(1e-3),
    "nadam": lambda: oc.nadam(1e-3),
    "amsgrad": lambda: oc.amsgrad(1e-3),
    "adamax": lambda: oc.adamax(1e-3),
    "sign_sgd": lambda: oc.sign_sgd(1e-3),
    "signum": lambda: oc.signum(1e-3),
    "rprop": lambda: oc.rprop(1e-3, torch_compatible=True),
    "delta_bar_delta": lambda: oc.delta_bar_delta(1e-3),
}
# these need parameter-sized temporaries (how many per leaf, at most): LAMB's update feeds
# the per-leaf norms, FTML's sqrt(v) feeds both z and d, AdaDelta's delta feeds both its
# accumulator and the update (optax's adadelta and lamb need as many or more). LARS needs
# none for matrices; XLA:CPU materializes the squares of a 1-D leaf before the norm's reduce
WITH_TEMPORARIES = {
    "lars": (lambda: oc.lars(1e-2), 0),
    "lamb": (lambda: oc.lamb(1e-3), 1),
    "ftml": (lambda: oc.ftml(1e-3), 1),
    "adadelta": (lambda: oc.adadelta(1.0), 2),
    "rprop_optax": (lambda: oc.rprop(1e-3), 1),
}


def _compiled_step(tx):
    grads = jax.tree.map(lambda x: 0.01 * x, PARAMS)

    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1)).lower(PARAMS, tx.init(PARAMS), grads).compile()


def _full_size_copies(compiled):
    text = compiled.as_text()
    entry = text[text.index("ENTRY") :]
    shapes = "|".join(",".join(map(str, x.shape)) for x in jax.tree.leaves(PARAMS))
    return re.findall(rf"= f32\[(?:{shapes})\]\S* copy\(", entry)


@pytest.mark.parametrize("name", sorted(IN_PLACE))
def test_step_is_in_place(name):
    compiled = _compiled_step(IN_PLACE[name]())
    assert _full_size_copies(compiled) == []
    # only scalars (bias corrections, norms) may be temporaries
    assert compiled.memory_analysis().temp_size_in_bytes < LEAF_BYTES


@pytest.mark.parametrize("name", sorted(WITH_TEMPORARIES))
def test_step_temporaries_are_bounded(name):
    factory, per_leaf = WITH_TEMPORARIES[name]
    compiled = _compiled_step(factory())
    assert _full_size_copies(compiled) == []
    # slack: scalars, and the squared 1-D leaf (p * p and g * g) that feeds a norm
    slack = 2 * LEAF_BYTES + 1024
    assert compiled.memory_analysis().temp_size_in_bytes < per_leaf * PARAM_BYTES + slack


def test_rprop_without_the_marker_would_copy_the_state():
    """The check above can fail: the plain formulation of Rprop's leaf update (new step and
    kept gradient recomputed in the parameter update) compiles to a copy of the state."""

    def leaf(p, g, prev, step):
        agree = g * prev
        new = jnp.clip(step * jnp.where(agree > 0, 1.2, jnp.where(agree < 0, 0.5, 1.0)), 1e-6, 50)
        kept = jnp.where(agree < 0, 0.0, g)
        return p - new * jnp.sign(kept), kept, new

    def step(params, state, grads):
        out = jax.tree.map(leaf, params, grads, *state)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], params, out)  # noqa: E731
        return pick(0), (pick(1), pick(2))

    state = (jax.tree.map(jnp.zeros_like, PARAMS), jax.tree.map(jnp.ones_like, PARAMS))
    compiled = jax.jit(step, donate_argnums=(0, 1)).lower(PARAMS, state, PARAMS).compile()
    assert len(_full_size_copies(compiled)) > 0


def test_computed_once_is_the_identity():
    x = jnp.array([1.5, -0.0, 3e-38, 7.0])
    finite = jnp.array([2.0, 0.0, 1e30, -5.0])
    out = oc._core.computed_once(x, finite)
    assert out.dtype == x.dtype
    assert jnp.array_equal(out, x)
    assert jnp.array_equal(jnp.signbit(out), jnp.signbit(x))
