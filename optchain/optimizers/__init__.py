"""Named optimizers: recipes that chain public primitives and nothing else, one module per family.

Where optax has the optimizer, the name, keyword names and defaults are optax's, and the
trajectory matches optax 0.2.8 (except ``rprop``, see its docstring). Settings that
reproduce torch.optim 2.13 and Apache MXNet 1.9.1 are given in each docstring and tested
against committed reference trajectories. Every factory checks its arguments by their
public names and takes ``finite_guard`` (see :func:`named_optimizer`).
"""

from optchain.optimizers._common import named_optimizer
from optchain.optimizers.adam import adam, adamw, nadam, scale_by_adam
from optchain.optimizers.adam_variants import adamax, amsgrad, scale_by_adamax, scale_by_amsgrad
from optchain.optimizers.adaptive import adadelta, adagrad, rmsprop, scale_by_rss
from optchain.optimizers.adaptive_rates import delta_bar_delta, ftml, rprop
from optchain.optimizers.distributed import dgc_sgd, signum_majority
from optchain.optimizers.large_batch import lamb, lars
from optchain.optimizers.sgd import noisy_sgd, sgd
from optchain.optimizers.sign import scale_by_sign, sign_sgd, signum

__all__ = [
    "named_optimizer",
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
]
