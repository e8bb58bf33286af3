r"""Kernel design on Mauna Loa CO2 (statsmodels' ``co2`` data, shipped with the package; Rasmussen and
Williams, 2006, §5.4.3).

The monthly means (1958-2001) are modelled as the sum of four GPs (kernel algebra, Remark 4.15):

.. math::

    k = \underbrace{\theta_1^2 k_{SE}(\ell_1)}_{\text{long-term trend}}
      + \underbrace{\theta_2^2 k_{SE}(\ell_2)\,k_{Per}(\ell_3, p=1)}_{\text{seasonal, slowly changing}}
      + \underbrace{\theta_3^2 k_{RQ}(\ell_4, \alpha)}_{\text{medium-term irregularities}}
      + \underbrace{\theta_4^2 k_{SE}(\ell_5)}_{\text{correlated noise}}
      + \sigma_n^2\delta,

with time in years and the targets centred. Hyper-parameters are learned with :func:`pgm_ppl.gp.exact.train`.
"""

from __future__ import annotations

from typing import NamedTuple

import gpytorch
import numpy as np

from pgm_ppl.gp.kernels import periodic, rational_quadratic, squared_exponential

__all__ = ["CO2Data", "load_co2", "co2_kernel"]


class CO2Data(NamedTuple):
    """Monthly CO2: ``t`` in decimal years (N,), ``ppm`` (N,), and the ``offset`` (mean ppm) removed in
    ``y = ppm - offset``."""

    t: np.ndarray
    ppm: np.ndarray
    y: np.ndarray
    offset: float


def load_co2() -> CO2Data:
    """Monthly means of the weekly Mauna Loa record in ``statsmodels.datasets.co2`` (no download)."""
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().dropna()
    t = (monthly.index.year + (monthly.index.month - 0.5) / 12).to_numpy(dtype=np.float64)
    ppm = monthly.to_numpy(dtype=np.float64)
    offset = float(ppm.mean())
    return CO2Data(t, ppm, ppm - offset, offset)


def co2_kernel() -> gpytorch.kernels.Kernel:
    """The composite kernel above, initialised at values of the order of Rasmussen and Williams' (§5.4.3)."""
    trend = squared_exponential(lengthscale=50.0, variance=50.0**2)
    seasonal = squared_exponential(lengthscale=100.0, variance=2.0**2) * periodic(1.0, 1.0)
    irregular = rational_quadratic(lengthscale=1.0, alpha=1.0, variance=0.5**2)
    noise = squared_exponential(lengthscale=0.1, variance=0.1**2)
    return trend + seasonal + irregular + noise
