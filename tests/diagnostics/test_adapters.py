"""One route to ArviZ: every engine's result converts with ``to_inference_data(result, data)``.

Each case builds an engine result on tiny data and checks the contract: a posterior group, the engine named
in ``attrs["method"]``, the objective trace in ``sample_stats`` where the engine has one, the pointwise
log-likelihood summing to the engine's own log-likelihood where it reports one, and ``az.summary`` running.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest

from pgm_ppl.core import ConvergenceWarning, Fit
from pgm_ppl.diagnostics import as_fit, supported_result_types, to_inference_data

RNG = np.random.default_rng(0)
X2 = np.concatenate([RNG.normal(-2.0, 0.6, size=(40, 2)), RNG.normal(2.0, 0.6, size=(40, 2))])
X4 = RNG.normal(size=(60, 3)) @ RNG.normal(size=(3, 4)) + 0.3 * RNG.normal(size=(60, 4))


def _gmm():
    from pgm_ppl.em import fit_gmm
    r = fit_gmm(X2, 2, max_iter=50)
    return r, X2, r.log_likelihood, "em", True


def _run_em():
    import torch

    from pgm_ppl.em import EStep, run_em
    x = torch.as_tensor(X2[:, 0])

    def e_step(mu):
        return EStep(None, float(torch.distributions.Normal(mu, 1.0).log_prob(x).sum()))

    r = run_em(torch.tensor(0.0), e_step, lambda q, mu: x.mean(), max_iter=5)
    return r, X2[:, 0], None, "em", True


def _factor_analysis():
    from pgm_ppl.em import fit_factor_analysis
    r = fit_factor_analysis(X4, 2, max_iter=200, tol=1e-8)
    return r, X4, r.log_likelihood, "em", True


def _ppca():
    from pgm_ppl.em import fit_factor_analysis
    r = fit_factor_analysis(X4, 1, isotropic=True, max_iter=200, tol=1e-8)
    return r, X4, r.log_likelihood, "em", True


def _mfa():
    from pgm_ppl.em import fit_mfa
    r = fit_mfa(X4, 2, 1, max_iter=20)
    return r, X4, r.log_likelihood, "em", True


def _student_t():
    from pgm_ppl.em import fit_student_t_mixture
    r = fit_student_t_mixture(X2, 2, max_iter=20)
    return r, X2, r.log_likelihood, "em", True


def _bernoulli_mixture():
    from pgm_ppl.em import fit_bernoulli_mixture
    X = (RNG.random((50, 6)) < np.repeat([[0.9] * 3 + [0.1] * 3, [0.1] * 3 + [0.9] * 3], 25, axis=0)).astype(float)
    r = fit_bernoulli_mixture(X, 2, max_iter=30)
    return r, X, r.log_likelihood, "em", True


def _kmeans():
    from pgm_ppl.clustering import kmeans
    return kmeans(X2, 2), X2, None, "kmeans", True


def _bayesian_gmm():
    from pgm_ppl.cavi import fit_bayesian_gmm
    return fit_bayesian_gmm(X2, 2, max_iter=30), X2, None, "cavi", True


def _linear_regression():
    from pgm_ppl.cavi import fit_linear_regression
    X = RNG.normal(size=(30, 2))
    y = X @ np.array([1.0, -0.5]) + 0.2 * RNG.normal(size=30)
    return fit_linear_regression(X, y), (X, y), None, "cavi", True


def _lda():
    from pgm_ppl.cavi import fit_lda, sample_lda_corpus
    counts = sample_lda_corpus(8, 12, 2, doc_length=30, seed=0).counts
    return fit_lda(counts, 2, max_iter=5, tol=0.0), counts, None, "cavi", True


def _mixture_means():
    from pgm_ppl.cavi import fit_mixture_means
    return fit_mixture_means(X2[:, 0], [-1.0, 1.0]), X2[:, 0], None, "cavi", True


def _mean_field_gaussian():
    from pgm_ppl.cavi import mean_field_gaussian
    return mean_field_gaussian(np.zeros(2), np.array([[1.0, 0.8], [0.8, 1.0]]), num_sweeps=10), None, None, "cavi", True


def _dp_cavi():
    from pgm_ppl.dp import cavi
    return cavi.run(X2, 4, max_iter=100), X2, None, "cavi", True


def _dp_gibbs():
    from pgm_ppl.dp import gibbs
    return gibbs.run(X2[:20], num_samples=20, num_warmup=5), X2[:20], None, "gibbs", False


def _baum_welch():
    from pgm_ppl.graphical import CategoricalHMM, baum_welch
    truth = CategoricalHMM(np.array([0.6, 0.4]), np.array([[0.9, 0.1], [0.2, 0.8]]),
                           np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]))
    _, x = truth.sample(6, 15, seed=0)
    start = CategoricalHMM(np.array([0.5, 0.5]), np.array([[0.7, 0.3], [0.4, 0.6]]),
                           np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]]))
    r = baum_welch(start, x, max_iter=500, tol=1e-6)
    assert r.converged  # the last recorded log-likelihood is then the final model's
    return r, x, r.log_likelihood[-1], "baum_welch", True


def _kalman_em():
    from pgm_ppl.graphical import LinearGaussianSSM, kalman_em
    _, x = LinearGaussianSSM(0.9, 1.0, 0.5, 1.0, 0.0, 1.0).sample(40, seed=0)
    x[5] = np.nan
    r = kalman_em(LinearGaussianSSM(0.5, 1.0, 1.0, 1.0, 0.0, 1.0), x, learn=("A", "Q", "R"), max_iter=500,
                  tol=1e-7)
    assert r.converged
    return r, x, r.log_likelihood[-1], "kalman_em", True


def _bayesnet_em():
    from pgm_ppl.graphical import BayesianNetwork, expectation_maximization
    truth = BayesianNetwork({"a": (), "b": ("a",)}, {"a": [0.7, 0.3], "b": [[0.9, 0.1], [0.2, 0.8]]})
    samples = truth.sample(80, seed=0)
    data = {v: np.asarray(samples[v] if isinstance(samples, dict) else samples[:, i]).astype(np.int64)
            for i, v in enumerate(truth.variables)}
    data["a"][:20] = -1
    start = BayesianNetwork({"a": (), "b": ("a",)}, {"a": [0.5, 0.5], "b": [[0.6, 0.4], [0.4, 0.6]]})
    r = expectation_maximization(start, data, max_iter=500, tol=1e-9)
    assert r.converged
    return r, data, r.log_likelihood[-1], "bayesnet_em", True


def _gp_training():
    from pgm_ppl.gp import kernels as K
    from pgm_ppl.gp.exact import train
    x = np.linspace(0, 3, 15)[:, None]
    y = np.sin(2 * x[:, 0]) + 0.1 * RNG.normal(size=15)
    r = train(K.squared_exponential(), x, y, noise_variance=0.1, max_iter=10)
    return r, (x, y), r.log_marginal_likelihood, "gp_lbfgs", True


def _svgp():
    from pgm_ppl.gp import kernels as K
    from pgm_ppl.gp.sparse import train_svgp
    x = np.linspace(0, 3, 30)[:, None]
    y = np.sin(2 * x[:, 0]) + 0.1 * RNG.normal(size=30)
    return (train_svgp(K.squared_exponential(), x, y, num_inducing=5, batch_size=10, num_epochs=2.0), (x, y),
            None, "svgp", True)


def _laplace_gpc():
    from pgm_ppl.gp import kernels as K
    from pgm_ppl.gp.classification import laplace_classification
    x = np.linspace(-2, 2, 12)[:, None]
    y = (x[:, 0] + 0.3 * RNG.normal(size=12) > 0).astype(float)
    return laplace_classification(K.squared_exponential(), x, y), (x, y), None, "laplace_gpc", False


def _variational_gpc():
    from pgm_ppl.gp import kernels as K
    from pgm_ppl.gp.classification import variational_classification
    x = np.linspace(-2, 2, 12)[:, None]
    y = (x[:, 0] + 0.3 * RNG.normal(size=12) > 0).astype(float)
    return variational_classification(K.squared_exponential(), x, y, num_steps=5), (x, y), None, "variational_gpc", True


def _mle():
    from pgm_ppl.information.likelihood import autodiff_mle
    import torch
    y = torch.as_tensor(X2[:, 0])

    def log_likelihood(p):
        return torch.distributions.Normal(p["mu"], 1.0).log_prob(y).sum()

    return autodiff_mle(log_likelihood, {"mu": 0.0}), X2[:, 0], None, "mle", False


def _laplace_result():
    from pgm_ppl.inference.laplace import laplace_approximation
    return laplace_approximation(lambda z: -0.5 * (z**2).sum(), np.ones(2)), None, None, "laplace", False


def _newton():
    from pgm_ppl.inference.laplace import logistic_regression_newton
    x = RNG.normal(size=30)
    y = (x + 0.5 * RNG.normal(size=30) > 0).astype(float)
    return logistic_regression_newton(x, y), (x, y), None, "newton", False


ENGINES = {f.__name__.lstrip("_"): f for f in (
    _gmm, _run_em, _factor_analysis, _ppca, _mfa, _student_t, _bernoulli_mixture, _kmeans, _bayesian_gmm,
    _linear_regression, _lda, _mixture_means, _mean_field_gaussian, _dp_cavi, _dp_gibbs, _baum_welch, _kalman_em,
    _bayesnet_em, _gp_training, _svgp, _laplace_gpc, _variational_gpc, _mle, _laplace_result, _newton)}


@pytest.mark.parametrize("engine", list(ENGINES))
def test_every_engine_result_converts(engine):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tiny budgets on purpose
        result, data, log_likelihood, method, has_trace = ENGINES[engine]()
    idata = to_inference_data(result, data, num_samples=50, seed=1)
    assert "posterior" in idata.groups()
    assert idata.posterior.attrs["method"] == method
    if has_trace:
        assert "loss" in idata.sample_stats and idata.sample_stats["loss"].sizes["step"] >= 1
        fit = as_fit(result, data, num_samples=50, seed=1)
        assert fit.converged is None or fit.stop_reason in ("tol", "max_iter")
    if data is not None:
        assert "observed_data" in idata.groups()
    if log_likelihood is not None:  # a real numeric check: the pointwise terms sum to the engine's own number
        total = float(sum(v.values.sum() for v in idata.log_likelihood.data_vars.values()))
        assert total == pytest.approx(log_likelihood, abs=1e-8, rel=1e-10)
    assert az.summary(idata, kind="stats").shape[0] > 0


def test_fit_passes_through_and_keeps_its_method():
    result = ENGINES["bayesian_gmm"]()[0]
    fit = as_fit(result, num_samples=20, seed=0)
    assert isinstance(fit, Fit) and as_fit(fit) is fit
    assert fit.to_inference_data().posterior["pi"].shape == (1, 20, 2)
    with pytest.raises(ValueError, match="already carries"):
        as_fit(fit, X2)


def test_draws_use_the_seed_only():
    result = ENGINES["bayesian_gmm"]()[0]
    np.random.seed(1)
    a = as_fit(result, num_samples=10, seed=3).posterior["mu"]
    np.random.seed(2)
    b = as_fit(result, num_samples=10, seed=3).posterior["mu"]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, as_fit(result, num_samples=10, seed=4).posterior["mu"])


def test_gmm_result_has_the_exact_density():
    result, data, *_ = ENGINES["gmm"]()
    fit = as_fit(result, data)
    assert fit.density.kind == "exact" and fit.point_estimate
    np.testing.assert_allclose(fit.log_prob(data), fit.log_likelihood["x"][0, 0], rtol=1e-12)
    assert fit.sample(5, seed=0).shape == (5, 2)


def test_unknown_result_type_lists_the_supported_ones():
    with pytest.raises(TypeError, match="Supported result types: .*GMMResult.*CAVIResult") as info:
        to_inference_data({"mu": 1.0})
    assert "dict" in str(info.value)
    assert "pgm_ppl.em.gmm.GMMResult" in supported_result_types()
