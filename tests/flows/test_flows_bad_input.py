"""Chapter 8 flows as a new user meets them: every model's ``log_prob``/``sample`` takes what ``train`` takes
(arrays or tensors of either float dtype), and bad input fails once, naming the argument, what was expected and
what was received."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from pgm_ppl.cli import main
from pgm_ppl.flows import ContinuousFlow, cnf, maf, nsf, planar, radial, realnvp

X64 = np.random.default_rng(0).normal(size=(6, 2))


def _small_cnf():
    return cnf(2, hidden_features=8, solver="rk4", num_steps=4)


FACTORIES = {"maf": lambda: maf(2, hidden_features=8), "nsf": lambda: nsf(2, hidden_features=8),
             "realnvp": lambda: realnvp(2, hidden_features=8), "cnf": _small_cnf}


@pytest.mark.parametrize("name", FACTORIES)
def test_log_prob_takes_arrays_and_either_float_dtype(name):
    model = FACTORIES[name]()
    reference = model.log_prob(torch.as_tensor(X64, dtype=torch.float32))
    assert reference.shape == (6,) and reference.dtype == torch.float32
    # a float64 array (what numpy gives) is scored in the model's dtype: the same numbers, not a dtype error
    torch.testing.assert_close(model.log_prob(X64), reference)
    torch.testing.assert_close(model.log_prob(torch.as_tensor(X64)), reference)


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("bad, shape", [(np.zeros((3, 5)), (3, 5)), (np.zeros(2), (2,)), (np.zeros((1, 3, 2)),
                                                                                           (1, 3, 2))])
def test_log_prob_of_the_wrong_shape_names_x(name, bad, shape):
    with pytest.raises(ValueError, match="^" + re.escape(f"x: expected shape (n, 2), got {shape}.") + "$"):
        FACTORIES[name]().log_prob(bad)


@pytest.mark.parametrize("name", FACTORIES)
def test_sample_size_is_checked(name):
    model = FACTORIES[name]()
    with pytest.raises(ValueError, match="num_samples: expected an integer >= 1, got 0"):
        model.sample(0)
    with pytest.raises(TypeError, match="num_samples: expected an integer, got 2.5"):
        model.sample(2.5)
    assert model.sample(3).shape == (3, 2)


def test_log_prob_of_something_that_is_not_numbers():
    with pytest.raises(TypeError, match="x: expected a tensor or array of shape \\(n, 2\\), got str"):
        maf(2).log_prob("x")


def test_conditional_flow_context_is_checked():
    flow = realnvp(2, context_features=1, hidden_features=8)
    context = torch.zeros(6, 1)
    assert flow.log_prob((X64, context)).shape == (6,)
    with pytest.raises(ValueError, match=r"context: expected 6 rows \(one per row of x\), got 4"):
        flow.log_prob((X64, torch.zeros(4, 1)))
    with pytest.raises(ValueError, match=r"context: expected 3 rows \(one per draw\), got 6"):
        flow.sample(3, context)
    with pytest.raises(ValueError, match="context: expected None for this unconditional flow"):
        maf(2).log_prob((X64, context))


@pytest.mark.parametrize("factory", [planar, radial])
def test_planar_and_radial_flows_say_they_have_no_density_at_data(factory):
    flow = factory(2)
    draws = flow.sample(4)
    own = flow.log_prob(draws)  # the density of its own latest draws (Pyro's cached inverse) still works
    assert own.shape == (4,) and bool(torch.isfinite(own).all())
    with pytest.raises(ValueError, match="log_prob: this flow has planar, radial or Sylvester layers"):
        flow.log_prob(X64)
    with pytest.raises(ValueError, match="model: this flow has planar, radial or Sylvester layers"):
        flow.model(torch.as_tensor(X64, dtype=torch.float32))


def test_continuous_flow_times_must_be_finite_numbers():
    with pytest.raises(ValueError, match="t0: expected a finite time, got nan"):
        ContinuousFlow(lambda t, x: x, features=2, t0=float("nan"))
    with pytest.raises(TypeError, match="t1: expected a number \\(a time\\), got 'a'"):
        ContinuousFlow(lambda t, x: x, features=2, t1="a")
    flow = ContinuousFlow(lambda t, x: -x, features=2, t0=np.float32(0.0), t1=torch.tensor(1.0), solver="rk4")
    assert (flow.t0, flow.t1) == (0.0, 1.0)
    # dx/dt = -x from 0 to 1: x(1) = x(0) e^{-1}, log-determinant -d (the divergence is -2 for d = 2)
    u = torch.ones(3, 2, dtype=torch.float64)
    x, delta = flow.integrate(u, 0.0, 1.0)
    torch.testing.assert_close(x, u * np.exp(-1.0), rtol=1e-4, atol=0)
    torch.testing.assert_close(delta, torch.full((3,), -2.0, dtype=torch.float64))


def test_a_cnf_exposes_its_transform_like_every_flow():
    model = _small_cnf()
    transform = model.transform()
    assert transform is model.flow
    x = torch.as_tensor(X64, dtype=torch.float32)
    u = transform.inv(x)
    base = torch.distributions.Normal(0.0, 1.0)
    # log p(x) = log p0(T^{-1} x) - log|det dT/du| at u = T^{-1}(x), course eq. (8.2)
    expected = base.log_prob(u).sum(-1) - transform.log_abs_det_jacobian(u, x)
    torch.testing.assert_close(model.log_prob(x), expected, rtol=1e-4, atol=1e-4)


def test_pgm_ppl_train_fits_one_column_data_with_a_flow(tmp_path, capsys):
    data = tmp_path / "one.npy"
    np.save(data, np.random.default_rng(1).normal(size=(60, 1)))
    status = main(["train", "maf", "--data", str(data), "--out", str(tmp_path / "run"), "--steps", "3",
                   "--batch-size", "16", "--set", "hidden_features=8", "--set", "transforms=1"])
    assert status == 0, capsys.readouterr().err
    assert (tmp_path / "run" / "model.pt").is_file()
    # realnvp's coupling layers need two halves: refused with the models that take one column
    status = main(["train", "realnvp", "--data", str(data), "--out", str(tmp_path / "nvp")])
    assert status == 2
    assert "realnvp needs at least 2 columns, got 1 (for 1-column data use one of maf" in capsys.readouterr().err
