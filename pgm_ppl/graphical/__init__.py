"""Graphical models and message passing.

Bayesian networks (CPTs, BIF files) and Markov random fields as factor graphs; exact inference by variable
elimination and junction trees; sum- and max-product belief propagation (exact on trees, loopy with
damping); mean-field and Gibbs sampling for pairwise MRFs; parameter learning (counts, EM); HMMs
(forward-backward, Viterbi, Baum-Welch); linear-Gaussian state-space models (Kalman filter, RTS smoother,
EM, with per-entry missing data); the notes' nonlinear state-space model with a bootstrap particle filter and,
as a Pyro model, a variational smoother fitted by SVI; a bridge to Pyro enumeration.
"""

from .bayesnet import BayesianNetwork, read_bif
from .belief_propagation import BeliefPropagationResult, belief_propagation
from .elimination import EliminationResult, elimination_order, log_partition, variable_elimination
from .factors import Factor, FactorGraph, factor_product
from .hmm import (BaumWelchResult, CategoricalHMM, ForwardBackwardResult, GaussianHMM, ViterbiResult, baum_welch,
                  forward_backward, viterbi)
from .junction_tree import Calibration, JunctionTree
from .kalman import (KalmanEMResult, KalmanFilterResult, LinearGaussianSSM, SmootherResult, kalman_em,
                     kalman_filter, rts_smoother)
from .learning import BayesNetEMResult, expectation_maximization, maximum_likelihood
from .mrf import (GibbsResult, MeanFieldResult, PairwiseMRF, gibbs_sample, ising_grid, mean_field,
                  potts_grid)
from .state_space import NonlinearSSM, ParticleFilterResult, bootstrap_particle_filter, course_ssm

__all__ = [
    # models
    "BayesianNetwork", "read_bif", "Factor", "FactorGraph", "factor_product", "PairwiseMRF", "ising_grid",
    "potts_grid",
    # exact inference
    "EliminationResult", "elimination_order", "log_partition", "variable_elimination", "Calibration",
    "JunctionTree",
    # approximate inference
    "BeliefPropagationResult", "belief_propagation", "MeanFieldResult", "mean_field", "GibbsResult",
    "gibbs_sample",
    # learning
    "maximum_likelihood", "BayesNetEMResult", "expectation_maximization",
    # hidden Markov models
    "CategoricalHMM", "GaussianHMM", "ForwardBackwardResult", "ViterbiResult", "BaumWelchResult",
    "forward_backward", "viterbi", "baum_welch",
    # state-space models
    "LinearGaussianSSM", "KalmanFilterResult", "SmootherResult", "KalmanEMResult", "kalman_filter",
    "rts_smoother", "kalman_em", "NonlinearSSM", "course_ssm", "ParticleFilterResult",
    "bootstrap_particle_filter",
    # Pyro
    "to_pyro_model", "ssm_model", "gauss_markov_guide", "NonlinearGaussianChain", "GaussMarkovChain",
    "VariationalSmootherResult", "variational_smoother",
]

_PYRO_MODULES = {"to_pyro_model": "pyro_bridge", "ssm_model": "state_space_svi",
                 "gauss_markov_guide": "state_space_svi", "NonlinearGaussianChain": "state_space_svi",
                 "GaussMarkovChain": "state_space_svi", "VariationalSmootherResult": "state_space_svi",
                 "variational_smoother": "state_space_svi"}


def __getattr__(name: str):
    """Import the Pyro-based modules on first use, so that importing this subpackage does not load Pyro."""
    if name in _PYRO_MODULES:
        from importlib import import_module

        return getattr(import_module(f".{_PYRO_MODULES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
