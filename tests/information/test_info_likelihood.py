"""Maximum likelihood with observed-information standard errors, and the generative classifier of Example 1.1."""

import numpy as np
import pytest
import statsmodels.api as sm
import torch
from scipy import stats
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from torch.distributions import constraints

from pgm_ppl.information import autodiff_mle, fit_gaussian_classifier, fit_logistic_regression


@pytest.fixture(scope="module")
def normal_sample():
    return np.random.default_rng(0).normal(2.0, 3.0, size=200)


def test_gaussian_mle_and_standard_errors_closed_form(normal_sample):
    """mu_hat = mean, sigma_hat = biased std; se(mu) = sigma/sqrt(n), se(sigma) = sigma/sqrt(2n)."""
    y = torch.as_tensor(normal_sample)
    result = autodiff_mle(lambda t: torch.distributions.Normal(t["mu"], t["sigma"]).log_prob(y).sum(),
                                {"mu": 0.0, "sigma": 1.0}, support={"sigma": constraints.positive})
    n, s = len(normal_sample), normal_sample.std()
    np.testing.assert_allclose(result.params["mu"], normal_sample.mean(), rtol=1e-9)
    np.testing.assert_allclose(result.params["sigma"], s, rtol=1e-9)
    np.testing.assert_allclose(result.standard_errors["mu"], s / np.sqrt(n), rtol=1e-6)
    np.testing.assert_allclose(result.standard_errors["sigma"], s / np.sqrt(2 * n), rtol=1e-6)
    np.testing.assert_allclose(result.log_likelihood, stats.norm(normal_sample.mean(), s).logpdf(normal_sample).sum(),
                               rtol=1e-12)
    assert result.converged


def test_linear_regression_mle_is_least_squares():
    """Remark 1.6: Gaussian regression y ~ N(a x, sigma^2) (1.10)-(1.11) gives the least-squares slope."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, 100)
    y = 1.5 * x + 0.4 * rng.normal(size=100)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    result = autodiff_mle(lambda t: torch.distributions.Normal(t["a"] * xt, t["sigma"]).log_prob(yt).sum(),
                                {"a": 0.0, "sigma": 1.0}, support={"sigma": constraints.positive})
    a_hat = x @ y / (x @ x)
    np.testing.assert_allclose(result.params["a"], a_hat, rtol=1e-9)
    np.testing.assert_allclose(result.params["sigma"] ** 2, np.mean((y - a_hat * x) ** 2), rtol=1e-8)
    np.testing.assert_allclose(result.standard_errors["a"], result.params["sigma"] / np.sqrt(x @ x), rtol=1e-6)


@pytest.fixture(scope="module")
def binary_data():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(-(X @ [1.0, -2.0, 0.5] + 0.3)))).astype(float)
    return X, y


def test_logistic_regression_against_statsmodels(binary_data):
    X, y = binary_data
    ours = fit_logistic_regression(X, y)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    np.testing.assert_allclose(ours.params["intercept"], ref.params[0], rtol=1e-6)
    np.testing.assert_allclose(ours.params["weights"], ref.params[1:], rtol=1e-6)
    np.testing.assert_allclose(ours.standard_errors["weights"], ref.bse[1:], rtol=1e-5)
    np.testing.assert_allclose(ours.log_likelihood, ref.llf, rtol=1e-10)


def test_shared_covariance_classifier_is_lda_and_logistic(binary_data):
    """Equal covariances give the sklearn LDA posterior, whose log-odds are affine in x (Exercise 1.1)."""
    X, y = binary_data
    clf = fit_gaussian_classifier(X, y, shared_covariance=True)
    ref = LinearDiscriminantAnalysis(solver="lsqr").fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X), rtol=1e-8, atol=1e-12)
    lj = clf.log_joint(X)
    log_odds = lj[:, 1] - lj[:, 0]
    design = np.column_stack([np.ones(len(X)), X])
    coef, *_ = np.linalg.lstsq(design, log_odds, rcond=None)
    np.testing.assert_allclose(design @ coef, log_odds, atol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), ref.predict(X))


def test_separate_covariance_classifier_against_scipy(binary_data):
    X, y = binary_data
    clf = fit_gaussian_classifier(X, y, shared_covariance=False)
    joint = []
    for c in (0.0, 1.0):
        Xc = X[y == c]
        cov = np.cov(Xc.T, bias=True)
        joint.append(np.mean(y == c) * stats.multivariate_normal(Xc.mean(0), cov).pdf(X))
    joint = np.stack(joint, 1)
    np.testing.assert_allclose(clf.predict_proba(X), joint / joint.sum(1, keepdims=True), rtol=1e-9)


def test_errors(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="y must contain only the labels 0 and 1"):
        fit_logistic_regression(X, y + 1)
    with pytest.raises(ValueError, match=r"y must have shape \(N,\) = \(300,\); got \(299,\)"):
        fit_gaussian_classifier(X, y[:-1])
    with pytest.raises(ValueError, match="support names parameters not in init"):
        autodiff_mle(lambda t: t["a"].sum(), {"a": 0.0}, support={"b": constraints.positive})
    with pytest.raises(ValueError, match="is outside its support"):
        autodiff_mle(lambda t: t["a"].sum(), {"a": -1.0}, support={"a": constraints.positive})
