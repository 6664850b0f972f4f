"""Build your own optimizer by swapping a link in a recipe.

optchain.adam is divide(debiased first moment, debiased RMS) then the learning rate. Here the
RMS denominator is replaced by ``sign`` (a debiased Signum), and the noise and clipping links
are added in front, and each variant trains the same ill-conditioned problem.

    python examples/custom_optimizer.py --steps 400
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax

import optchain
from optchain import schedules


def adam_by_hand(lr, b1=0.9, b2=0.999, eps=1e-8):
    return optax.chain(
        optchain.divide(
            optax.chain(optchain.first_moment(b1), optchain.bias_correction(b1)),
            optax.chain(optchain.second_moment(b2), optchain.bias_correction(b2), optchain.sqrt()),
            eps=eps,
        ),
        optchain.scale_by_learning_rate(lr),
    )


def adam_with_sign(lr, b1=0.9):
    # the same numerator, ``sign`` in place of the division by the RMS
    return optax.chain(
        optchain.first_moment(b1),
        optchain.bias_correction(b1),
        optchain.sign(),
        optchain.scale_by_learning_rate(lr),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args(argv)

    h = jnp.logspace(0, 3, 20)  # curvatures from 1 to 1000

    def loss(w):
        return 0.5 * jnp.sum(h * (w - 1.0) ** 2)

    variants = {
        "adam (named)": optchain.adam(0.05),
        "adam (by hand)": adam_by_hand(0.05),
        "adam with sign instead of RMS": adam_with_sign(schedules.exponential(0.05, 0.5, 50)),
        "noise + clipping + adam": optax.chain(
            optchain.add_noise(0.01, 0.55, key=0),
            optchain.clip_by_global_norm(100.0),
            optchain.adam(0.05),
        ),
    }
    finals = {}
    for name, tx in variants.items():

        def body(carry, _, tx=tx):
            w, s = carry
            u, s = tx.update(jax.grad(loss)(w), s, w)
            return (optax.apply_updates(w, u), s), None

        w0 = jnp.zeros(20)
        (w, _), _ = jax.jit(lambda w: jax.lax.scan(body, (w, tx.init(w)), None, args.steps))(w0)
        finals[name] = float(loss(w))
        print(f"{name:<32} loss {finals[name]:.3e}")
    return finals


if __name__ == "__main__":
    main()
