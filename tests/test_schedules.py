"""Schedules: torch.optim.lr_scheduler parity, closed forms, jit safety, hyperparameters on schedules."""

import inspect
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc
from optchain import schedules as sch

FIXTURES = np.load(pathlib.Path(__file__).parent / "fixtures" / "torch_schedules.npz")

# torch case -> (learning-rate schedule, momentum schedule or None); base lr 0.1, momentum 0.9
TORCH = {
    "linear_warmup": (sch.linear(0.025, 0.1, 7), None),
    "linear_decay": (sch.linear_decay(0.1, 10), None),  # end = init / 100, the rule of thumb
    "exponential": (sch.exponential(0.1, 0.9), None),
    "step": (sch.step_decay(0.1, 4, 0.5), None),
    "multistep": (sch.multistep(0.1, [3, 7, 12], 0.3), None),
    "cosine": (sch.cosine(0.1, 15, 0.001), None),
    "polynomial": (sch.polynomial(0.1, 0.0, 2.0, 10), None),
    "warm_restarts_mult2": (sch.cosine_warm_restarts(0.1, 3, 2, 0.01), None),
    "warm_restarts": (sch.cosine_warm_restarts(0.1, 5), None),
    "cyclic_triangular": (sch.cyclical(0.01, 0.1, 4, 6), sch.cyclical(0.95, 0.8, 4, 6)),
    "cyclic_triangular2": (
        sch.cyclical(0.01, 0.1, 3, mode="triangular2"),
        sch.cyclical(0.9, 0.8, 3, mode="triangular2"),
    ),
    "cyclic_exp_range": (
        sch.cyclical(0.01, 0.1, 5, mode="exp_range", gamma=0.97),
        sch.cyclical(0.9, 0.8, 5, mode="exp_range", gamma=0.97),
    ),
    "one_cycle": (sch.one_cycle(0.1, 25), sch.one_cycle_momentum(25)),
    "one_cycle_linear_three_phase": (
        sch.one_cycle(0.1, 30, 0.25, "linear", 10.0, 100.0, three_phase=True),
        sch.one_cycle_momentum(30, 0.8, 0.9, 0.25, "linear", three_phase=True),
    ),
}


def test_every_fixture_case_is_checked():
    cases = {k.split("/")[0] for k in FIXTURES.files if not k.startswith("plateau")}
    assert cases == set(TORCH)


@pytest.mark.parametrize("case", sorted(TORCH))
def test_matches_torch_lr_scheduler_at_every_step(case):
    lr_schedule, momentum_schedule = TORCH[case]
    expected_lr = FIXTURES[f"{case}/lr"]
    steps = jnp.arange(len(expected_lr), dtype=jnp.int32)
    values = jax.jit(jax.vmap(lr_schedule))(steps)
    np.testing.assert_allclose(values, expected_lr, rtol=2e-6, atol=1e-9)
    eager = [float(lr_schedule(i)) for i in range(len(expected_lr))]
    np.testing.assert_allclose(eager, expected_lr, rtol=2e-6, atol=1e-9)
    expected_momentum = FIXTURES[f"{case}/momentum"]
    if momentum_schedule is None:
        np.testing.assert_array_equal(expected_momentum, 0.9)
    else:
        moms = jax.vmap(momentum_schedule)(steps)
        np.testing.assert_allclose(moms, expected_momentum, rtol=2e-6)


def test_one_cycle_boundary_is_torchs_and_optax_is_one_step_later():
    # 20 steps, pct_start 0.25: torch ends the warm-up phase at step 0.25 * 20 - 1 = 4.
    ours = sch.one_cycle(0.1, 20, pct_start=0.25)
    with jax.numpy_dtype_promotion("standard"):
        theirs = optax.cosine_onecycle_schedule(20, 0.1, pct_start=0.25)
        optax_values = [float(theirs(i)) for i in range(20)]
    assert float(ours(4)) == pytest.approx(0.1, rel=1e-6)
    assert optax_values[4] < 0.0999 and optax_values[5] == pytest.approx(0.1, rel=1e-6)


def test_linear_decay_rule_of_the_seed():
    s = sch.linear_decay(0.5, 40, end_value=0.05)
    for i in (0, 10, 25, 40, 100):
        frac = min(i / 40, 1.0)
        np.testing.assert_allclose(float(s(i)), (1 - frac) * 0.5 + frac * 0.05, rtol=1e-6)


def test_exponential_continuous_and_bounded():
    s = sch.exponential(1.0, 0.5, 10, end_value=0.3)
    np.testing.assert_allclose(float(s(5)), 0.5**0.5, rtol=1e-6)
    np.testing.assert_allclose(float(s(100)), 0.3)


def test_warmup_in_front_of_cosine():
    s = sch.warmup(sch.cosine(1.0, 10), 5, init_value=0.1)
    values = [float(s(i)) for i in range(17)]
    np.testing.assert_allclose(values[:6], [0.1, 0.28, 0.46, 0.64, 0.82, 1.0], rtol=1e-6)
    np.testing.assert_allclose(values[10], 0.5, rtol=1e-6)
    np.testing.assert_allclose(values[15:], 0.0, atol=1e-7)


def test_join_switches_at_boundaries():
    s = sch.join([sch.constant(1.0), sch.linear(0.5, 0.0, 4)], [3])
    np.testing.assert_allclose(
        [float(s(i)) for i in range(8)], [1, 1, 1, 0.5, 0.375, 0.25, 0.125, 0]
    )


def test_cosine_warm_restarts_boundaries_are_exact_for_large_steps():
    s = sch.cosine_warm_restarts(1.0, 10, period_mult=3)
    starts = [0, 10, 40, 130, 400, 1210]
    for start in starts:
        np.testing.assert_allclose(float(s(start)), 1.0)  # every restart is back at the top
    np.testing.assert_allclose(float(s(1210 + 1215)), 0.5, atol=1e-6)  # middle of the 6th period


@pytest.mark.parametrize(
    "make,argument",
    [
        (lambda: sch.linear(1.0, 0.0, 0), "transition_steps"),
        (lambda: sch.exponential(1.0, 0.0), "decay_rate"),
        (lambda: sch.cyclical(0.1, 1.0, mode="sine"), "mode"),
        (lambda: sch.one_cycle(1.0, 100, pct_start=1.5), "pct_start"),
        (lambda: sch.cosine_warm_restarts(1.0, 5, period_mult=0), "period_mult"),
        (lambda: sch.multistep(1.0, [-3]), "milestones"),
        (lambda: sch.warmup(0.1, 10), "schedule"),
    ],
)
def test_bad_schedule_arguments(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_plot_draws_the_schedule(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    s = sch.one_cycle(0.1, 50)
    ax = sch.plot(s, 50, label="one cycle")
    sch.plot(sch.one_cycle_momentum(50), 50, ax=ax, label="momentum")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [float(s(i)) for i in range(50)], rtol=1e-5)
    path = tmp_path / "schedule.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 5000


# --- optax's schedule names: optax's own objects ------------------------------------------

OPTAX_SCHEDULE_NAMES = sorted(n for n in dir(optax.schedules) if not n.startswith("_"))
OWN_NAMES = [
    "constant", "linear", "linear_decay", "polynomial", "exponential", "step_decay",
    "multistep", "cosine", "warmup", "cosine_warm_restarts", "cyclical", "one_cycle",
    "one_cycle_momentum", "join", "linear_scaling_rule", "dgc_warmup", "plot",
]  # fmt: skip


@pytest.mark.parametrize("name", OPTAX_SCHEDULE_NAMES)
def test_every_optax_schedule_name_is_optaxs_object_here_and_at_top_level(name):
    assert name in sch.__all__ and name in oc.__all__
    if name == "inject_hyperparams":  # optchain's, with optax's signature (test_hyperparams)
        assert sch.inject_hyperparams is oc.inject_hyperparams
        return
    assert getattr(sch, name) is getattr(optax.schedules, name)
    if name != "Schedule":  # the top-level alias is optchain._core's (same meaning)
        assert getattr(oc, name) is getattr(optax.schedules, name)


def test_own_schedules_keep_their_names_and_do_not_collide_with_optax():
    exported = set(sch.__all__)
    assert set(OWN_NAMES) <= exported
    assert exported == set(OWN_NAMES) | set(OPTAX_SCHEDULE_NAMES)
    assert not set(OWN_NAMES) & (set(dir(optax.schedules)) | set(dir(optax)))
    assert sch.join is optax.join_schedules


def test_optax_names_give_optax_values_next_to_the_torch_exact_ones():
    steps = jnp.arange(12, dtype=jnp.int32)
    with jax.numpy_dtype_promotion("standard"):  # optax's schedules are user code here
        theirs = jax.vmap(oc.cosine_decay_schedule(1.0, 10, alpha=0.1))(steps)
        warm = jax.vmap(oc.warmup_cosine_decay_schedule(0.0, 1.0, 3, 10, 0.01))(steps)
    np.testing.assert_allclose(theirs, jax.vmap(sch.cosine(1.0, 10, 0.1))(steps), rtol=1e-6)
    np.testing.assert_allclose(warm[:4], [0.0, 1 / 3, 2 / 3, 1.0], rtol=1e-6)


def test_the_package_modules_stay_short():
    package = pathlib.Path(inspect.getfile(sch)).parent
    lengths = {f.name: len(f.read_text().splitlines()) for f in package.glob("*.py")}
    assert len(lengths) >= 5 and max(lengths.values()) < 400, lengths


# --- any hyperparameter on a schedule, through the ordinary constructors -------------------


def test_momentum_warming_from_half_to_0_99():
    warm = lambda t: 0.5 + 0.49 * jnp.minimum(t.astype(jnp.float32) / 20, 1.0)  # noqa: E731
    tx = oc.sgd(0.02, momentum=warm)
    h = np.array([1.0, 4.0])
    w, state, buf = jnp.array([2.0, -1.0]), None, None
    state = tx.init(w)
    w_ref = np.array([2.0, -1.0])
    for t in range(40):
        g = h * w_ref
        mu = 0.5 + 0.49 * min(t / 20, 1.0)
        buf = g if buf is None else mu * buf + g
        w_ref = w_ref - 0.02 * buf
        u, state = tx.update(jnp.asarray(h, jnp.float32) * w, state, w)
        w = optax.apply_updates(w, u)
        np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-6)


def test_weight_decay_schedule_in_adamw():
    wd = lambda t: 0.1 * (t + 1).astype(jnp.float32)  # noqa: E731
    tx = oc.adamw(0.5, weight_decay=wd)
    w = jnp.array([1.0, -2.0])
    state = tx.init(w)
    expected = np.array([1.0, -2.0])
    for t in range(4):  # zero gradients: Adam's direction is 0, only the decay moves w
        u, state = tx.update(jnp.zeros(2), state, w)
        w = optax.apply_updates(w, u)
        expected = expected * (1 - 0.5 * 0.1 * (t + 1))
        np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_annealed_noise_scale_in_noisy_sgd():
    eta = sch.exponential(
        4.0, 0.25, 1
    )  # eta_t = 4 * 0.25**t, on top of the 1/(1+t)^gamma annealing
    tx = oc.noisy_sgd(1.0, eta=eta, gamma=0.0, key=5)
    zeros = jnp.zeros(100_000)
    state = tx.init(zeros)
    for t in range(3):
        u, state = tx.update(zeros, state, zeros)
        assert abs(float(jnp.var(u)) / (4.0 * 0.25**t) - 1) < 0.03


def test_clipping_threshold_schedule():
    limit = sch.linear(1.0, 3.0, 2)
    tx = optax.chain(oc.clip_by_global_norm(limit), oc.sgd(1.0))
    g = {"a": jnp.full(4, 10.0), "b": jnp.full(2, -10.0)}
    state = tx.init(g)
    for t in range(4):
        u, state = tx.update(g, state, g)
        norm = float(optax.tree.norm(u))
        np.testing.assert_allclose(norm, float(limit(t)), rtol=1e-6)
