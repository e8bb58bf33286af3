"""Graphical models and message passing: Bayesian networks, MRFs, exact and approximate inference, HMMs, Kalman."""

from .belief_propagation import BeliefPropagationResult, belief_propagation
from .bayesnet import BayesianNetwork, read_bif
from .elimination import EliminationResult, elimination_order, log_partition, variable_elimination
from .factors import Factor, FactorGraph, factor_product
from .hmm import (BaumWelchResult, CategoricalHMM, ForwardBackwardResult, GaussianHMM, ViterbiResult, baum_welch,
                  forward_backward, viterbi)
from .junction_tree import Calibration, JunctionTree
from .mrf import (GibbsResult, MeanFieldResult, PairwiseMRF, gibbs_sample, ising_grid, mean_field,
                  potts_grid)

__all__ = [
    "BayesianNetwork", "read_bif",
    "EliminationResult", "elimination_order", "log_partition", "variable_elimination",
    "Factor", "FactorGraph", "factor_product",
    "Calibration", "JunctionTree",
    "BaumWelchResult", "CategoricalHMM", "ForwardBackwardResult", "GaussianHMM", "ViterbiResult", "baum_welch",
    "forward_backward", "viterbi",
    "BeliefPropagationResult", "belief_propagation",
    "GibbsResult", "MeanFieldResult", "PairwiseMRF", "gibbs_sample", "ising_grid", "mean_field", "potts_grid",
]
