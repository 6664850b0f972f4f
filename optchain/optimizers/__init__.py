"""Named optimizers: recipes that chain public primitives and nothing else, one module per family.

Where optax has the optimizer, the name, keyword names and defaults are optax's, and the
trajectory matches optax 0.2.8 (except ``rprop``, see its docstring). Settings that
reproduce torch.optim 2.13 and Apache MXNet 1.9.1 are given in each docstring and tested
against committed reference trajectories. Every factory checks its arguments by their
public names and takes ``finite_guard`` (see :func:`named_optimizer`).
"""

from optchain.optimizers._common import named_optimizer
from optchain.optimizers.adam import adam, adamw, nadam, scale_by_adam
from optchain.optimizers.adam_like import (
    adabelief,
    adamaxw,
    lion,
    nadamw,
    radam,
    scale_by_radam,
    scale_by_yogi,
    yogi,
)
from optchain.optimizers.adam_variants import adamax, amsgrad, scale_by_adamax, scale_by_amsgrad
from optchain.optimizers.adaptive import adadelta, adagrad, rmsprop, scale_by_rss
from optchain.optimizers.adaptive_rates import delta_bar_delta, ftml, rprop
from optchain.optimizers.distributed import dgc_sgd, signum_majority
from optchain.optimizers.extrapolating import (
    adan,
    optimistic_adam,
    optimistic_adam_v2,
    optimistic_gradient_descent,
)
from optchain.optimizers.large_batch import lamb, lars
from optchain.optimizers.layerwise import fromage, novograd
from optchain.optimizers.memory_efficient import adafactor, sm3
from optchain.optimizers.polyak import polyak_sgd
from optchain.optimizers.second_order import lbfgs
from optchain.optimizers.sgd import noisy_sgd, sgd
from optchain.optimizers.sign import scale_by_sign, sign_sgd, signum

__all__ = [
    "adan",
    "novograd",
    "fromage",
    "polyak_sgd",
    "optimistic_gradient_descent",
    "optimistic_adam",
    "optimistic_adam_v2",
    "named_optimizer",
    "lbfgs",
    "sgd",
    "noisy_sgd",
    "adagrad",
    "rmsprop",
    "adadelta",
    "scale_by_rss",
    "adam",
    "nadam",
    "adamw",
    "scale_by_adam",
    "amsgrad",
    "adamax",
    "scale_by_amsgrad",
    "scale_by_adamax",
    "lion",
    "adabelief",
    "yogi",
    "radam",
    "adamaxw",
    "nadamw",
    "scale_by_yogi",
    "scale_by_radam",
    "ftml",
    "delta_bar_delta",
    "rprop",
    "sign_sgd",
    "signum",
    "scale_by_sign",
    "lars",
    "lamb",
    "signum_majority",
    "dgc_sgd",
    "adafactor",
    "sm3",
]
