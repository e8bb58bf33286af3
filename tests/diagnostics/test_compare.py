"""compare_heldout: held-out elpd of an EM mixture and a NUTS fit in ArviZ's own compare table."""

import re
from dataclasses import dataclass

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.datasets import make_blobs

from pgm_ppl import dist, fit, pyro
from pgm_ppl.core.result import Fit
from pgm_ppl.diagnostics import DensityKindWarning, compare_heldout, plot_compare_heldout
from pgm_ppl.em import fit_gmm, gmm_log_prob
from pgm_ppl.em.density import GaussianMixtureDensity

X, _ = make_blobs(n_samples=300, centers=3, n_features=2, cluster_std=0.8, random_state=0)
X_TRAIN, X_TEST = X[:200], X[200:]
GMM3 = fit_gmm(X_TRAIN, 3, seed=0).params
GMM1 = fit_gmm(X_TRAIN, 1, seed=0).params


def em_fit(params):
    """An EM result in the one result type, as the classical engines return it."""
    return Fit(method="em", backend="numpy", model=None, args=(), kwargs={}, posterior={}, point_estimate=True,
               density=GaussianMixtureDensity(params))


def arviz_waic(log_lik):
    """ArviZ's own elpd and se on the same pointwise values: WAIC of draws that all equal ``log_lik`` (the
    variance penalty is then zero, so waic_i = log_lik exactly)."""
    idata = az.from_dict(log_likelihood={"x": np.broadcast_to(log_lik, (1, 4, len(log_lik)))})
    return az.waic(idata, pointwise=True)


def test_gmm_elpd_equals_the_direct_heldout_log_likelihood_and_arviz_se():
    table = compare_heldout({"gmm3": em_fit(GMM3), "gmm1": GaussianMixtureDensity(GMM1)}, X_TEST)
    assert list(table.index) == ["gmm3", "gmm1"]
    assert list(table.columns) == ["rank", "elpd", "p", "d_elpd", "weight", "se", "dse", "warning", "scale",
                                   "kind"]
    direct = {name: gmm_log_prob(X_TEST, params) for name, params in (("gmm3", GMM3), ("gmm1", GMM1))}
    for name, lp in direct.items():
        assert table.loc[name, "elpd"] == pytest.approx(lp.sum(), rel=1e-12)
        assert table.loc[name, "se"] == pytest.approx(np.sqrt(len(lp) * np.var(lp)), rel=1e-12)
        reference = arviz_waic(lp)
        assert table.loc[name, "elpd"] == pytest.approx(reference["elpd_waic"], rel=1e-12)
        assert table.loc[name, "se"] == pytest.approx(reference["se"], rel=1e-12)
    diff = direct["gmm3"] - direct["gmm1"]
    assert table.loc["gmm1", "d_elpd"] == pytest.approx(diff.sum(), rel=1e-12)
    assert table.loc["gmm1", "dse"] == pytest.approx(np.sqrt(len(diff) * np.var(diff)), rel=1e-12)
    reference = az.compare({name: arviz_waic(lp) for name, lp in direct.items()})  # ArviZ's dse, same values
    assert table.loc["gmm1", "dse"] == pytest.approx(reference.loc["gmm1", "dse"], rel=1e-12)
    assert table["weight"].sum() == pytest.approx(1.0)
    assert (table["kind"] == "exact").all() and table.loc["gmm3", "rank"] == 0


def test_scales_follow_arviz():
    lp = gmm_log_prob(X_TEST, GMM3)
    table = compare_heldout({"gmm3": GaussianMixtureDensity(GMM3)}, X_TEST, scale="deviance")
    assert table.loc["gmm3", "elpd"] == pytest.approx(-2 * lp.sum(), rel=1e-12)
    assert table.loc["gmm3", "scale"] == "deviance"


def normal_2d(x):
    mu = pyro.sample("mu", dist.Normal(0.0, 10.0).expand([2]).to_event(1))
    sigma = pyro.sample("sigma", dist.HalfNormal(5.0).expand([2]).to_event(1))
    with pyro.plate("data", x.shape[0]):
        pyro.sample("x", dist.Normal(mu, sigma).to_event(1), obs=x)


def test_an_em_mixture_and_a_nuts_fit_in_one_table():
    bayes = fit(normal_2d, X_TRAIN, backend="pyro", num_samples=100, num_warmup=100, num_chains=1, seed=0,
                progress_bar=False, num_prior_samples=0, predictive=False, log_likelihood=False)
    table = compare_heldout({"gmm3": em_fit(GMM3), "normal (NUTS)": bayes}, X_TEST)
    assert table.loc["normal (NUTS)", "kind"] == "posterior_predictive"
    assert table.loc["normal (NUTS)", "elpd"] == pytest.approx(bayes.log_prob(X_TEST).sum(), rel=1e-12)
    assert list(table.index) == ["gmm3", "normal (NUTS)"]  # three blobs: the mixture predicts far better
    assert table.loc["normal (NUTS)", "d_elpd"] > 2 * table.loc["normal (NUTS)", "dse"]  # 31.7 vs dse 10.8
    ax = plot_compare_heldout(table)
    assert ax.get_xlabel() == "held-out elpd (log)"
    plt.close(ax.figure)


@dataclass(frozen=True)
class ShiftedBound:
    """A stand-in lower bound: the mixture's log-density minus one nat."""

    params: object
    kind: str = "lower_bound"

    def log_prob(self, x):
        return gmm_log_prob(x, self.params) - 1.0

    def sample(self, num_samples, seed=0):
        raise NotImplementedError


def test_a_bound_beside_exact_densities_is_marked_and_warned():
    with pytest.warns(DensityKindWarning, match=re.escape("ranks 'bound' (lower_bound) beside models")):
        table = compare_heldout({"exact": GaussianMixtureDensity(GMM3), "bound": ShiftedBound(GMM3)}, X_TEST)
    assert table.loc["bound", "kind"] == "lower_bound"
    assert table.loc["bound", "d_elpd"] == pytest.approx(len(X_TEST))


def test_bad_results_and_data_are_reported():
    with pytest.raises(TypeError, match=re.escape("model 'params': expected a Fit or a Density (an object with "
                                                  "kind, log_prob and sample), got GMMParams.")):
        compare_heldout({"params": GMM3}, X_TEST)
    no_density = Fit(method="em", backend="numpy", model=None, args=(), kwargs={}, posterior={})
    with pytest.raises(ValueError, match=re.escape("model 'bare': this 'em' fit has no density on new data")):
        compare_heldout({"bare": no_density}, X_TEST)
    with pytest.raises(ValueError, match=re.escape("model 'gmm3' expects data rows of shape (2,) (dimension 2), "
                                                   "got data of shape (100, 3)")):
        compare_heldout({"gmm3": em_fit(GMM3)}, np.hstack([X_TEST, X_TEST[:, :1]]))
    with pytest.raises(ValueError, match=re.escape("scale: expected one of 'log', 'negative_log', 'deviance'")):
        compare_heldout({"gmm3": em_fit(GMM3)}, X_TEST, scale="logs")
    bad = X_TEST.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape("data: expected finite values, got nan at row 3, column 1")):
        compare_heldout({"gmm3": em_fit(GMM3)}, bad)
