"""Continuous normalising flows (course eqs. (8.6)-(8.7), Remarks 8.6-8.7): references are the linear ODE's closed
form (expm(tA) x, log-det t tr(A)), Hutchinson's unbiasedness within its Monte Carlo error, the exact inverse, and
FFJORD maximum likelihood with a linear field, whose family is the Gaussians (the MLE is the sample mean and
covariance)."""

import numpy as np
import pytest
import torch
from scipy.linalg import expm

from pgm_ppl.diagnostics import compare_heldout, to_inference_data
from pgm_ppl.flows import ContinuousFlow, ContinuousFlowModel, linear_gaussian_path
from pgm_ppl.flows import cnf
from pgm_ppl.training import train

torch.set_num_threads(1)
DT = torch.float64
A = torch.tensor([[-0.5, 1.0, 0.2], [-1.0, -0.2, 0.0], [0.3, 0.1, 0.4]], dtype=DT)


class Linear(torch.nn.Module):
    """v(t, x) = A x + b with trainable A, b."""

    def __init__(self, A, b=None):
        super().__init__()
        self.A = torch.nn.Parameter(torch.as_tensor(A).clone())
        self.b = torch.nn.Parameter(torch.zeros(len(A), dtype=self.A.dtype) if b is None else b.clone())

    def forward(self, t, x):
        return x @ self.A.T + self.b


def _tanh_field(d=2, seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(d + 1, 16), torch.nn.Tanh(), torch.nn.Linear(16, d)).to(DT)

    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, t, x):
            return self.net(torch.cat([x, t.expand(x.shape[0], 1)], -1))

    return Field()


U = torch.as_tensor(np.random.default_rng(0).normal(size=(20, 3)), dtype=DT)


@pytest.mark.parametrize("solver, options, tol", [("dopri5", {"atol": 1e-10, "rtol": 1e-10}, 1e-8),
                                                  ("rk4", {"num_steps": 50}, 1e-6)])
@pytest.mark.parametrize("t0, t1", [(0.0, 1.0), (1.0, 0.2)])
def test_a_linear_field_gives_expm_and_t_trace(solver, options, tol, t0, t1):
    flow = ContinuousFlow(Linear(A), features=3, t0=t0, t1=t1, solver=solver, **options)
    with torch.no_grad():
        x = flow(U)
        log_det = flow.log_abs_det_jacobian(U, x)
    t = t1 - t0
    np.testing.assert_allclose(x.numpy(), U.numpy() @ expm(t * A.numpy()).T, atol=tol)
    np.testing.assert_allclose(log_det.numpy(), t * torch.trace(A).item(), atol=tol)
    assert flow.nfe > 0


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_is_unbiased_for_the_linear_trace(probe):
    # delta = t eps^T A eps per row; its mean over 4,000 rows (each its own probe) is t tr(A) within 5 standard
    # errors. Rademacher: Var = 2 sum_{i != j} ((A_ij + A_ji) / 2)^2 t^2; Gaussian adds the diagonal's 2 A_ii^2.
    flow = ContinuousFlow(Linear(A), features=3, trace="hutchinson", probe=probe, solver="rk4", num_steps=4)
    points = torch.zeros(4000, 3, dtype=DT)
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        _, delta = flow.integrate(points, 0.0, 1.0)
    se = delta.std().item() / np.sqrt(len(delta))
    assert abs(delta.mean().item() - torch.trace(A).item()) < 5 * se
    assert delta.std().item() > 0.1  # the estimate is random (a probe per row), not the exact trace


def test_exact_and_hutchinson_log_probs_agree_in_mean():
    field = _tanh_field()
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(2000, 2)), dtype=DT)
    exact = ContinuousFlowModel(field, features=2, atol=1e-7, rtol=1e-7)
    estimate = ContinuousFlowModel(field, features=2, atol=1e-7, rtol=1e-7, trace="hutchinson")
    assert exact.log_prob_kind == "exact" and estimate.log_prob_kind == "estimate"
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(1)
        difference = estimate.log_prob(x) - exact.log_prob(x)
    assert abs(difference.mean().item()) < 5 * difference.std().item() / np.sqrt(len(difference)) + 1e-6


def test_inverse_of_forward_is_the_identity():
    flow = ContinuousFlow(_tanh_field(), features=2, atol=1e-9, rtol=1e-9)
    u = U[:, :2]
    with torch.no_grad():
        x = flow(u)
        assert torch.max(torch.abs(flow.inv(x.clone()) - u)) < 1e-6
        assert torch.max(torch.abs(x - u)) > 0.1  # the map is not the identity


def test_a_tensor_scored_again_after_a_weight_update_is_re_solved():
    # Regression: with Pyro's identity cache, log_prob(X) twice on the same X returned the first weights' value.
    field = Linear(A[:2, :2])
    model = ContinuousFlowModel(field, features=2, atol=1e-9, rtol=1e-9)
    X = U[:5, :2]
    first = model.distribution(DT).log_prob(X).detach()
    with torch.no_grad():
        field.A.mul_(0.5)
    second = model.distribution(DT).log_prob(X).detach()
    np.testing.assert_allclose(second.numpy(), model.log_prob(X).detach().numpy(), atol=1e-10)
    assert torch.max(torch.abs(first - second)) > 1e-3


def test_the_linear_ode_pushes_a_gaussian_along_its_closed_form_path():
    # Exercise 8.5: z_0 ~ N(m0, S0) under v = A z + b has density N(m_t, S_t) at t; the CNF's exact log-density
    # (with that base) equals it.
    b = torch.tensor([0.3, -0.7, 0.1], dtype=DT)
    m0, S0 = torch.tensor([1.0, 0.5, 0.0], dtype=DT), torch.diag(torch.tensor([1.0, 0.5, 2.0], dtype=DT))
    model = ContinuousFlowModel(Linear(A, b), features=3, atol=1e-10, rtol=1e-10,
                                base=lambda dtype, device: torch.distributions.MultivariateNormal(m0, S0))
    path = linear_gaussian_path(A, b, m0, S0, torch.tensor([1.0], dtype=DT))
    reference = torch.distributions.MultivariateNormal(path.mean[0], path.covariance[0]).log_prob(U)
    with torch.no_grad():
        np.testing.assert_allclose(model.log_prob(U).numpy(), reference.numpy(), atol=1e-8)


def test_ffjord_maximum_likelihood_with_a_linear_field_recovers_the_sample_moments():
    # The pushforward of N(0, I) by the time-1 map of v = A x + b is N(c, M M^T) with M = e^A: every Gaussian with
    # an SPD covariance, so the MLE is the sample mean and (biased) covariance. Tolerance: Adam's remaining error.
    rng = np.random.default_rng(2)
    S = np.array([[1.0, 0.6], [0.6, 0.8]])
    X = rng.multivariate_normal([1.0, -1.0], S, size=200)
    field = Linear(torch.zeros(2, 2, dtype=DT))
    model = ContinuousFlowModel(field, features=2, solver="rk4", num_steps=4)  # RK4 error ~ (1/4)^4 |A|^5 / 120
    fit = train(model, X, num_steps=100, batch_size=200, learning_rate=0.1, seed=0, num_generated=0,
                progress_bar=False, dtype=DT)
    assert fit.losses[-1] < fit.losses[0]
    with torch.no_grad():
        c = model.flow(torch.zeros(1, 2, dtype=DT))[0]
        M = torch.stack([model.flow(torch.eye(2, dtype=DT)[i:i + 1])[0] - c for i in range(2)], 1)
    np.testing.assert_allclose(c.numpy(), X.mean(0), atol=0.02)
    np.testing.assert_allclose((M @ M.T).numpy(), np.cov(X.T, bias=True), atol=0.03)


def test_the_cnf_factory_trains_through_the_engine():
    X = np.random.default_rng(3).normal(size=(256, 2)) * [1.0, 0.3] + [0.5, 0.0]
    model = cnf(2, hidden_features=16, solver="rk4", num_steps=4, seed=0)
    fit = train(model, X, num_steps=30, batch_size=128, learning_rate=1e-2, seed=0, num_generated=16,
                validation_data=X[:64], validate_every=30, progress_bar=False)
    assert np.mean(fit.losses[-5:]) < np.mean(fit.losses[:5])
    assert fit.posterior_predictive["x"].shape[-2:] == (16, 2)
    # into ArviZ and the held-out table with its exact log-likelihood (the model's own log_prob, summed)
    assert to_inference_data(fit).log_likelihood["x"].shape == (1, 1, 64)
    table = compare_heldout({"cnf": fit}, X[:64])
    assert table.loc["cnf", "kind"] == "exact"
    with torch.no_grad():
        exact = float(model.log_prob(torch.as_tensor(X[:64], dtype=torch.float32)).sum())
    np.testing.assert_allclose(table.loc["cnf", "elpd"], exact, rtol=1e-5)
