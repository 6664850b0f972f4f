"""scale_by_rms and scale_by_stddev: both epsilon conventions, the centered variance."""

import numpy as np
import pytest
from _scaling_tables import _SCHEDULE, GRADS, _run

import optchain as oc


@pytest.mark.parametrize("eps_in_sqrt", [True, False])
def test_scale_by_rms_epsilon_conventions(eps_in_sqrt):
    rho, eps, init = 0.9, 0.1, 0.5
    outs, state = _run(oc.scale_by_rms(rho, eps, eps_in_sqrt=eps_in_sqrt, initial_scale=init))
    nu = np.full(3, init)
    for g, out in zip(GRADS, outs):
        nu = rho * nu + (1 - rho) * g**2
        denom = np.sqrt(nu + eps) if eps_in_sqrt else np.sqrt(nu) + eps
        np.testing.assert_allclose(out, g / denom, rtol=1e-6)
    np.testing.assert_allclose(state.nu, nu, rtol=1e-6)


@pytest.mark.parametrize("eps_in_sqrt", [True, False])
def test_scale_by_stddev_is_centered(eps_in_sqrt):
    rho, eps = 0.8, 1e-3
    outs, _ = _run(oc.scale_by_stddev(rho, eps, eps_in_sqrt=eps_in_sqrt))
    mu, nu = np.zeros(3), np.zeros(3)
    for g, out in zip(GRADS, outs):
        mu, nu = rho * mu + (1 - rho) * g, rho * nu + (1 - rho) * g**2
        var = nu - mu**2
        denom = np.sqrt(var + eps) if eps_in_sqrt else np.sqrt(var) + eps
        np.testing.assert_allclose(out, g / denom, rtol=1e-5)


def test_scale_by_rms_rejects_a_scheduled_decay_with_bias_correction():
    with pytest.raises(ValueError, match="bias_correction"):
        oc.scale_by_rms(_SCHEDULE, bias_correction=True)
    with pytest.raises(ValueError, match="bias_correction"):
        oc.scale_by_stddev(_SCHEDULE, bias_correction=True)
    oc.scale_by_rms(_SCHEDULE)  # fine without
