"""The quartic bowl the optax-parity tests run both libraries on, and the jitted run itself
(shared by tests/test_zoo_adam_like.py and the tests/test_contrib_*.py files)."""

import jax
import jax.numpy as jnp
import optax


def _abs_sq(x):
    return jnp.real(x * jnp.conj(x))


def loss(params):
    """A quartic bowl: |x - 0.1|**2 + 0.1 |x|**4 per entry (real for complex leaves)."""
    return sum(jnp.sum(_abs_sq(x - 0.1) + 0.1 * _abs_sq(x) ** 2) for x in jax.tree.leaves(params))


def run_steps(tx, params, steps):
    """``steps`` steps of ``tx`` on :func:`loss` in one ``lax.scan``: final params and state."""

    @jax.jit
    def run(params):
        def step(carry, _):
            p, s = carry
            g = jax.tree.map(jnp.conj, jax.grad(loss)(p))  # optax's convention for complex
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
        return p, s

    return run(params)
