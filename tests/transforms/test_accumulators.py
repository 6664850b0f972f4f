"""scale_by_sum_of_squares and scale_by_adadelta: closed forms over three steps."""

import numpy as np
from _scaling_tables import GRADS, _run

import optchain as oc


def test_sum_of_squares_both_conventions_and_zero_accumulator():
    outs, _ = _run(oc.scale_by_sum_of_squares(0.0, 1e-7))
    np.testing.assert_array_equal(outs[0][2], 0.0)  # no gradient yet: optax's 0, not 0/0
    s = np.zeros(3)
    outs_torch, _ = _run(oc.scale_by_sum_of_squares(0.0, 1e-10, eps_in_sqrt=False))
    for g, out in zip(GRADS, outs_torch):
        s = s + g**2
        np.testing.assert_allclose(out, g / (np.sqrt(s) + 1e-10), rtol=1e-6)


def test_adadelta_matches_zeilers_rule():
    rho, eps = 0.9, 1e-6
    outs, _ = _run(oc.scale_by_adadelta(rho, eps))
    eg, ex = np.zeros(3), np.zeros(3)
    for g, out in zip(GRADS, outs):
        eg = rho * eg + (1 - rho) * g**2
        dx = np.sqrt(ex + eps) / np.sqrt(eg + eps) * g
        ex = rho * ex + (1 - rho) * dx**2
        np.testing.assert_allclose(out, dx, rtol=1e-5)
