"""Compare optimizers on a small Flax CNN trained on scikit-learn's bundled digits (no
download). Used by ``optchain compare`` (needs the ``examples`` extra)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optchain
from optchain import schedules

# name -> (constructor of a learning rate, default learning rate)
OPTIMIZERS: dict[str, tuple[Callable[..., optax.GradientTransformation], float]] = {
    "sgd": (lambda lr, seed: optchain.sgd(lr), 0.1),
    "momentum": (lambda lr, seed: optchain.sgd(lr, momentum=0.9), 0.02),
    "nesterov": (lambda lr, seed: optchain.sgd(lr, momentum=0.9, nesterov=True), 0.02),
    "adagrad": (lambda lr, seed: optchain.adagrad(lr), 0.05),
    "rmsprop": (lambda lr, seed: optchain.rmsprop(lr), 1e-3),
    "adadelta": (lambda lr, seed: optchain.adadelta(lr), 1.0),
    "adam": (lambda lr, seed: optchain.adam(lr), 3e-3),
    "adamw": (lambda lr, seed: optchain.adamw(lr, weight_decay=1e-4), 3e-3),
    "amsgrad": (lambda lr, seed: optchain.amsgrad(lr), 3e-3),
    "nadam": (lambda lr, seed: optchain.nadam(lr), 3e-3),
    "adamax": (lambda lr, seed: optchain.adamax(lr), 5e-3),
    "ftml": (lambda lr, seed: optchain.ftml(lr), 3e-3),
    "sign_sgd": (lambda lr, seed: optchain.sign_sgd(lr), 1e-3),
    "signum": (lambda lr, seed: optchain.signum(lr), 1e-3),
    "delta_bar_delta": (lambda lr, seed: optchain.delta_bar_delta(lr, kappa=1e-3), 0.05),
    "noisy_sgd": (lambda lr, seed: optchain.noisy_sgd(lr, eta=0.01, key=seed), 0.1),
    "rprop": (lambda lr, seed: optchain.rprop(lr), 1e-3),
    "lars": (lambda lr, seed: optchain.lars(lr, weight_decay=1e-4), 0.5),
    "lamb": (lambda lr, seed: optchain.lamb(lr, weight_decay=1e-4), 1e-2),
    # the zoo: optax's remaining aliases
    "lion": (lambda lr, seed: optchain.lion(lr, weight_decay=1e-4), 3e-4),
    "adabelief": (lambda lr, seed: optchain.adabelief(lr), 3e-3),
    "yogi": (lambda lr, seed: optchain.yogi(lr), 1e-2),
    "radam": (lambda lr, seed: optchain.radam(lr), 3e-3),
    "adamaxw": (lambda lr, seed: optchain.adamaxw(lr, weight_decay=1e-4), 5e-3),
    "nadamw": (lambda lr, seed: optchain.nadamw(lr, weight_decay=1e-4), 3e-3),
    "adan": (lambda lr, seed: optchain.adan(lr), 3e-3),
    "novograd": (lambda lr, seed: optchain.novograd(lr), 1e-2),
    "fromage": (lambda lr, seed: optchain.fromage(lr), 1e-2),
    "polyak_sgd": (lambda lr, seed: optchain.polyak_sgd(lr), 1.0),
    "optimistic_gradient_descent": (
        lambda lr, seed: optchain.optimistic_gradient_descent(lr),
        0.05,
    ),
    "optimistic_adam": (lambda lr, seed: optchain.optimistic_adam(lr), 1e-3),
    "optimistic_adam_v2": (lambda lr, seed: optchain.optimistic_adam_v2(lr), 1e-3),
    "adafactor": (lambda lr, seed: optchain.adafactor(lr), 1e-2),
    "sm3": (lambda lr, seed: optchain.sm3(lr), 0.1),
    # L-BFGS's zoom line search picks the step; the rate only scales its first guess
    "lbfgs": (lambda lr, seed: optchain.lbfgs(lr), 1.0),
    # torch.optim's and MXNet's remaining optimizers
    "asgd": (lambda lr, seed: optchain.asgd(lr), 0.05),
    "adafactor_torch": (lambda lr, seed: optchain.adafactor_torch(lr), 1e-2),
    "ftrl": (lambda lr, seed: optchain.ftrl(lr), 0.1),
    "dcasgd": (lambda lr, seed: optchain.dcasgd(lr, momentum=0.9), 0.02),
    "sgld": (lambda lr, seed: optchain.sgld(lr, key=seed), 1e-3),
    "lookahead": (
        lambda lr, seed: optchain.slow_weights_in_state(
            optchain.lookahead(optchain.adam(lr), 5, 0.5)
        ),
        3e-3,
    ),
    # optax.contrib (rates from benchmarks/steps_to_target.py; learning-rate-free ones at 1)
    "adopt": (lambda lr, seed: optchain.adopt(lr), 3e-3),
    "acprop": (lambda lr, seed: optchain.acprop(lr), 3e-4),
    "ademamix": (lambda lr, seed: optchain.ademamix(lr), 3e-3),
    "simplified_ademamix": (lambda lr, seed: optchain.simplified_ademamix(lr), 1e-4),
    "madgrad": (lambda lr, seed: optchain.madgrad(lr), 1e-2),
    "prodigy": (lambda lr, seed: optchain.prodigy(lr), 1.0),
    "dadapt_adamw": (lambda lr, seed: optchain.dadapt_adamw(lr), 1.0),
    "mechanize": (lambda lr, seed: optchain.mechanize(optchain.adamw(lr)), 1.0),
    "dog": (lambda lr, seed: optchain.dog(lr), 1.0),
    "dowg": (lambda lr, seed: optchain.dowg(lr), 1.0),
    "cocob": (lambda lr, seed: optchain.cocob(lr), 1.0),
    "schedule_free_adamw": (lambda lr, seed: optchain.schedule_free_adamw(lr), 3e-3),
    "schedule_free_sgd": (lambda lr, seed: optchain.schedule_free_sgd(lr), 0.3),
    "sam": (
        lambda lr, seed: optchain.sam(optchain.adamw(lr), optchain.adversarial_perturbation(0.05)),
        3e-3,
    ),
    "sophia": (
        lambda lr, seed: _value_fn_as_obj_fn(
            optchain.sophia(lr, hessian_diagonal_fn=_hutchinson(seed))
        ),
        3e-3,
    ),
    "momo": (lambda lr, seed: optchain.momo(lr), 1.0),
    "momo_adam": (lambda lr, seed: optchain.momo_adam(lr), 1e-2),
    "muon": (lambda lr, seed: optchain.muon(lr), 0.02),
    "galore": (lambda lr, seed: optchain.galore(lr, rank=8, update_proj_gap=50), 3e-3),
}

# Optimizers whose update takes the loss: ``value=`` (Polyak's and Momo's steps) and, for
# L-BFGS's line search and Sophia's Hessian estimate, ``grad=`` and ``value_fn=`` (the batch's
# loss as a function of the parameters; Sophia's ``obj_fn``).
TAKES_VALUE = frozenset({"polyak_sgd", "lbfgs", "momo", "momo_adam", "sophia"})


def _hutchinson(seed: int) -> optax.GradientTransformation:
    return optchain.hutchinson_estimator_diag_hessian(jax.random.key(seed))


def _value_fn_as_obj_fn(
    tx: optax.GradientTransformationExtraArgs,
) -> optax.GradientTransformationExtraArgs:
    """``tx`` (Sophia) whose Hessian estimate's ``obj_fn`` is the ``value_fn`` the commands
    pass (L-BFGS's line search forwards every extra keyword to its ``value_fn``, so the commands
    pass one name only)."""

    def update(updates, state, params=None, *, value_fn=None, **extra):
        del extra
        return tx.update(updates, state, params, obj_fn=value_fn)

    return optax.GradientTransformationExtraArgs(tx.init, update)


DEFAULT = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "ftml",
    "signum",
    "delta_bar_delta",
    "noisy_sgd",
)

SCHEDULES: dict[str, Callable[[float, int], object]] = {
    "constant": lambda lr, n: lr,
    "cosine": lambda lr, n: schedules.cosine(lr, n),
    "warmup_cosine": lambda lr, n: schedules.warmup(
        schedules.cosine(lr, n - n // 10), max(n // 10, 1)
    ),
    "linear_decay": lambda lr, n: schedules.linear_decay(lr, n),
    "step": lambda lr, n: schedules.multistep(lr, [n // 2, 3 * n // 4]),
    "one_cycle": lambda lr, n: schedules.one_cycle(lr, max(n, 2)),
}


@dataclasses.dataclass
class Result:
    name: str
    losses: np.ndarray  # train loss at every step
    final_loss: float  # on the whole training set
    accuracy: float  # on the held-out set
    steps_to_target: int | None
    seconds: float


def load_digits_split(seed: int = 0):
    """Digits as (N, 8, 8, 1) floats in [0, 1], split 80/20 with a fixed permutation."""
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    x = (np.asarray(images).reshape(-1, 8, 8) / 16.0).astype(np.float32)[..., None]
    y = np.asarray(labels).astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    return (x[:split], y[:split]), (x[split:], y[split:])


def make_model(seed: int):
    from flax import nnx

    class CNN(nnx.Module):
        def __init__(self, rngs):
            self.conv1 = nnx.Conv(1, 16, (3, 3), rngs=rngs)
            self.conv2 = nnx.Conv(16, 32, (3, 3), strides=(2, 2), rngs=rngs)
            self.head = nnx.Linear(4 * 4 * 32, 10, rngs=rngs)

        def __call__(self, x):
            x = nnx.relu(self.conv1(x))
            x = nnx.relu(self.conv2(x))
            return self.head(x.reshape(x.shape[0], -1))

    return CNN(nnx.Rngs(seed))


def train_one(
    name: str,
    steps: int,
    *,
    learning_rate: float | None = None,
    schedule: str = "constant",
    seed: int = 0,
    batch_size: int = 128,
    target: float = 0.3,
    chunk: int = 25,
    progress=None,
) -> Result:
    """Train the CNN with optimizer ``name`` for ``steps`` steps; ``progress`` is a tqdm bar."""
    from flax import nnx

    make, default_lr = OPTIMIZERS[name]
    lr = default_lr if learning_rate is None else learning_rate
    tx = make(SCHEDULES[schedule](lr, steps), seed)
    (x_train, y_train), (x_test, y_test) = load_digits_split(seed)
    model = make_model(seed)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    def loss_fn(m, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()

    @nnx.jit
    def step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        if name not in TAKES_VALUE:
            optimizer.update(model, grads)
            return loss
        graphdef, _, rest = nnx.split(model, nnx.Param, ...)

        def value_fn(params):
            return loss_fn(nnx.merge(graphdef, params, rest), x, y)

        grad = nnx.as_pure(nnx.state(grads, nnx.Param))
        optimizer.update(model, grads, value=loss, grad=grad, value_fn=value_fn)
        return loss

    rng = np.random.default_rng(seed + 1)
    index = rng.integers(0, len(x_train), size=(steps, batch_size))
    xs, ys = jnp.asarray(x_train), jnp.asarray(y_train)
    losses = []
    start = time.perf_counter()
    for t in range(steps):
        losses.append(step(model, optimizer, xs[index[t]], ys[index[t]]))
        if progress is not None and (t + 1) % chunk == 0:
            progress.update(chunk)
    if progress is not None and steps % chunk:
        progress.update(steps % chunk)
    losses = np.asarray(jnp.stack(losses)) if losses else np.zeros(0)
    seconds = time.perf_counter() - start
    final = float(loss_fn(model, jnp.asarray(x_train), jnp.asarray(y_train)))
    accuracy = float(np.mean(np.argmax(np.asarray(model(jnp.asarray(x_test))), -1) == y_test))
    # steps to target: first step whose running mean over 10 steps is below the target
    smooth = np.convolve(losses, np.ones(10) / 10, mode="valid") if len(losses) >= 10 else losses
    hit = np.flatnonzero(smooth < target)
    reached = int(hit[0]) + min(10, len(losses)) if hit.size else None
    return Result(name, losses, final, accuracy, reached, seconds)


def ranked(results: list[Result]) -> list[Result]:
    return sorted(results, key=lambda r: (np.nan_to_num(r.final_loss, nan=np.inf), r.name))


def format_table(results: list[Result], steps: int, target: float) -> str:
    lines = [
        f"digits CNN, {steps} steps, ranked by final train loss (target loss {target})",
        f"{'rank':>4}  {'optimizer':<16} {'train loss':>10} {'test acc':>9} {'steps to target':>15} {'seconds':>8}",
    ]
    for k, r in enumerate(ranked(results), 1):
        reached = "-" if r.steps_to_target is None else str(r.steps_to_target)
        lines.append(
            f"{k:>4}  {r.name:<16} {r.final_loss:>10.4f} {r.accuracy:>9.3f} {reached:>15} {r.seconds:>8.2f}"
        )
    return "\n".join(lines)


def plot_losses(results: list[Result], title: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colors = plt.get_cmap("tab20")
    for k, r in enumerate(ranked(results)):
        smooth = (
            np.convolve(r.losses, np.ones(5) / 5, mode="valid") if len(r.losses) >= 5 else r.losses
        )
        steps = np.arange(len(smooth)) + (len(r.losses) - len(smooth))
        color = colors((2 * k) % 20 + (2 * k) // 20)  # the dark shades first, 20 distinct in all
        ax.plot(steps, smooth, label=r.name, lw=1.4, color=color, ls="-" if k < 10 else "--")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("train loss (cross-entropy, 5-step mean)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig
