"""Chapter 8: normalising flows as Pyro objects.

Learned flows are zuko's transforms (maintained; Pyro's own flows are frozen) turned into Pyro
``TransformModule`` s by :class:`ZukoTransform`; planar and radial layers are Pyro's. Closed-form maps (affine,
monotone rearrangement, Knothe-Rosenblatt), the change of variables in both directions, flow guides for SVI, and
the continuity-equation and linear-ODE checks complete the chapter's first part.
"""

from pgm_ppl.flows.base import FlowModel, realnvp
from pgm_ppl.flows.change_of_variables import compose, log_density_forward, log_density_inverse, pushforward
from pgm_ppl.flows.closed_form import (KnotheRosenblatt, MatrixAffineTransform, MonotoneRearrangement,
                                       gaussian_conditionals)
from pgm_ppl.flows.continuous import ContinuousFlow, ContinuousFlowModel, divergence
from pgm_ppl.flows.ffjord import NeuralField, cnf
from pgm_ppl.flows.guides import flow_guide
from pgm_ppl.flows.learned import iaf, maf, monotone_spline, nsf, planar, radial
from pgm_ppl.flows.transport import ContinuityResidual, GaussianPath, continuity_residual, linear_gaussian_path
from pgm_ppl.flows.zuko_transform import ZukoTransform

__all__ = ["ContinuityResidual", "ContinuousFlow", "ContinuousFlowModel", "FlowModel", "GaussianPath",
           "KnotheRosenblatt", "MatrixAffineTransform", "MonotoneRearrangement", "NeuralField", "ZukoTransform", "cnf",
           "compose", "continuity_residual", "divergence", "flow_guide", "gaussian_conditionals", "iaf",
           "linear_gaussian_path", "log_density_forward", "log_density_inverse", "maf", "monotone_spline", "nsf",
           "planar", "pushforward", "radial", "realnvp"]
