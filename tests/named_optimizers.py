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
    # the zoo (issue 19): optax's remaining aliases
    "lion": (oc.lion, {"learning_rate": 0.001, "weight_decay": 0.01}),
    "adabelief": (oc.adabelief, {"learning_rate": 0.01, "nesterov": True}),
    "yogi": (oc.yogi, {"learning_rate": 0.01}),
    "radam": (oc.radam, {"learning_rate": 0.01}),
    "adamaxw": (oc.adamaxw, {"learning_rate": 0.01, "weight_decay": 0.01}),
    "nadamw": (oc.nadamw, {"learning_rate": 0.01, "weight_decay": 0.01}),
    "adan": (oc.adan, {"learning_rate": 0.01, "weight_decay": 0.01}),
    "novograd": (oc.novograd, {"learning_rate": 0.01}),
    "fromage": (oc.fromage, {"learning_rate": 0.01}),
    "optimistic_gradient_descent": (
        oc.optimistic_gradient_descent,
        {"learning_rate": 0.01, "beta": 0.5},
    ),
    "optimistic_adam": (oc.optimistic_adam, {"learning_rate": 0.01}),
    "optimistic_adam_v2": (oc.optimistic_adam_v2, {"learning_rate": 0.01}),
    "adafactor": (
        oc.adafactor,
        {"learning_rate": 0.01, "min_dim_size_to_factor": 2, "momentum": 0.9},
    ),
    "adafactor_torch": (oc.adafactor_torch, {"learning_rate": 0.01, "weight_decay": 0.01}),
    "sm3": (oc.sm3, {"learning_rate": 0.01}),
    # torch's ASGD (tests/test_zoo_torch.py), averaging from its third step on
    "asgd": (oc.asgd, {"learning_rate": 0.01, "t0": 2}),
    # without its line search (which needs value=, grad=, value_fn=: tests/test_zoo_second_order.py)
    "lbfgs": (oc.lbfgs, {"learning_rate": 0.1, "memory_size": 3, "linesearch": None}),
    # polyak_sgd needs value= at every step: tests/test_zoo_extrapolating.py and reliability_rows
    # MXNet's remaining optimizers (tests/test_zoo_mxnet.py)
    "ftrl": (oc.ftrl, {"learning_rate": 0.1, "weight_decay": 0.01}),
    # lamda * g**2 * lr / (1 - momentum) < 1 keeps the float16 problem's g = 300 stable
    "dcasgd": (
        oc.dcasgd,
        {"learning_rate": 0.02, "momentum": 0.9, "lamda": 1e-4, "weight_decay": 0.01},
    ),
    "sgld": (oc.sgld, {"learning_rate": 0.001, "key": 2}),
    # optax.contrib (issue 20); sophia, momo and momo_adam need obj_fn= / value= at every step
    # (tests/reliability_rows.py), dpsgd per-example gradients (tests/test_contrib_low_rank_private.py)
    "adopt": (oc.adopt, {"learning_rate": 0.01}),
    "acprop": (oc.acprop, {"learning_rate": 0.01, "weight_decay": 0.01}),
    "ademamix": (
        oc.ademamix,
        {"learning_rate": 0.01, "b3": 0.999, "alpha": 2.0, "weight_decay": 0.01},
    ),
    "simplified_ademamix": (
        oc.simplified_ademamix,
        {"learning_rate": 0.001, "b1": 0.9, "alpha": 1.0},
    ),
    "madgrad": (oc.madgrad, {"learning_rate": 0.01, "weight_decay": 0.01}),
    "prodigy": (oc.prodigy, {"estim_lr0": 0.05}),
    "dadapt_adamw": (oc.dadapt_adamw, {"estim_lr0": 0.05}),
    "mechanize": (oc.mechanize, {"base_optimizer": oc.adam(1.0), "s_init": 1e-2}),
    "dog": (oc.dog, {"init_step": ("distance", 0.1)}),
    "dowg": (oc.dowg, {"init_estim_sq_dist": 0.01}),
    "cocob": (oc.cocob, {"alpha": 50.0, "weight_decay": 0.01}),
    "schedule_free_adamw": (oc.schedule_free_adamw, {"learning_rate": 0.05}),
    "schedule_free_sgd": (oc.schedule_free_sgd, {"learning_rate": 0.1}),
    "sam": (
        oc.sam,
        {"optimizer": oc.sgd(0.1), "adv_optimizer": oc.adversarial_perturbation(0.05)},
    ),
    "muon": (oc.muon, {"learning_rate": 0.02}),
    "galore": (oc.galore, {"learning_rate": 0.05, "rank": 1, "update_proj_gap": 10}),
}

NAMED = {name: functools.partial(factory, **kwargs) for name, (factory, kwargs) in CALLS.items()}


def _lookahead(finite_guard: bool = False):
    """A wrapper: optchain.lookahead takes LookaheadParams(fast, slow); on a plain tree through
    optchain.slow_weights_in_state (the slow weights in the state). ``finite_guard`` guards the
    whole step (fast and slow weights), as a named optimizer's does."""
    tx = oc.slow_weights_in_state(oc.lookahead(oc.sgd(0.1, momentum=0.9), 3, 0.5))
    return oc.skip_nonfinite(tx) if finite_guard else tx


NAMED["lookahead"] = _lookahead

# left out of the 8-device sharding check (tests/sharding_check.py): Muon's Newton-Schulz
# products contract a sharded axis, where JAX's explicit sharding asks for an out_sharding
# (ShardingTypeError), not yet given (issue 21's matrix preconditioners); GaLore's SVD refuses
# operands sharded on their matrix axes (ShardingTypeError) likewise
NOT_SHARDED = {"muon", "galore"}
