"""Mean-field and Gibbs sampling for pairwise MRFs against exact junction-tree marginals."""

import itertools
import warnings

import arviz as az
import numpy as np
import pytest

from pgm_ppl.core.convergence import ConvergenceWarning
from pgm_ppl.graphical import JunctionTree, PairwiseMRF, gibbs_sample, ising_grid, mean_field, potts_grid


def _mcse(samples: np.ndarray, num_states: int) -> np.ndarray:
    """Monte Carlo standard error of each site's state frequencies, (n, K), from the effective sample size of the
    indicator draws across chains (ArviZ's ESS: it accounts for the sampler's autocorrelation)."""
    return np.array([[az.mcse((samples[:, :, i] == k).astype(float)) for k in range(num_states)]
                     for i in range(samples.shape[-1])])


def _exact_marginals(mrf):
    cal = JunctionTree(mrf.to_factor_graph()).calibrate()
    return np.stack([cal.marginal(v) for v in mrf.names]), cal.log_value


def test_log_potential_and_junction_tree_match_enumeration():
    mrf = potts_grid(2, 3, num_states=3, coupling=0.7, unary=np.random.default_rng(0).normal(size=(6, 3)))
    states = np.array(list(itertools.product(range(3), repeat=6)))
    logp = mrf.log_potential(states)
    log_z = np.log(np.exp(logp).sum())
    marg, lz = _exact_marginals(mrf)
    assert abs(lz - log_z) < 1e-12
    p0 = np.array([np.exp(logp[states[:, 0] == k] - log_z).sum() for k in range(3)])
    np.testing.assert_allclose(marg[0], p0, atol=1e-12)


def test_mean_field_is_exact_without_coupling():
    mrf = ising_grid(3, 3, coupling=0.0, field=np.linspace(-1, 1, 9))
    res = mean_field(mrf)
    marg, log_z = _exact_marginals(mrf)
    np.testing.assert_allclose(res.q, marg, atol=1e-12)
    assert abs(res.elbo - log_z) < 1e-10


@pytest.mark.parametrize("coupling", [0.2, 0.6])
def test_mean_field_elbo_is_monotone_and_below_log_z(coupling):
    mrf = ising_grid(4, 4, coupling=coupling, field=0.1)
    res = mean_field(mrf, seed=1)
    _, log_z = _exact_marginals(mrf)
    assert np.all(np.diff(res.elbo_history) >= -1e-12)
    assert res.elbo <= log_z + 1e-12
    assert res.converged


def test_mean_field_overconfident_in_the_ordered_phase():
    """Above the critical coupling mean-field magnetisation saturates while the exact one is much smaller."""
    mrf = ising_grid(4, 4, coupling=0.6, field=0.02)
    marg, _ = _exact_marginals(mrf)
    res = mean_field(mrf, init=np.tile([0.4, 0.6], (16, 1)))
    exact_m = (marg[:, 1] - marg[:, 0]).mean()
    mf_m = (res.q[:, 1] - res.q[:, 0]).mean()
    assert mf_m > 0.9 and mf_m - exact_m > 0.3


def test_gibbs_marginals_within_monte_carlo_error():
    mrf = ising_grid(3, 3, coupling=0.3, field=0.2)
    marg, _ = _exact_marginals(mrf)
    res = gibbs_sample(mrf, num_samples=2000, num_chains=8, num_warmup=100, seed=0)
    assert res.samples.shape == (8, 2000, 9)
    est = res.marginals()
    # 4 Monte Carlo standard errors from the ESS of the 8 x 2000 draws (ESS 8,800-12,200 here; was 10 naive s.e.)
    assert np.all(np.abs(est[:, 1] - marg[:, 1]) < 4 * _mcse(res.samples, 2)[:, 1])


def test_gibbs_on_potts_with_seed_is_reproducible_and_correct():
    mrf = potts_grid(2, 2, num_states=3, coupling=0.5, unary=np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1]]))
    marg, _ = _exact_marginals(mrf)
    a = gibbs_sample(mrf, 3000, num_chains=4, seed=7)
    b = gibbs_sample(mrf, 3000, num_chains=4, seed=7)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert np.all(np.abs(a.marginals() - marg) < 4 * _mcse(a.samples, 3))   # was 10 naive s.e.


def test_colouring_is_proper():
    mrf = ising_grid(5, 4, coupling=1.0, periodic=True)
    colour = np.empty(mrf.num_sites, dtype=int)
    for c, sites in enumerate(mrf.colouring()):
        colour[sites] = c
    assert np.all(colour[mrf.edges[:, 0]] != colour[mrf.edges[:, 1]])


def test_validation():
    with pytest.raises(ValueError, match="pairwise"):
        PairwiseMRF(np.zeros((3, 2)), [[0, 1]], np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="field"):
        ising_grid(2, 2, 0.1, field=np.zeros(3))
    with pytest.raises(ValueError, match="num_samples"):
        gibbs_sample(ising_grid(2, 2, 0.1), 0)


def test_potts_mean_field_and_bp_against_exact():
    from pgm_ppl.graphical import belief_propagation

    unary = np.random.default_rng(2).normal(scale=0.5, size=(9, 3))
    mrf = potts_grid(3, 3, num_states=3, coupling=0.3, unary=unary)
    marg, log_z = _exact_marginals(mrf)
    mf = mean_field(mrf, seed=3)
    assert np.all(np.diff(mf.elbo_history) >= -1e-12) and mf.elbo <= log_z
    np.testing.assert_allclose(mf.q.sum(1), 1.0)
    # deterministic approximation errors (measured: mean field 4.8e-3, BP 1.4e-4); the bounds are ~2x and ~7x those,
    # far below what a wrong update would give (errors of the order of the coupling's effect, ~0.1)
    assert np.abs(mf.q - marg).max() < 0.01
    bp = belief_propagation(mrf.to_factor_graph())
    assert bp.converged
    assert max(np.abs(bp.marginals[v] - marg[i]).max() for i, v in enumerate(mrf.names)) < 1e-3
    assert abs(bp.log_value - log_z) < abs(mf.elbo - log_z)


def test_gibbs_marginals_cover_states_never_drawn():
    mrf = PairwiseMRF(np.array([[0.0, -50.0]]), np.zeros((0, 2)), np.zeros((0, 2, 2)))
    res = gibbs_sample(mrf, 50, num_chains=2, seed=0)
    np.testing.assert_array_equal(res.marginals(), [[1.0, 0.0]])


def test_mean_field_with_impossible_states_and_hard_constraints():
    """Issue 18: a unary log-potential of -inf (an impossible state) made the ELBO NaN (0 x -inf), and NaN
    potentials were accepted. Now q puts no mass on the impossible state and the ELBO equals log Z (exact here: the
    sites are independent once x0 is fixed); NaN/+inf, a site with no possible state and a hard pairwise
    constraint (ELBO -inf for every full-support q) are refused by name."""
    mrf = PairwiseMRF(np.array([[0.0, -np.inf], [0.3, 0.1]]), [[0, 1]], np.array([[[0.5, 0.0], [0.0, 0.5]]]))
    res = mean_field(mrf)
    states = np.array(list(itertools.product(range(2), repeat=2)))
    log_z = np.logaddexp.reduce(mrf.log_potential(states))
    assert res.q[0, 1] == 0.0 and np.isfinite(res.elbo_history).all()
    np.testing.assert_allclose(res.elbo, log_z, rtol=1e-14)
    with pytest.raises(ValueError, match=r"unary: expected finite log-potentials or -inf .* index \(0, 1\)"):
        PairwiseMRF(np.array([[0.0, np.nan]]), np.zeros((0, 2)), np.zeros((0, 2, 2)))
    with pytest.raises(ValueError, match="unary: expected a possible state at every site, got -inf for every state"):
        mean_field(PairwiseMRF(np.array([[-np.inf, -np.inf]]), np.zeros((0, 2)), np.zeros((0, 2, 2))))
    hard = PairwiseMRF(np.zeros((2, 2)), [[0, 1]], np.array([[[0.0, -np.inf], [-np.inf, 0.0]]]))
    with pytest.raises(ValueError, match=r"pairwise: .* hard constraint\) on the edge \(x0, x1\)"):
        mean_field(hard)
    with pytest.raises(ValueError, match="init: expected non-negative finite rows"):
        mean_field(mrf, init=np.array([[0.0, 0.0], [0.5, 0.5]]))


def test_gibbs_warns_when_hard_constraints_leave_the_chains_stuck():
    """Issue 18 (silent wrong answers): with an equality constraint (pairwise -inf off the diagonal) single-site
    Gibbs never moves, so 2 chains started at (0, 0) and (1, 1) report marginals (0.5, 0.5) where the exact ones are
    (0.426, 0.574). It now warns; with a hard constraint the chains can get around (only the pair (0, 1) forbidden)
    they mix, and it does not."""
    hard = PairwiseMRF(np.array([[0.0, 0.5], [0.2, 0.0]]), [[0, 1]], np.array([[[0.0, -np.inf], [-np.inf, 0.0]]]))
    with pytest.warns(ConvergenceWarning, match=r"chains disagree \(R-hat inf > 1.1 at site 'x0'\)"):
        res = gibbs_sample(hard, 200, num_chains=2, init=np.array([[0, 0], [1, 1]]), seed=0)
    np.testing.assert_array_equal(res.marginals()[:, 1], [0.5, 0.5])
    passable = PairwiseMRF(hard.unary, hard.edges, np.array([[[0.0, -np.inf], [0.0, 0.0]]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = gibbs_sample(passable, 2000, num_chains=2, init=np.array([[0, 0], [1, 1]]), seed=0)
    marg, _ = _exact_marginals(passable)
    assert np.all(np.abs(res.marginals() - marg) < 4 * _mcse(res.samples, 2))
