"""Every named optimizer with moderate hyperparameters: the table the generic tests share.

``CALLS[name]`` is ``(factory, kwargs)``; ``NAMED[name]`` builds it (a ``functools.partial``,
so ``NAMED[name](finite_guard=True)`` adds a keyword). Test modules extend it with the variants
they need (``{**NAMED, "adam_schedule": ...}``).
"""

import functools

import optchain as oc

CALLS = {
    "sgd": (oc.sgd, {"learning_rate": 0.02, "momentum": 0.9, "nesterov": True}),
    "adagrad": (oc.adagrad, {"learning_rate": 0.1}),
    "rmsprop": (oc.rmsprop, {"learning_rate": 0.01, "centered": True, "momentum": 0.5}),
    "adadelta": (oc.adadelta, {"learning_rate": 1.0}),
    "adam": (oc.adam, {"learning_rate": 0.01}),
    "adamw": (oc.adamw, {"learning_rate": 0.01, "weight_decay": 0.01}),
    "amsgrad": (oc.amsgrad, {"learning_rate": 0.01}),
    "nadam": (oc.nadam, {"learning_rate": 0.01}),
    "adamax": (oc.adamax, {"learning_rate": 0.01}),
    "ftml": (oc.ftml, {"learning_rate": 0.01}),
    "sign_sgd": (oc.sign_sgd, {"learning_rate": 0.001}),
    "signum": (oc.signum, {"learning_rate": 0.001}),
    "noisy_sgd": (oc.noisy_sgd, {"learning_rate": 0.01, "key": 2}),
    "delta_bar_delta": (oc.delta_bar_delta, {"learning_rate": 0.01}),
    "rprop": (oc.rprop, {"learning_rate": 0.01}),
    "lars": (
        oc.lars,
        {"learning_rate": 0.1, "weight_decay": 1e-4, "trust_ratio_mask": oc.layerwise_mask},
    ),
    "lamb": (oc.lamb, {"learning_rate": 0.01, "weight_decay": 0.01}),
}

NAMED = {name: functools.partial(factory, **kwargs) for name, (factory, kwargs) in CALLS.items()}
