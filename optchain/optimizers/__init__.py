"""Named optimizers: recipes that chain public primitives and nothing else, one module per family.

Where optax has the optimizer, the name, keyword names and defaults are optax's, and the
trajectory matches optax 0.2.8 (except ``rprop``, see its docstring). Settings that
reproduce torch.optim 2.13 and Apache MXNet 1.9.1 are given in each docstring and tested
against committed reference trajectories. Every factory checks its arguments by their
public names and takes ``finite_guard`` (see :func:`named_optimizer`).
"""

from optchain.optimizers import (
    adam as _adam,
)
from optchain.optimizers import (
    adam_fixes as _adam_fixes,
)
from optchain.optimizers import (
    adam_like as _adam_like,
)
from optchain.optimizers import (
    adam_variants as _adam_variants,
)
from optchain.optimizers import (
    adaptive as _adaptive,
)
from optchain.optimizers import (
    adaptive_rates as _adaptive_rates,
)
from optchain.optimizers import (
    ademamix as _ademamix,
)
from optchain.optimizers import (
    averaged as _averaged,
)
from optchain.optimizers import (
    distributed as _distributed,
)
from optchain.optimizers import (
    extrapolating as _extrapolating,
)
from optchain.optimizers import (
    large_batch as _large_batch,
)
from optchain.optimizers import (
    layerwise as _layerwise,
)
from optchain.optimizers import (
    learning_rate_free as _learning_rate_free,
)
from optchain.optimizers import (
    loss_aware as _loss_aware,
)
from optchain.optimizers import (
    low_rank as _low_rank,
)
from optchain.optimizers import (
    memory_efficient as _memory_efficient,
)
from optchain.optimizers import (
    mxnet_zoo as _mxnet_zoo,
)
from optchain.optimizers import (
    orthogonalized as _orthogonalized,
)
from optchain.optimizers import (
    parameter_free as _parameter_free,
)
from optchain.optimizers import (
    polyak as _polyak,
)
from optchain.optimizers import (
    private as _private,
)
from optchain.optimizers import (
    rectified as _rectified,
)
from optchain.optimizers import (
    schedule_free as _schedule_free,
)
from optchain.optimizers import (
    second_order as _second_order,
)
from optchain.optimizers import (
    sgd as _sgd,
)
from optchain.optimizers import (
    sign as _sign,
)
from optchain.optimizers._common import named_optimizer
from optchain.optimizers.adam import *  # noqa: F403
from optchain.optimizers.adam_fixes import *  # noqa: F403
from optchain.optimizers.adam_like import *  # noqa: F403
from optchain.optimizers.adam_variants import *  # noqa: F403
from optchain.optimizers.adaptive import *  # noqa: F403
from optchain.optimizers.adaptive_rates import *  # noqa: F403
from optchain.optimizers.ademamix import *  # noqa: F403
from optchain.optimizers.averaged import *  # noqa: F403
from optchain.optimizers.distributed import *  # noqa: F403
from optchain.optimizers.extrapolating import *  # noqa: F403
from optchain.optimizers.large_batch import *  # noqa: F403
from optchain.optimizers.layerwise import *  # noqa: F403
from optchain.optimizers.learning_rate_free import *  # noqa: F403
from optchain.optimizers.loss_aware import *  # noqa: F403
from optchain.optimizers.low_rank import *  # noqa: F403
from optchain.optimizers.memory_efficient import *  # noqa: F403
from optchain.optimizers.mxnet_zoo import *  # noqa: F403
from optchain.optimizers.orthogonalized import *  # noqa: F403
from optchain.optimizers.parameter_free import *  # noqa: F403
from optchain.optimizers.polyak import *  # noqa: F403
from optchain.optimizers.private import *  # noqa: F403
from optchain.optimizers.rectified import *  # noqa: F403
from optchain.optimizers.schedule_free import *  # noqa: F403
from optchain.optimizers.second_order import *  # noqa: F403
from optchain.optimizers.sgd import *  # noqa: F403
from optchain.optimizers.sign import *  # noqa: F403

__all__ = ["named_optimizer"]
__all__ += _sgd.__all__
__all__ += _adaptive.__all__
__all__ += _adam.__all__
__all__ += _adam_variants.__all__
__all__ += _adam_like.__all__
__all__ += _adam_fixes.__all__
__all__ += _ademamix.__all__
__all__ += _rectified.__all__
__all__ += _adaptive_rates.__all__
__all__ += _sign.__all__
__all__ += _large_batch.__all__
__all__ += _loss_aware.__all__
__all__ += _learning_rate_free.__all__
__all__ += _distributed.__all__
__all__ += _extrapolating.__all__
__all__ += _layerwise.__all__
__all__ += _polyak.__all__
__all__ += _memory_efficient.__all__
__all__ += _second_order.__all__
__all__ += _schedule_free.__all__
__all__ += _mxnet_zoo.__all__
__all__ += _averaged.__all__
__all__ += _parameter_free.__all__
__all__ += _low_rank.__all__
__all__ += _private.__all__
__all__ += _orthogonalized.__all__
