"""Diagnosis warnings on constructed posteriors where the right answer is known."""

import arviz as az
import numpy as np

from pgm_ppl.diagnostics import diagnose


def _idata(posterior, **groups):
    return az.from_dict(posterior=posterior, **groups)


def test_well_mixed_chains_raise_no_warning():
    rng = np.random.default_rng(0)
    assert diagnose(_idata({"theta": rng.normal(size=(4, 1000))})).warnings == ()


def test_disagreeing_chains_flag_rhat():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(4, 500)) + np.array([0.0, 0.0, 0.0, 3.0])[:, None]
    (warning,) = [w for w in diagnose(_idata({"theta": draws})).warnings if "R-hat" in w]
    assert warning.startswith("R-hat > 1.01 for 1 parameter(s) (theta)")


def test_divergences_and_low_ess_are_counted():
    rng = np.random.default_rng(0)
    sticky = np.cumsum(rng.normal(size=(2, 200)), axis=1)  # a random walk: tiny ESS
    diverging = np.zeros((2, 200), bool)
    diverging[0, :3] = True
    found = diagnose(_idata({"theta": sticky}, sample_stats={"diverging": diverging})).warnings
    assert any(w.startswith("3 divergent transition(s)") for w in found)
    assert any(w.startswith("ESS below 200 for 1 parameter(s) (theta)") for w in found)


def test_influential_points_flag_pareto_k():
    rng = np.random.default_rng(1)
    mu = rng.normal(0.0, 0.5, size=(2, 500))
    y = np.r_[np.zeros(19), 8.0]  # one outlier under a unit-scale normal model
    log_lik = -0.5 * (y - mu[..., None]) ** 2 - 0.5 * np.log(2 * np.pi)
    found = diagnose(_idata({"mu": mu}, log_likelihood={"y": log_lik})).warnings
    assert any(w.startswith("Pareto k > 0.7 for 1 of 20 observations of 'y'") for w in found)
