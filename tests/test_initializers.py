"""LSUV, geometric-mean variance and Fixup scaling."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optchain import initializers as init


class Net(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Conv(8, (3, 3), name="conv")(x)
        x = nn.relu(x).reshape(x.shape[0], -1)
        x = jnp.tanh(nn.Dense(64, name="hidden")(x))
        x = nn.Dense(32, name="wide")(x)
        return nn.Dense(10, name="head")(jax.nn.gelu(x))


def _variances(model, params, batch):
    _, state = model.apply(
        {"params": params}, batch, capture_intermediates=True, mutable=["intermediates"]
    )
    inter = state["intermediates"]
    return {
        name: float(jnp.var(inter[name]["__call__"][0]))
        for name in ("conv", "hidden", "wide", "head")
    }


def test_lsuv_gives_unit_output_variance_per_layer():
    model = Net()
    batch = jax.random.normal(jax.random.PRNGKey(1), (128, 8, 8, 1)) * 3.0
    params = model.init(jax.random.PRNGKey(0), batch)["params"]
    before = _variances(model, params, batch)
    assert max(abs(v - 1) for v in before.values()) > 0.1  # default init is not unit-variance here
    new = init.lsuv(model, params, batch, tolerance=0.05)
    after = _variances(model, new, batch)
    assert all(abs(v - 1.0) < 0.05 for v in after.values()), after
    assert float(jnp.max(jnp.abs(new["hidden"]["bias"]))) == 0.0
    # the start is orthogonal: columns of the rescaled kernel stay mutually orthogonal
    k = np.asarray(new["wide"]["kernel"])
    gram = k.T @ k
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-4)


def test_lsuv_errors_without_kernels():
    class NoKernel(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x * self.param("s", nn.initializers.ones, ())

    with pytest.raises(ValueError, match="kernel"):
        init.lsuv(NoKernel(), {"s": jnp.ones(())}, jnp.ones((2, 2)))


@pytest.mark.parametrize("shape", [(300, 120), (3, 3, 64, 32)])
def test_geometric_mean_variance(shape):
    w = init.geometric_mean_init(2.0)(jax.random.PRNGKey(0), shape)
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    np.testing.assert_allclose(float(jnp.var(w)), 2.0 / np.sqrt(fan_in * fan_out), rtol=0.05)
    with pytest.raises(ValueError, match="scale"):
        init.geometric_mean_init(0.0)


def test_fixup_rescale():
    params = {
        "stem": {"kernel": jnp.ones((4, 4))},
        "block_0": {
            "conv1": {"kernel": jnp.ones((4, 4)), "bias": jnp.ones(4)},
            "conv2": {"kernel": jnp.ones((4, 4))},
        },
        "block_1": {"conv1": {"kernel": jnp.ones((4, 4))}, "conv2": {"kernel": jnp.ones((4, 4))}},
    }
    out = init.fixup_rescale(
        params, "block_*/**", "block_*/conv2/kernel", num_branches=2, layers_per_branch=3
    )
    factor = 2 ** (-1 / 4)
    np.testing.assert_allclose(out["block_0"]["conv1"]["kernel"], factor)
    np.testing.assert_array_equal(out["block_1"]["conv2"]["kernel"], 0.0)
    np.testing.assert_array_equal(out["stem"]["kernel"], 1.0)
    np.testing.assert_array_equal(out["block_0"]["conv1"]["bias"], 1.0)
    assert init.fixup_scale(16, 2) == 0.25
    with pytest.raises(ValueError, match="matched"):
        init.fixup_rescale(params, "nothing/**", "block_*/conv2/kernel", 2, 3)
