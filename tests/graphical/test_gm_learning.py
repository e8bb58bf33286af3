"""Bayesian-network parameter learning: counts against pgmpy's MLE; EM with missing data is monotone."""

import os
import warnings

import numpy as np
import pandas as pd
import pytest

from pgm_ppl.graphical import BayesianNetwork, expectation_maximization, maximum_likelihood, read_bif

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import pgmpy
    from pgmpy.estimators import MaximumLikelihoodEstimator
    from pgmpy.models import DiscreteBayesianNetwork

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
ASIA = os.path.join(os.path.dirname(pgmpy.__file__), "utils", "example_models", "asia.bif.gz")


@pytest.fixture(scope="module")
def asia():
    bn = read_bif(ASIA)
    x = bn.sample(3000, seed=0)
    return bn, {v: x[:, j] for j, v in enumerate(bn.variables)}


def test_mle_equals_pgmpy(asia):
    bn, data = asia
    fit = maximum_likelihood(bn, data)
    frame = pd.DataFrame({v: [bn.state_names[v][s] for s in col] for v, col in data.items()})
    model = DiscreteBayesianNetwork([(p, v) for v in bn.variables for p in bn.parents[v]])
    est = MaximumLikelihoodEstimator(model, frame)
    for v in bn.variables:
        cpd = est.estimate_cpd(v)
        table = np.moveaxis(cpd.values, 0, -1)
        table = np.transpose(table, [cpd.variables[1:].index(p) for p in bn.parents[v]] + [len(bn.parents[v])])
        for axis, u in enumerate(bn.parents[v] + (v,)):
            table = np.take(table, [cpd.state_names[u].index(s) for s in bn.state_names[u]], axis=axis)
        seen = np.isfinite(table).all(-1) & (table.sum(-1) > 0)
        np.testing.assert_allclose(fit.cpts[v][seen], table[seen], atol=1e-12)


def test_mle_is_consistent(asia):
    bn, data = asia
    fit = maximum_likelihood(bn, data, pseudo_count=1.0)
    assert abs(fit.cpts["smoke"][0] - bn.cpts["smoke"][0]) < 4 * 0.5 / np.sqrt(3000)


def test_em_monotone_with_missing_values(asia):
    bn, data = asia
    rng = np.random.default_rng(1)
    small = {v: c[:600].copy() for v, c in data.items()}
    for v in ("lung", "tub", "bronc"):
        small[v][rng.random(600) < 0.4] = -1
    init = BayesianNetwork(bn.parents, {v: np.full(t.shape, 1.0 / t.shape[-1]) * 0.5
                                        + 0.5 * rng.dirichlet(np.ones(t.shape[-1]), size=t.shape[:-1])
                                        for v, t in bn.cpts.items()}, bn.state_names)
    res = expectation_maximization(init, small, max_iter=15)
    assert np.all(np.diff(res.log_likelihood) >= -1e-9 * np.abs(res.log_likelihood[1:]))
    assert res.log_likelihood[-1] > res.log_likelihood[0]


def test_em_without_missing_values_is_one_mle_step(asia):
    bn, data = asia
    res = expectation_maximization(bn, data, max_iter=2)
    mle = maximum_likelihood(bn, data)
    for v in bn.variables:
        np.testing.assert_allclose(res.network.cpts[v], mle.cpts[v], atol=1e-10)


def test_validation(asia):
    bn, data = asia
    bad = dict(data)
    bad["smoke"] = data["smoke"].copy()
    bad["smoke"][3] = 5
    with pytest.raises(ValueError, match="column 'smoke', row 3"):
        maximum_likelihood(bn, bad)
    with pytest.raises(ValueError, match="no column"):
        maximum_likelihood(bn, {"smoke": data["smoke"]})


def test_em_names_the_data_row_of_probability_zero():
    """Issue 18: a row whose observed values the starting CPTs rule out raised the junction tree's 'evidence has
    probability zero' from inside EM, naming neither the data nor the row."""
    bn = BayesianNetwork({"a": (), "b": ("a",), "c": ("b",)},
                         {"a": [0.3, 0.7], "b": [[1.0, 0.0], [0.0, 1.0]], "c": [[0.9, 0.1], [0.0, 1.0]]})
    data = {"a": np.array([0, 1, 0]), "b": np.array([-1, -1, -1]), "c": np.array([0, 0, -1])}
    with pytest.raises(ValueError, match=r"data: .* row 1 \{'a': 1, 'c': 0\} of probability zero"):
        expectation_maximization(bn, data)
    with pytest.raises(ValueError, match="pseudo_count: expected a finite number >= 0"):
        expectation_maximization(bn, data, pseudo_count=-1.0)
