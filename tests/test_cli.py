"""The optchain command on tiny settings: outputs written, tables printed, bad names listed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from optchain import cli
from optchain import race as rc


def _image_ok(path, min_size=(400, 300)):
    image = Image.open(path)
    assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
    pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10  # not an empty canvas


def test_compare_writes_table_and_png(tmp_path, capsys):
    rc_ = cli.main(
        [
            "compare",
            "--optimizers",
            "adam,signum,sgd",
            "--steps",
            "30",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert rc_ == 0
    out = capsys.readouterr().out
    assert "steps to target" in out and "test acc" in out
    rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [r.split()[1] for r in rows] and {r.split()[1] for r in rows} == {
        "adam",
        "signum",
        "sgd",
    }
    for row in rows:
        loss, accuracy = float(row.split()[2]), float(row.split()[3])
        assert loss < 2.3 and accuracy > 0.3  # ten classes: chance is 0.1, start loss ln 10
    _image_ok(tmp_path / "compare_losses.png")


def test_compare_with_a_schedule_and_one_learning_rate(tmp_path, capsys):
    assert (
        cli.main(
            [
                "compare",
                "--optimizers",
                "momentum",
                "--steps",
                "20",
                "--lr",
                "0.05",
                "--schedule",
                "warmup_cosine",
                "--out",
                str(tmp_path),
                "--quiet",
            ]
        )
        == 0
    )
    assert "momentum" in capsys.readouterr().out


def test_unknown_optimizer_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit):
        cli.main(["compare", "--optimizers", "adamm"])
    err = capsys.readouterr().err
    assert (
        "unknown optimizer(s) ['adamm']" in err and "delta_bar_delta" in err and "nesterov" in err
    )


def test_race_writes_png_gif_and_table(tmp_path, capsys):
    assert (
        cli.main(["race", "--steps", "60", "--out", str(tmp_path), "--animate", "--frames", "12"])
        == 0
    )
    out = capsys.readouterr().out
    for name in ("rosenbrock", "beale", "saddle", "monkey_saddle", "noisy_sgd"):
        assert name in out
    _image_ok(tmp_path / "race.png", (800, 600))
    gif = Image.open(tmp_path / "race.gif")
    assert gif.n_frames == 12


def test_race_noise_escapes_the_saddle_plain_descent_does_not():
    paths = rc.run(["saddle"], ["sgd", "adam", "noisy_sgd"], steps=500)["saddle"]
    assert abs(paths["sgd"][-1][1]) == 0.0 and abs(paths["adam"][-1][1]) == 0.0  # on y = 0
    assert np.linalg.norm(paths["sgd"][-1]) < 1e-3  # walked into the saddle point
    assert abs(paths["noisy_sgd"][-1][1]) > 1.0  # escaped along the negative-curvature axis
    status = {row[1]: row[5] for row in rc.table({"saddle": paths})}
    assert status == {"sgd": "", "adam": "", "noisy_sgd": "escaped"}


def test_race_rejects_unknown_surface():
    with pytest.raises(SystemExit):
        cli.main(["race", "--surfaces", "himmelblau"])


def test_race_rejects_a_gif_of_one_frame(capsys):
    with pytest.raises(SystemExit):
        cli.main(["race", "--frames", "1", "--animate"])
    assert "--frames must be at least 2; got 1" in capsys.readouterr().err


# named optimizers the commands cannot run: primitives named like optax's, and the two that
# need a device axis (pmap / shard_map)
NOT_RACING = {"named_optimizer", "signum_majority", "dgc_sgd"}
# per-example gradients (a leading batch axis): tests/test_contrib_low_rank_private.py
NOT_RACING |= {"dpsgd", "differentially_private_aggregate"}


def _racing_names():
    import optchain

    return sorted(
        n
        for n in optchain.optimizers.__all__
        if n not in NOT_RACING and not n.startswith("scale_by")
    )


def test_every_named_optimizer_can_compare_and_race():
    from optchain import compare as cmp

    names = _racing_names()
    assert len(names) >= 36
    assert sorted(set(names) - set(cmp.OPTIMIZERS)) == []
    assert sorted(set(names) - set(rc.RELATIVE_RATE)) == []
    assert set(cmp.OPTIMIZERS) == set(rc.RELATIVE_RATE)


@pytest.mark.parametrize("name", _racing_names())
def test_every_racer_moves_downhill_on_rosenbrock(name):
    """Three eager steps from (-1.2, 1) at the race's rate: finite, moved, the loss of the best
    of them below the start (line searches, Polyak's, Momo's steps and Sophia get the loss too)."""
    surface = rc.SURFACES["rosenbrock"]
    tx = rc.racer(name, surface.learning_rate * rc.RELATIVE_RATE[name])
    p = start = jnp.asarray(surface.start, jnp.float32)
    state, losses = tx.init(p), [float(surface.fn(p))]
    for _ in range(3):
        value, grad = jax.value_and_grad(surface.fn)(p)
        u, state = tx.update(grad, state, p, value=value, grad=grad, value_fn=surface.fn)
        p = p + u
        losses.append(float(surface.fn(p)))
    assert np.all(np.isfinite(np.asarray(p))) and not np.array_equal(p, start)
    assert min(losses[1:]) < losses[0], losses


def test_compare_runs_the_optimizers_that_take_the_loss(tmp_path, capsys):
    """L-BFGS (its line search evaluates the batch loss), Polyak's step and lookahead (slow
    weights in the state) inside ``flax.nnx.Optimizer``."""
    args = ["compare", "--optimizers", "lbfgs,polyak_sgd,lookahead", "--steps", "10"]
    assert cli.main([*args, "--out", str(tmp_path), "--quiet"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip()[:1].isdigit()]
    assert {r.split()[1] for r in rows} == {"lbfgs", "polyak_sgd", "lookahead"}
    for row in rows:
        assert float(row.split()[2]) < 2.2  # start ln 10 = 2.30
