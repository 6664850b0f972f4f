"""Initializers for Flax: LSUV, the geometric-mean variance, and Fixup-style residual scaling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp

from optchain.groups import matches, path_string


def geometric_mean_init(
    scale: float = 1.0, distribution: Literal["normal", "truncated_normal", "uniform"] = "normal"
) -> Any:
    r"""Initializer with variance :math:`c / \sqrt{\text{fan\_in} \cdot \text{fan\_out}}`
    (``jax.nn.initializers.variance_scaling`` in ``fan_geo_avg`` mode), usable as a Flax
    ``kernel_init``.

    Example:
      >>> import jax
      >>> w = geometric_mean_init(2.0)(jax.random.PRNGKey(0), (400, 100))
      >>> round(float(w.var()) * (400 * 100) ** 0.5, 1)
      2.0
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return jax.nn.initializers.variance_scaling(scale, "fan_geo_avg", distribution)


def fixup_scale(num_branches: int, layers_per_branch: int) -> float:
    r"""Fixup's factor :math:`L^{-1/(2m-2)}` for :math:`L` residual branches of :math:`m` layers.

    Example:
      >>> round(fixup_scale(16, 2), 4)
      0.25

    References:
      Zhang, Dauphin and Ma, *Fixup Initialization: Residual Learning Without Normalization*,
      ICLR 2019.
    """
    if num_branches < 1 or layers_per_branch < 2:
        raise ValueError(
            f"need num_branches >= 1 and layers_per_branch >= 2, got {num_branches}, {layers_per_branch}"
        )
    return float(num_branches ** (-1.0 / (2 * layers_per_branch - 2)))


def fixup_rescale(
    params: Any,
    branch_patterns: str | Sequence[str],
    last_layer_patterns: str | Sequence[str],
    num_branches: int,
    layers_per_branch: int,
) -> Any:
    """Fixup-style start for residual branches: kernels whose path matches ``last_layer_patterns``
    are set to 0 (each branch starts as the identity), other kernels matching
    ``branch_patterns`` are multiplied by :func:`fixup_scale`. Patterns are the globs of
    :func:`optchain.param_groups`; leaves not named ``kernel`` are untouched.
    """
    factor = fixup_scale(num_branches, layers_per_branch)
    branch = (branch_patterns,) if isinstance(branch_patterns, str) else tuple(branch_patterns)
    last = (
        (last_layer_patterns,)
        if isinstance(last_layer_patterns, str)
        else tuple(last_layer_patterns)
    )
    hits = {"branch": 0, "last": 0}

    def visit(path, leaf):
        name = path_string(path)
        if not name.endswith("kernel"):
            return leaf
        if any(matches(p, name) for p in last):
            hits["last"] += 1
            return jnp.zeros_like(leaf)
        if any(matches(p, name) for p in branch):
            hits["branch"] += 1
            return leaf * jnp.asarray(factor, leaf.dtype)
        return leaf

    out = jax.tree_util.tree_map_with_path(visit, params)
    if not hits["last"] or not hits["branch"]:
        raise ValueError(
            f"fixup_rescale: patterns matched {hits['branch']} branch and {hits['last']} last-layer kernels"
        )
    return out


def _kernel_modules(params: Any) -> list[tuple[str, ...]]:
    found = []

    def walk(tree, prefix):
        if isinstance(tree, dict) or hasattr(tree, "items"):
            if "kernel" in tree:
                found.append(prefix)
            for k, v in tree.items():
                if k != "kernel":
                    walk(v, (*prefix, k))

    walk(params, ())
    return found


def _set(tree: Any, path: tuple[str, ...], leaf_name: str, value: Any) -> Any:
    tree = dict(tree)
    if not path:
        tree[leaf_name] = value
        return tree
    tree[path[0]] = _set(tree[path[0]], path[1:], leaf_name, value)
    return tree


def _get(tree: Any, path: tuple[str, ...]) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def lsuv(
    model: Any,
    params: Any,
    batch: Any,
    *,
    tolerance: float = 0.1,
    max_iterations: int = 10,
    orthogonal: bool = True,
    key: Any = 0,
    **apply_kwargs: Any,
) -> Any:
    r"""Layer-sequential unit-variance initialisation for a Flax Linen model.

    Starts every kernel from an orthogonal matrix (biases 0), then, layer by layer in the order
    the forward pass calls them, divides the kernel by the standard deviation of that layer's
    output on ``batch`` until the variance is within ``tolerance`` of 1 (at most
    ``max_iterations`` passes per layer). Layers are the modules with a ``kernel`` parameter
    (Dense, Conv, ...); their outputs are read with ``capture_intermediates``.

    Args:
      model: a ``flax.linen.Module``.
      params: its ``params`` collection.
      batch: the input batch (positional argument of ``model.apply``).
      tolerance: accepted :math:`|\operatorname{Var} - 1|`.
      max_iterations: passes per layer.
      orthogonal: start from orthogonal kernels (``False``: keep the given ones).
      key: seed or key for the orthogonal draws.
      **apply_kwargs: passed to ``model.apply`` (e.g. ``train=False``).

    Returns:
      The new ``params``.

    References:
      Mishkin and Matas, *All you need is a good init*, ICLR 2016.
    """
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    params = jax.tree.map(lambda x: x, dict(params))
    layers = _kernel_modules(params)
    if not layers:
        raise ValueError("lsuv: the params have no 'kernel' leaves")
    if orthogonal:
        for path, k in zip(layers, jax.random.split(key, len(layers)), strict=True):
            module = _get(params, path)
            kernel = module["kernel"]
            params = _set(
                params,
                path,
                "kernel",
                jax.nn.initializers.orthogonal()(k, kernel.shape, kernel.dtype),
            )
            if "bias" in module:
                params = _set(params, path, "bias", jnp.zeros_like(module["bias"]))

    @jax.jit
    def outputs(p):
        _, state = model.apply(
            {"params": p},
            batch,
            capture_intermediates=True,
            mutable=["intermediates"],
            **apply_kwargs,
        )
        return state["intermediates"]

    import flax.linen as nn

    order: list[tuple[str, ...]] = []

    def record(next_fun, args, kwargs, context):
        path = tuple(context.module.scope.path) if context.module.scope is not None else ()
        if context.method_name == "__call__" and path not in order:
            order.append(path)
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):  # the forward pass's call order
        jax.eval_shape(lambda p: model.apply({"params": p}, batch, **apply_kwargs), params)

    ordered = [p for p in order if p in layers] + [p for p in layers if p not in order]
    for path in ordered:
        if path not in order:
            continue  # a kernel the forward pass never called
        for _ in range(max_iterations):
            out = _get(outputs(params), path)["__call__"][0]
            variance = float(jnp.var(out.astype(jnp.float32)))
            if abs(variance - 1.0) < tolerance or variance == 0.0:
                break
            kernel = _get(params, path)["kernel"]
            params = _set(
                params, path, "kernel", kernel / jnp.sqrt(jnp.asarray(variance, kernel.dtype))
            )
    return params
