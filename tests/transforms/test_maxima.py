"""running_max and infinity_norm: closed forms, AMSGrad's two placements, complex moments."""

import jax.numpy as jnp
import numpy as np
import optax
from _scaling_tables import GRADS, _run, _three_steps

import optchain as oc


def test_running_max_and_its_position_in_the_chain():
    outs, _ = _run(oc.running_max())
    np.testing.assert_allclose(outs[-1], np.maximum.reduce([np.zeros(3), *GRADS]))
    # optax's AMSGrad takes the max of the *corrected* moment, torch's of the raw one.
    b2 = 0.5
    corrected = optax.chain(oc.second_moment(b2), oc.bias_correction(b2), oc.running_max())
    raw = optax.chain(oc.second_moment(b2), oc.running_max(), oc.bias_correction(b2))
    grads = [np.array([4.0]), np.array([0.1]), np.array([0.1])]
    c_outs, _ = _run(corrected, [np.repeat(g, 3) for g in grads])
    r_outs, _ = _run(raw, [np.repeat(g, 3) for g in grads])
    v1 = (1 - b2) * 16  # raw v after step 1 = 8; corrected = 16
    np.testing.assert_allclose(c_outs[2][0], v1 / (1 - b2), rtol=1e-6)  # frozen at 16
    np.testing.assert_allclose(r_outs[2][0], v1 / (1 - b2**3), rtol=1e-6)  # 8 / 0.875


def test_infinity_norm():
    outs, _ = _run(oc.infinity_norm(0.5, eps=0.0))
    u = np.zeros(3)
    for g, out in zip(GRADS, outs):
        u = np.maximum(0.5 * u, np.abs(g))
        np.testing.assert_allclose(out, u)


def test_infinity_norm_running_max_and_sqrt_on_real_valued_complex_moments():
    g = [jnp.asarray(x, jnp.complex64) for x in ([3 + 4j, -1j], [0.5, 2 + 0j])]
    outs, _ = _three_steps(oc.infinity_norm(0.5, eps=0.0), jnp.zeros(2, jnp.complex64), g)
    np.testing.assert_allclose(outs[1], [2.5, 2.0])
    assert outs[1].dtype == jnp.complex64
    v = [jnp.asarray(x, jnp.complex64) for x in ([4.0, 1.0], [1.0, 9.0])]
    outs, _ = _three_steps(oc.running_max(), jnp.zeros(2, jnp.complex64), v)
    np.testing.assert_allclose(outs[1], [4.0, 9.0])
    outs, _ = _three_steps(oc.sqrt(), jnp.zeros(2, jnp.complex64), v)
    np.testing.assert_allclose(outs[1], [1.0, 3.0])
