"""The loss-aware family (sam, sophia, hutchinson_estimator_diag_hessian, momo, momo_adam and
their primitives): optax's values and state fields over 200 jitted steps, closed forms of the
perturbation, the Hessian estimate and the model-based step, argument checks, and SAM and
Sophia inside a Flax ``nnx.Optimizer`` step."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optchain as oc

STEPS = 200


def _adv(module, rho):
    """SAM's adversarial optimizer: optchain's primitive, or optax's normalize + sgd."""
    if module is oc:
        return oc.adversarial_perturbation(rho)
    return optax.chain(optax.contrib.normalize(), optax.sgd(rho))


_KEY = jax.random.PRNGKey(3)

# case -> (builder of the transform from a module, the extra keywords its update needs)
CASES = {
    "sam": (lambda m: m.contrib.sam(m.sgd(0.05), _adv(m, 0.05)), ()),
    "sam_adam_period3_keep": (
        lambda m: m.contrib.sam(m.adam(0.02), _adv(m, 0.1), sync_period=3, reset_state=False),
        (),
    ),
    "sam_opaque": (
        lambda m: m.contrib.sam(m.sgd(0.05), _adv(m, 0.05), sync_period=3, opaque_mode=True),
        ("grad_fn",),
    ),
    "sophia": (
        lambda m: m.contrib.sophia(
            0.01,
            weight_decay=0.1,
            weight_decay_mask={"w": True, "b": False, "k": True},
            clip_threshold=0.5,
            gamma=0.5,
            update_interval=3,
            hessian_diagonal_fn=m.contrib.hutchinson_estimator_diag_hessian(_KEY),
        ),
        ("obj_fn",),
    ),
    "momo": (lambda m: m.contrib.momo(0.5), ("value",)),
    "momo_adapt_wd": (
        lambda m: m.contrib.momo(
            optax.linear_schedule(1.0, 0.1, 100),
            beta=0.8,
            lower_bound=0.0,
            weight_decay=0.01,
            adapt_lower_bound=True,
        ),
        ("value",),
    ),
    "momo_adam": (lambda m: m.contrib.momo_adam(0.05), ("value",)),
    "momo_adam_adapt_wd": (
        lambda m: m.contrib.momo_adam(0.1, weight_decay=0.01, adapt_lower_bound=True),
        ("value",),
    ),
}
FIELDS = (
    "count",
    "mu",
    "nu",
    "key",
    "exp_avg",
    "exp_avg_sq",
    "barf",
    "gamma",
    "lb",
    "steps_since_sync",
    "cache",
)


def _params():
    return {
        "w": jnp.array([1.0, -0.5, 0.25]),
        "b": jnp.array([0.3, -2.0]),
        "k": jnp.array([[0.1, 0.2], [0.3, -0.4]]),
    }


def _loss(params):
    """A quartic bowl, (x - 0.1)**2 + 0.1 x**4 per entry, plus 0.05 per leaf (so f > 0 = momo's
    bound)."""
    return sum(jnp.sum((x - 0.1) ** 2 + 0.1 * x**4) + 0.05 for x in jax.tree.leaves(params))


def _run(tx, params, names):
    @jax.jit
    def run(params):
        def step(carry, _):
            p, s = carry
            value, g = jax.value_and_grad(_loss)(p)
            extra = {"value": value, "obj_fn": _loss, "grad_fn": jax.grad(lambda q, i: _loss(q))}
            u, s = tx.update(g, s, p, **{n: extra[n] for n in names})
            return (optax.apply_updates(p, u), s), value

        (p, s), values = jax.lax.scan(step, (params, tx.init(params)), None, length=STEPS)
        return p, s, values

    return run(params)


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "iub":
        np.testing.assert_array_equal(a, b)
        return
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_state_fields_are_optax(name):
    build, names = CASES[name]
    params = _params()
    p_ours, s_ours, f_ours = _run(build(oc), params, names)
    with jax.numpy_dtype_promotion("standard"):  # optax's code is not strict-promotion clean
        p_theirs, s_theirs, _ = _run(build(optax), params, names)
    jax.tree.map(_close, p_ours, p_theirs)
    assert float(f_ours[-1]) < float(f_ours[0])  # the loss went down
    for field in FIELDS:
        theirs = optax.tree.get(s_theirs, field)
        if theirs is None:
            continue
        mine = optax.tree.get(s_ours, field)
        assert mine is not None, f"{name}: no {field!r} in optchain's state"
        jax.tree.map(_close, mine, theirs)
        jax.tree.map(lambda a, b: np.testing.assert_equal(a.dtype, b.dtype), mine, theirs)


def test_sam_perturbs_by_rho_g_over_norm_then_steps_from_the_cached_point():
    rho, lr = 0.3, 0.1
    tx = oc.contrib.sam(oc.sgd(lr), oc.adversarial_perturbation(rho))
    w = _params()
    g = jax.grad(_loss)(w)
    norm = np.sqrt(sum(float(np.sum(np.square(x))) for x in jax.tree.leaves(g)))
    update = jax.jit(tx.update)
    u, state = update(g, tx.init(w), w)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, rho * b / norm, rtol=1e-6), u, g)
    w_adv = optax.apply_updates(w, u)
    g_adv = jax.grad(_loss)(w_adv)
    u2, state = update(g_adv, state, w_adv)
    back = optax.apply_updates(w_adv, u2)  # w - lr * g(w + eps)
    jax.tree.map(
        lambda a, p, q: np.testing.assert_allclose(a, p - lr * q, rtol=1e-6), back, w, g_adv
    )
    assert int(state.steps_since_sync) == 0
    # a zero gradient gives no perturbation (optax's normalize gives NaN)
    zero = jax.tree.map(jnp.zeros_like, w)
    adv = oc.adversarial_perturbation(rho)
    assert all(float(jnp.max(jnp.abs(x))) == 0 for x in jax.tree.leaves(adv.update(zero, ())[0]))


def test_sam_opaque_mode_calls_grad_fn_at_each_adversarial_point():
    seen = []

    def grad_fn(p, i):
        seen.append(i)
        return jax.grad(_loss)(p)

    tx = oc.contrib.sam(oc.sgd(0.1), oc.adversarial_perturbation(0.2), 3, opaque_mode=True)
    w = _params()
    _, state = tx.update(jax.grad(_loss)(w), tx.init(w), w, grad_fn=grad_fn)
    assert seen == [0, 1] and state.cache is None and int(state.steps_since_sync) == 0


def _quadratic(a):
    return lambda w: 0.5 * jnp.dot(w, a @ w)


def test_hutchinson_is_exact_for_a_diagonal_hessian_and_unbiased_otherwise():
    w = jnp.array([0.5, -1.0, 2.0])
    diag = jnp.array([3.0, 0.5, -2.0])
    tx = oc.hutchinson_estimator_diag_hessian(jax.random.PRNGKey(7))
    state = tx.init(w)
    update = jax.jit(lambda s: tx.update(w, s, w, obj_fn=_quadratic(jnp.diag(diag))))
    for _ in range(3):  # every draw: v * (D v) = diag(D), as v_i**2 = 1
        est, state = update(state)
        np.testing.assert_allclose(est, diag, rtol=1e-6)
    a = jnp.array([[2.0, 1.0, -0.5], [1.0, 1.0, 0.25], [-0.5, 0.25, 3.0]])
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)

    def draw(key):
        est, new = tx.update(w, oc.HutchinsonState(key), w, obj_fn=_quadratic(a))
        v = optax.tree.random_like(jax.random.split(key)[1], w, jax.random.rademacher)
        return est, v * (a @ v), new.key

    est, exact, new_keys = jax.jit(jax.vmap(draw))(keys)
    np.testing.assert_allclose(est, exact, rtol=1e-6)  # v * (A v) for optax's draw of v
    np.testing.assert_allclose(est.mean(0), jnp.diag(a), atol=0.05)  # unbiased
    np.testing.assert_array_equal(new_keys, jax.vmap(lambda k: jax.random.split(k)[0])(keys))


def test_sophia_estimates_the_hessian_every_update_interval_steps():
    k, w = 3, jnp.array([1.0, -2.0])
    tx = oc.contrib.sophia(0.1, update_interval=k)
    state = tx.init(w)
    key = optax.tree.get(state, "key")
    update = jax.jit(lambda s: tx.update(2 * w, s, w, obj_fn=lambda p: jnp.sum(p**2)))
    for t in range(7):
        _, state = update(state)
        if t % k == 0:
            key = jax.random.split(key)[0]
        np.testing.assert_array_equal(optax.tree.get(state, "key"), key)
    nu = 0.0
    for _ in range(3):  # three estimates of diag(H) = 2, EMA of weight b2 = 0.99
        nu = 0.99 * nu + 0.01 * 2.0
    np.testing.assert_allclose(optax.tree.get(state, "nu"), [nu, nu], rtol=1e-6)
    unclipped = oc.contrib.sophia(0.1, clip_threshold=None).init(w)
    assert len(unclipped.links) == len(state.links) - 1  # None drops the clip link


def test_momo_on_a_one_dimensional_quadratic():
    """f = a w**2 / 2 >= 0: the first step is Polyak's, tau = f / g**2 = 1 / (2a), capped by lr."""
    a, beta = 4.0, 0.5
    f = lambda w: 0.5 * a * jnp.sum(w**2)  # noqa: E731
    for lr in (10.0, 0.05):
        tx = oc.contrib.momo(lr, beta=beta)
        w = jnp.array([2.0])
        state = tx.init(w)
        update = jax.jit(lambda g, s, w, v: tx.update(g, s, w, value=v))  # noqa: B023
        d = fbar = gamma = 0.0
        x = 2.0
        for t in range(3):
            value, g = jax.value_and_grad(f)(w)
            u, state = update(g, state, w, value)
            b = 0.0 if t == 0 else beta
            gx = a * x
            d, fbar, gamma = (
                b * d + (1 - b) * gx,
                b * fbar + (1 - b) * 0.5 * a * x * x,
                (b * gamma + (1 - b) * gx * x),
            )
            tau = min(lr, max(fbar - gamma + d * x, 0.0) / d**2)
            if t == 0:
                assert tau == min(lr, 1 / (2 * a))
            x = x - tau * d
            w = optax.apply_updates(w, u)
            np.testing.assert_allclose(w, [x], rtol=1e-6)
        np.testing.assert_allclose(optax.tree.get(state, "exp_avg"), [d], rtol=1e-6)


def test_signatures_are_optax():
    import inspect  # noqa: PLC0415

    for name in ("sam", "sophia", "momo", "momo_adam", "hutchinson_estimator_diag_hessian"):
        ours = inspect.signature(getattr(oc.contrib, name)).parameters
        theirs = inspect.signature(getattr(optax.contrib, name)).parameters
        assert [p for p in ours if p != "finite_guard"] == list(theirs), name
        for p, q in theirs.items():
            assert ours[p].kind == q.kind, (name, p)
            assert ours[p].default is q.default or ours[p].default == q.default, (name, p)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: oc.contrib.sam(oc.sgd(0.1), oc.sgd(0.1), sync_period=0), "sam: sync_period"),
        (lambda: oc.contrib.sam(oc.sgd(0.1), oc.sgd(0.1), opaque_mode=1), "sam: opaque_mode"),
        (lambda: oc.contrib.sophia(0.1, update_interval=0), "sophia: update_interval"),
        (lambda: oc.contrib.sophia(0.1, clip_threshold=0.0), "sophia: clip_threshold"),
        (lambda: oc.contrib.sophia(0.1, gamma=-1.0), "sophia: gamma"),
        (lambda: oc.contrib.momo(beta=1.5), "momo: beta"),
        (lambda: oc.contrib.momo(lower_bound=float("nan")), "momo: lower_bound"),
        (lambda: oc.contrib.momo_adam(b2=1.0), "momo_adam: b2"),
        (lambda: oc.adversarial_perturbation(-0.1), "rho"),
    ],
    ids=[
        "sync_period",
        "opaque_mode",
        "update_interval",
        "clip",
        "gamma",
        "beta",
        "lb",
        "b2",
        "rho",
    ],
)
def test_arguments_are_checked_by_their_names(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_missing_extra_arguments_and_complex_parameters_are_reported():
    w = jnp.ones(2)
    cases = [
        (oc.contrib.momo(), {}, "needs the loss"),
        (oc.contrib.momo_adam(), {}, "needs the loss"),
        (oc.contrib.sophia(0.1), {}, "needs the objective"),
        (oc.contrib.sam(oc.sgd(0.1), oc.sgd(0.1), opaque_mode=True), {}, "needs grad_fn"),
    ]
    for tx, extra, message in cases:
        with pytest.raises(ValueError, match=message):
            tx.update(w, tx.init(w), w, **extra)
    z = {"z": jnp.ones(2, jnp.complex64)}
    for tx in (oc.contrib.momo(), oc.contrib.momo_adam(), oc.contrib.sophia(0.1)):
        with pytest.raises(ValueError, match=r"complex parameters: leaf params\['z'\]"):
            tx.init(z)


# In a normal Flax training step: nnx.Optimizer.update(model, grads, **extra) hands the extra
# keywords to tx.update, with the parameters as a pure nnx.State.
_X = jnp.linspace(-1.0, 1.0, 16).reshape(8, 2)
_Y = jnp.stack([_X[:, 0] - 2 * _X[:, 1], 0.5 * _X[:, 0]], axis=1)


def _model_loss(model):
    return jnp.mean((model(_X) - _Y) ** 2)


def _flax_sam(m):
    sam = m.contrib.sam(m.adam(0.05), _adv(m, 0.05), sync_period=2, opaque_mode=True)
    return optax.chain(m.clip_by_global_norm(1.0), m.add_decayed_weights(1e-3), sam)


def _flax_sophia(m):
    return optax.chain(m.clip_by_global_norm(1.0), m.contrib.sophia(0.05, weight_decay=1e-3))


def _train(tx, extra_names, steps=30):
    from flax import nnx  # noqa: PLC0415

    model = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, _ = nnx.split(model)

    @nnx.jit
    def step(model, optimizer):
        loss, grads = nnx.value_and_grad(_model_loss)(model)

        def obj_fn(params):
            return _model_loss(nnx.merge(graphdef, params))

        extras = {"obj_fn": obj_fn, "grad_fn": jax.grad(lambda p, i: obj_fn(p))}
        optimizer.update(model, grads, **{n: extras[n] for n in extra_names})
        return loss

    losses = [float(step(model, optimizer)) for _ in range(steps)]
    return losses, nnx.state(model, nnx.Param)


@pytest.mark.parametrize(
    "build, extra", [(_flax_sam, ("grad_fn",)), (_flax_sophia, ("obj_fn",))], ids=["sam", "sophia"]
)
def test_in_a_flax_nnx_optimizer_step(build, extra):
    ours, params = _train(build(oc), extra)
    with jax.numpy_dtype_promotion("standard"):
        theirs, their_params = _train(build(optax), extra)
    assert ours[-1] < 0.5 * ours[0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), params, their_params
    )


def test_sophia_keeps_its_floor_for_float16_parameters():
    """eps = 1e-8 is zero in float16: the denominator stays float32, so a zero gradient at the
    first step (h = 0) gives a zero direction, not 0 / 0."""
    w = jnp.array([0.3, 1.0], jnp.float16)
    tx = oc.contrib.sophia(0.05, weight_decay=0.0)
    u, _ = jax.jit(lambda g, s, w: tx.update(g, s, w, obj_fn=lambda p: jnp.sum(p**2)))(
        jnp.array([0.0, 1.0], jnp.float16), tx.init(w), w
    )
    assert u.dtype == jnp.float16
    np.testing.assert_array_equal(u, np.array([0.0, -0.05], np.float16))
