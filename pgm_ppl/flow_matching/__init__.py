r"""Chapter 8 (part 2): flow matching -- probability paths, couplings, CFM losses, rectified flows, interpolants.

A vector field :math:`v_\theta(t, x)` is regressed onto the analytic field of a conditional probability path
(course §8, eqs. (8.8)-(8.24)). The losses are **regression losses, not ELBOs**: :func:`pgm_ppl.training.train`
runs them as custom losses (each model's ``loss(batch)`` method), and the trained field is a continuous flow
(:class:`pgm_ppl.flows.continuous.ContinuousFlow`), so it samples by one ODE solve and has an exact log-likelihood.

* paths: :class:`LinearPath` (rectified flow, I-CFM), :class:`LipmanOTPath` (:math:`\sigma_{\min}`),
  :class:`BrownianBridgePath` (Schrödinger bridge, stochastic interpolants), :class:`VariancePreservingPath`;
  :class:`GaussianMarginal`, the marginal path and field in closed form between Gaussians (a reference);
* couplings (chapter 5, :mod:`pgm_ppl.ot`): :class:`IndependentCoupling`, :class:`ExactOTCoupling` (a
  permutation), :class:`SinkhornCoupling`;
* models: :class:`FlowMatchingModel` with the factories :func:`ot_cfm`, :func:`i_cfm`, :func:`fm_lipman`,
  :func:`rectified_flow`, :func:`sb_cfm`; reflow (:func:`reflow_pairs`, :func:`reflow_model`); stochastic
  interpolants (:class:`StochasticInterpolant`);
* metrics: path energy, NPE, straightness, quality against NFE.
"""

from pgm_ppl.flow_matching.couplings import (Coupling, ExactOTCoupling, IndependentCoupling, SinkhornCoupling,
                                             make_coupling)
from pgm_ppl.flow_matching.interpolants import StochasticInterpolant, stochastic_interpolant
from pgm_ppl.flow_matching.marginal import GaussianMarginal
from pgm_ppl.flow_matching.metrics import PathStatistics, normalized_path_energy, path_statistics, quality_vs_nfe
from pgm_ppl.flow_matching.model import (FlowMatchingModel, VectorField, cfm_model, fm_lipman, i_cfm, ot_cfm,
                                         rectified_flow, sb_cfm)
from pgm_ppl.flow_matching.paths import (BrownianBridgePath, LinearPath, LipmanOTPath, ProbabilityPath,
                                         VariancePreservingPath, make_path)
from pgm_ppl.flow_matching.rectified import reflow_model, reflow_pairs

__all__ = [
    "BrownianBridgePath",
    "Coupling",
    "ExactOTCoupling",
    "FlowMatchingModel",
    "GaussianMarginal",
    "IndependentCoupling",
    "LinearPath",
    "LipmanOTPath",
    "PathStatistics",
    "ProbabilityPath",
    "SinkhornCoupling",
    "StochasticInterpolant",
    "VariancePreservingPath",
    "VectorField",
    "cfm_model",
    "fm_lipman",
    "i_cfm",
    "make_coupling",
    "make_path",
    "normalized_path_energy",
    "ot_cfm",
    "path_statistics",
    "quality_vs_nfe",
    "rectified_flow",
    "reflow_model",
    "reflow_pairs",
    "sb_cfm",
    "stochastic_interpolant",
]
