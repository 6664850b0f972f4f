"""Parameter averaging: tail, Polyak-Ruppert, EMA; reading the average back."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc


def _sgd_run(averager, steps=9):
    rng = np.random.default_rng(0)
    tx = optax.chain(oc.sgd(0.1), averager)
    w = jnp.array([1.0, -1.0])
    state, iterates = tx.init(w), []
    for _ in range(steps):
        g = jnp.asarray(rng.normal(size=2), jnp.float32) + w
        u, state = tx.update(g, state, w)
        w = optax.apply_updates(w, u)
        iterates.append(np.asarray(w))
    return np.stack(iterates), state


@pytest.mark.parametrize("steps", [2, 4, 9])
def test_tail_average_is_the_mean_of_the_last_window_iterates(steps):
    iterates, state = _sgd_run(oc.tail_average(4), steps)
    np.testing.assert_allclose(oc.averaged_params(state), iterates[-4:].mean(0), rtol=1e-6)


def test_polyak_average_from_start_step():
    iterates, state = _sgd_run(oc.polyak_average(start_step=3))
    np.testing.assert_allclose(oc.averaged_params(state), iterates[3:].mean(0), rtol=1e-5)


def test_ema_params():
    iterates, state = _sgd_run(oc.ema_params(0.7), 5)
    avg = np.array([1.0, -1.0])
    for w in iterates:
        avg = 0.7 * avg + 0.3 * w
    np.testing.assert_allclose(oc.averaged_params(state), avg, rtol=1e-6)


def test_averaged_params_without_an_averager_is_an_error():
    tx = oc.sgd(0.1)
    with pytest.raises(ValueError, match="averaging|tail_average"):
        oc.averaged_params(tx.init(jnp.zeros(2)))


def test_bad_windows():
    with pytest.raises(ValueError, match="window"):
        oc.tail_average(0)
    with pytest.raises(ValueError, match="start_step"):
        oc.polyak_average(-1)


@pytest.mark.parametrize(
    "factory",
    [
        lambda: oc.tail_average(2),
        lambda: oc.polyak_average(1),
        lambda: oc.ema_params(lambda t: 0.5 + 0.1 * t.astype(jnp.float32)),
        lambda: oc.ema_params(0.5, accumulator_dtype=jnp.float32),  # made complex64
    ],
)
def test_complex_average_equals_the_average_of_stacked_real_and_imaginary_parts(factory):
    """Averaging is linear: on complex iterates it is the average of (re, im) as reals."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4, 3)) + 1j * rng.normal(size=(4, 3))
    steps = [rng.normal(size=3) + 1j * rng.normal(size=3) for _ in range(3)]

    def run(w, updates):
        tx = factory()
        state = tx.init(w)
        for u in updates:
            out, state = tx.update(u, state, w)
            np.testing.assert_array_equal(out, u)
            w = optax.apply_updates(w, u)
        return oc.averaged_params(state)

    w0 = jnp.asarray(z[0], jnp.complex64)
    complex_avg = run(w0, [jnp.asarray(s, jnp.complex64) for s in steps])
    assert complex_avg.dtype == jnp.complex64
    stack = lambda x: jnp.asarray(np.concatenate([x.real, x.imag]), jnp.float32)  # noqa: E731
    real_avg = run(stack(z[0]), [stack(s) for s in steps])
    np.testing.assert_allclose(complex_avg.real, real_avg[:3], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(complex_avg.imag, real_avg[3:], rtol=1e-6, atol=1e-7)


def test_ema_params_closed_form():
    tx = oc.ema_params(0.5)
    w = jnp.array([0.0])
    state = tx.init(w)
    for u in (4.0, 4.0):
        _, state = tx.update(jnp.array([u]), state, w)
        w = w + u
    np.testing.assert_allclose(oc.averaged_params(state), [0.5 * (0.5 * 4.0) + 0.5 * 8.0])
