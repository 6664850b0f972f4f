"""The optchain settings that reproduce each committed reference trajectory.

Keys are the case names in ``tests/fixtures/*_trajectories.npz`` (made by
``tools/make_fixtures.py``); each value builds the optchain optimizer configured to
reproduce that reference system's optimizer.
"""

import numpy as np

import optchain as oc

SHAPES = {"w": (3, 4), "b": (5,)}

TORCH = {
    "sgd": lambda: oc.sgd(0.05),
    "sgd_momentum": lambda: oc.sgd(0.05, 0.9),
    "sgd_dampening_wd": lambda: oc.sgd(0.05, 0.9, dampening=0.3, weight_decay=0.01),
    "sgd_nesterov_wd": lambda: oc.sgd(0.05, 0.9, nesterov=True, weight_decay=0.01),
    "adagrad": lambda: oc.adagrad(0.1, 0.0, 1e-10, eps_in_sqrt=False),
    "adagrad_init_wd": lambda: oc.adagrad(0.1, 0.5, 1e-6, eps_in_sqrt=False, weight_decay=0.01),
    "rmsprop": lambda: oc.rmsprop(0.01, decay=0.99, eps=1e-8, eps_in_sqrt=False),
    "rmsprop_centered": lambda: oc.rmsprop(0.01, 0.99, 1e-8, eps_in_sqrt=False, centered=True),
    "rmsprop_momentum_wd": lambda: oc.rmsprop(
        0.01, 0.99, 1e-8, eps_in_sqrt=False, momentum=0.9, weight_decay=0.01
    ),
    "rmsprop_centered_momentum": lambda: oc.rmsprop(
        0.01, 0.9, 1e-8, eps_in_sqrt=False, centered=True, momentum=0.5
    ),
    "adadelta": lambda: oc.adadelta(1.0),
    "adadelta_wd": lambda: oc.adadelta(0.5, rho=0.95, eps=1e-5, weight_decay=0.01),
    "adam": lambda: oc.adam(0.01),
    "adam_wd": lambda: oc.adam(0.01, 0.8, 0.99, 1e-6, weight_decay=0.01),
    "adamw": lambda: oc.adamw(0.01, weight_decay=0.01),
    "amsgrad": lambda: oc.amsgrad(0.01, 0.9, 0.99, max_of="raw"),
    "adamax": lambda: oc.adamax(0.01),
    "adamax_wd": lambda: oc.adamax(0.02, 0.8, 0.95, weight_decay=0.01),
    "rprop": lambda: oc.rprop(0.01, torch_compatible=True),
    "rprop_custom": lambda: oc.rprop(0.05, 0.3, 1.5, 1e-3, 0.2, torch_compatible=True),
}

MXNET = {
    "ftml": lambda: oc.ftml(0.01),
    "ftml_custom": lambda: oc.ftml(0.05, 0.5, 0.99, 1e-6),
    "ftml_wd_clip": lambda: oc.ftml(0.01, weight_decay=0.01, clip_gradient=1.0),
    "signum": lambda: oc.signum(0.01, 0.9),
    "signum_wd": lambda: oc.signum(0.01, 0.8, weight_decay=0.01, wd_lh=0.05),
    "signsgd": lambda: oc.sign_sgd(0.01),
    "signsgd_wd": lambda: oc.sign_sgd(0.01, wd_lh=0.01),
    "nag": lambda: oc.sgd(0.05, 0.9, nesterov=True),
}


def unflatten(row):
    out, start = {}, 0
    for key, shape in SHAPES.items():
        size = int(np.prod(shape))
        out[key] = np.asarray(row[start : start + size]).reshape(shape)
        start += size
    return out
