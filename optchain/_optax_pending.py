"""optax's optimizers and fused transforms that optchain does not build as recipes yet.

They are optax's own objects, re-exported so that ``import optchain as optax`` works; the
optimizer-zoo issue replaces each with a chain of optchain primitives that keeps optax's name,
signature, values and state fields, and removes it from this list.
"""

from optax import (  # noqa: F401  (re-exported by optchain)
    ScaleByAdaDeltaState,
    ScaleByAdamState,
    ScaleByAmsgradState,
    ScaleByBacktrackingLinesearchState,
    ScaleByRpropState,
    ScaleByRssState,
    ScaleByRStdDevState,
    ScaleByTrustRatioState,
    ScaleByZoomLinesearchState,
    ZoomLinesearchInfo,
    scale_by_backtracking_linesearch,
    scale_by_zoom_linesearch,
    value_and_grad_from_state,
)

__all__ = [
    "ScaleByAdaDeltaState",
    "ScaleByAdamState",
    "ScaleByAmsgradState",
    "ScaleByBacktrackingLinesearchState",
    "ScaleByRStdDevState",
    "ScaleByRpropState",
    "ScaleByRssState",
    "ScaleByTrustRatioState",
    "ScaleByZoomLinesearchState",
    "ZoomLinesearchInfo",
    "scale_by_backtracking_linesearch",
    "scale_by_zoom_linesearch",
    "value_and_grad_from_state",
]
