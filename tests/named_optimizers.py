"""Every named optimizer with moderate hyperparameters: the table the generic tests share.

Test modules extend it with the variants they need (``{**NAMED, "adam_schedule": ...}``).
"""

import optchain as oc

NAMED = {
    "sgd": lambda: oc.sgd(0.02, momentum=0.9, nesterov=True),
    "adagrad": lambda: oc.adagrad(0.1),
    "rmsprop": lambda: oc.rmsprop(0.01, centered=True, momentum=0.5),
    "adadelta": lambda: oc.adadelta(1.0),
    "adam": lambda: oc.adam(0.01),
    "adamw": lambda: oc.adamw(0.01, weight_decay=0.01),
    "amsgrad": lambda: oc.amsgrad(0.01),
    "nadam": lambda: oc.nadam(0.01),
    "adamax": lambda: oc.adamax(0.01),
    "ftml": lambda: oc.ftml(0.01),
    "sign_sgd": lambda: oc.sign_sgd(0.001),
    "signum": lambda: oc.signum(0.001),
    "noisy_sgd": lambda: oc.noisy_sgd(0.01, key=2),
    "delta_bar_delta": lambda: oc.delta_bar_delta(0.01),
    "rprop": lambda: oc.rprop(0.01),
    "lars": lambda: oc.lars(0.1, weight_decay=1e-4, trust_ratio_mask=oc.layerwise_mask),
    "lamb": lambda: oc.lamb(0.01, weight_decay=0.01),
}
