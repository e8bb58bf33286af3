r"""The course's covariance functions on GPyTorch kernel classes (course §4.3, eqs. (4.23)-(4.28)).

Every constructor returns a :class:`gpytorch.kernels.Kernel` in float64 whose hyper-parameters are set to
the notes' values, so kernels combine with ``+`` and ``*`` (kernel algebra, Remark 4.15) and plug into
GPyTorch models unchanged. The notes' parameterisation is kept: where GPyTorch's differs (the periodic
kernel divides by :math:`\ell` rather than :math:`\ell^2`) the constructor converts.

Functions :func:`gram` and :func:`sample_prior` evaluate a kernel on inputs and draw GP prior paths
(course Alg. 1).
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

import gpytorch
import numpy as np
import torch
from numpy.typing import ArrayLike

from pgm_ppl.core.linalg import cholesky
from pgm_ppl.core.validation import check_data, check_int, check_probability

__all__ = [
    "squared_exponential", "matern", "rational_quadratic", "periodic", "locally_periodic", "linear",
    "polynomial", "gram", "sample_prior", "PriorSamples", "as_inputs",
]

DTYPE = torch.float64

#: What :func:`as_inputs` accepts: a tensor or anything numpy reads as an array (lists, numpy and JAX arrays).
TensorLike: TypeAlias = torch.Tensor | ArrayLike


def as_inputs(x: TensorLike, name: str = "x") -> torch.Tensor:
    """Inputs as a float64 tensor of shape (N, d); a 1-D array is read as N scalar inputs."""
    t = torch.as_tensor(np.array(x, dtype=np.float64) if not isinstance(x, torch.Tensor) else x,
                        dtype=DTYPE)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ValueError(f"{name}: expected shape (N,) or (N, d), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        check_data(t, name, ndim=2)  # raises the one message style, naming the first non-finite entry
    return t


def _positive(value: float, name: str) -> float:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _scaled(base: gpytorch.kernels.Kernel, variance: float) -> gpytorch.kernels.ScaleKernel:
    kernel = gpytorch.kernels.ScaleKernel(base).to(DTYPE)
    kernel.outputscale = _positive(variance, "variance")
    return kernel


def squared_exponential(lengthscale: float = 1.0, variance: float = 1.0) -> gpytorch.kernels.Kernel:
    r"""Squared-exponential kernel, course eq. (4.25).

    .. math:: k(x, x') = \sigma^2 \exp\!\left(-\frac{\lVert x - x'\rVert^2}{2\ell^2}\right)

    with ``variance`` :math:`\sigma^2` and ``lengthscale`` :math:`\ell` (GPyTorch ``RBFKernel``).
    """
    base = gpytorch.kernels.RBFKernel().to(DTYPE)
    base.lengthscale = _positive(lengthscale, "lengthscale")
    return _scaled(base, variance)


def matern(nu: float = 2.5, lengthscale: float = 1.0, variance: float = 1.0) -> gpytorch.kernels.Kernel:
    r"""Matérn kernel with smoothness :math:`\nu \in \{1/2, 3/2, 5/2\}` (Exercise 4.9 uses :math:`\nu=1/2`).

    .. math:: k(r) = \sigma^2 \frac{2^{1-\nu}}{\Gamma(\nu)} \left(\frac{\sqrt{2\nu} r}{\ell}\right)^\nu
              K_\nu\!\left(\frac{\sqrt{2\nu} r}{\ell}\right), \qquad
              \nu = \tfrac12:\ k(r) = \sigma^2 e^{-r/\ell}.
    """
    if nu not in (0.5, 1.5, 2.5):
        raise ValueError(f"nu must be one of 0.5, 1.5, 2.5, got {nu!r}")
    base = gpytorch.kernels.MaternKernel(nu=nu).to(DTYPE)
    base.lengthscale = _positive(lengthscale, "lengthscale")
    return _scaled(base, variance)


def rational_quadratic(lengthscale: float = 1.0, alpha: float = 1.0,
                       variance: float = 1.0) -> gpytorch.kernels.Kernel:
    r"""Rational-quadratic kernel, course eq. (4.26): a scale mixture of SE kernels.

    .. math:: k(r) = \sigma^2 \left(1 + \frac{r^2}{2\alpha\ell^2}\right)^{-\alpha}
    """
    base = gpytorch.kernels.RQKernel().to(DTYPE)
    base.lengthscale = _positive(lengthscale, "lengthscale")
    base.alpha = _positive(alpha, "alpha")
    return _scaled(base, variance)


def periodic(lengthscale: float = 1.0, period: float = 1.0, variance: float = 1.0) -> gpytorch.kernels.Kernel:
    r"""Periodic kernel, course eq. (4.27).

    .. math:: k(r) = \sigma^2 \exp\!\left(-\frac{2\sin^2(\pi |r| / p)}{\ell^2}\right)

    GPyTorch's ``PeriodicKernel`` divides by its ``lengthscale`` unsquared, so it holds :math:`\ell^2`.
    """
    base = gpytorch.kernels.PeriodicKernel().to(DTYPE)
    base.lengthscale = _positive(lengthscale, "lengthscale") ** 2
    base.period_length = _positive(period, "period")
    return _scaled(base, variance)


def locally_periodic(lengthscale_se: float = 4.0, lengthscale_periodic: float = 1.0, period: float = 3.0,
                     variance: float = 1.0) -> gpytorch.kernels.Kernel:
    r"""Locally periodic kernel, course eq. (4.28): an SE envelope times a periodic kernel.

    .. math:: k(r) = \sigma^2 \exp\!\left(-\frac{r^2}{2\ell_{se}^2}\right)
              \exp\!\left(-\frac{2\sin^2(\pi |r| / p)}{\ell_{per}^2}\right)
    """
    return squared_exponential(lengthscale_se, variance) * periodic(lengthscale_periodic, period, 1.0)


def linear(variance: float = 1.0) -> gpytorch.kernels.Kernel:
    r"""Linear (dot-product) kernel :math:`k(x, x') = \sigma^2 x^\top x'`: BLR with identity features."""
    base = gpytorch.kernels.LinearKernel().to(DTYPE)
    base.variance = _positive(variance, "variance")
    return base


def polynomial(power: int = 2, offset: float = 1.0) -> gpytorch.kernels.Kernel:
    r"""Polynomial kernel, course eq. (4.23): :math:`k(x, x') = (x^\top x' + c)^p`.

    For :math:`d = p = 2` it equals the inner product of the 6-dimensional features of eq. (4.24)
    (see :func:`pgm_ppl.gp.blr.polynomial_features`).
    """
    if not isinstance(power, int) or power < 1:
        raise ValueError(f"power must be a positive integer, got {power!r}")
    kernel = gpytorch.kernels.PolynomialKernel(power=power).to(DTYPE)
    kernel.offset = _positive(offset, "offset")
    return kernel


def gram(kernel: gpytorch.kernels.Kernel, x: TensorLike, x2: TensorLike | None = None) -> np.ndarray:
    """The Gram matrix :math:`K_{ij} = k(x_i, x'_j)` as a float64 numpy array of shape (N, M)."""
    a = as_inputs(x, "x")
    b = a if x2 is None else as_inputs(x2, "x2")
    with torch.no_grad():
        return kernel(a, b).to_dense().numpy()


class PriorSamples(NamedTuple):
    """GP prior draws on a grid: ``paths`` (num_samples, N), pointwise ``mean`` and ``std`` (N,)."""

    x: np.ndarray
    paths: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def sample_prior(kernel: gpytorch.kernels.Kernel, x: TensorLike, num_samples: int = 3, *, seed: int = 0,
                 max_jitter: float = 1e-2) -> PriorSamples:
    r"""Draw zero-mean GP prior paths :math:`f = L z`, :math:`LL^\top = K + \epsilon I` (course Alg. 1).

    The jitter follows :func:`pgm_ppl.core.linalg.cholesky`'s policy, relative to the kernel's scale
    :math:`s = \overline{|K_{ii}|}` and the dtype's machine epsilon :math:`\varepsilon` (float64 here):
    :math:`\epsilon = 0` when :math:`K` factorises as it is, else :math:`\epsilon = N\varepsilon s`, raised
    tenfold until it does, up to ``max_jitter`` :math:`\cdot s`. (The notes' demo adds a fixed 1e-8, which is
    too much for a kernel of variance 1e-10 and nothing for one of variance 1e10.)

    Parameters
    ----------
    kernel
        Covariance function.
    x
        Inputs, shape (N,) or (N, d).
    num_samples
        Number of paths.
    seed
        Seed of the standard-normal draws :math:`z`.
    max_jitter
        Largest jitter relative to the kernel's scale, in [0, 1] (0: exact factorisation or an error).

    Returns
    -------
    PriorSamples
        ``paths`` (num_samples, N), the zero ``mean`` and the prior ``std`` :math:`\sqrt{K_{ii}}` (N,).

    Raises
    ------
    ValueError
        If ``num_samples`` or ``max_jitter`` is out of range, or :math:`K + \epsilon I` is not positive
        definite at the largest jitter allowed (the message names the Gram matrix).
    """
    num_samples = check_int(num_samples, "num_samples", minimum=1)
    max_jitter = check_probability(max_jitter, "max_jitter")
    xt = as_inputs(x)
    K = torch.as_tensor(gram(kernel, xt))
    L = cholesky(K, name="the Gram matrix", fix="check the kernel's hyper-parameters or raise max_jitter",
                 max_jitter=max_jitter)
    z = torch.randn(K.shape[0], num_samples, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
    paths = (L @ z).T.numpy()
    std = np.sqrt(np.clip(np.diag(K.numpy()), 0.0, None))
    return PriorSamples(xt.numpy(), paths, np.zeros(K.shape[0]), std)
