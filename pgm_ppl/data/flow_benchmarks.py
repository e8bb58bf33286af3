r"""The 2-D flow-matching benchmark of Tong et al. (2024), with the reference runner's dataset definitions.

Tong et al., "Improving and generalizing flow-based generative models with minibatch optimal transport"
(TMLR 2024, arXiv 2302.00482), Table 2 (re-reported in arXiv 2307.03672), compare OT-CFM, I-CFM, FM and RF on four
2-D transport problems. The datasets are those of the paper's runner, ``atong01/conditional-flow-matching``,
``runner/src/datamodules/distribution_datamodule.py`` and ``runner/src/datamodules/components/two_dim.py``
(commit cacd4dc). They differ from the helpers of torchcfm's tutorials (``torchcfm/utils.py``: 8 Gaussians of
radius 5 and std 0.7 with random labels, moons ×3 minus 1):

``"8gaussians"`` (problem N→8gaussians)
    The runner's ``TorchDynDataModule(system="gaussians")``, i.e. torchdyn's ``generate_gaussians`` with
    ``n_gaussians=8, radius=5, std_gaussians=1, noise=1e-4`` (``runner/configs/datamodule/gaussians.yaml``):
    ``num_samples / 8`` points per component (stratified, not multinomial), centres
    :math:`5(\cos\theta_k, \sin\theta_k)`, :math:`\theta_k = 2\pi (k+1)/8`, standard deviation 1, plus one
    :math:`\mathcal N(0, 10^{-8} I)` offset per component (torchdyn's ``noise``).
``"moons"`` (N→moons)
    ``SKLearnDataModule(system="moons")``: ``make_moons(noise=0.05)``, times 2, first coordinate minus 1.
``"scurve"`` (N→scurve)
    ``SKLearnDataModule(system="scurve")``: ``make_s_curve(noise=0.05)``, columns (0, 2), times 1.5.
``"twodim_moons"``, ``"twodim_8gaussians"`` (the pair 8gaussians↔moons)
    ``TwoDimDataModule(system="moon-8gaussians")`` through ``two_dim.data_distrib``: moons with noise 0.1
    standardised by the *scalar* mean and (unbiased) standard deviation of all their coordinates, times 7; and
    the FFJORD 8 Gaussians (centres on the unit circle times 4, standard deviation 0.5, a uniformly random
    component per point), the whole times 3. In the runner the *source* (t = 0) is the moons and the target
    (t = 1) the 8 Gaussians; :func:`flow_benchmark` keeps that direction.
``"gaussian"``
    The standard normal source :math:`\mathcal N(0, I_2)` of the three other problems.

The runner evaluates on 1,000 test points; :func:`flow_benchmark` draws the train, test and floor rows as one pool
(as the runner splits one pool) so that the data-dependent standardisation of the twodim moons is shared, and
defaults to 10,000 test points: with 1,000, the W2 between two independent samples of the same law (the floor) is
larger than several published numbers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn import datasets as sk

__all__ = ["FLOW_BENCHMARKS", "FLOW_DATASETS", "FlowBenchmark", "flow_benchmark", "sample_flow_dataset"]


def _generator_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _gaussian(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((n, 2))


def _eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    """torchdyn ``generate_gaussians(n // 8, 8, radius=5, std_gaussians=1, noise=1e-4)`` (stratified)."""
    counts = np.full(8, n // 8) + (np.arange(8) < n % 8)
    angles = 2.0 * np.pi * np.arange(1, 9) / 8.0
    centres = 5.0 * np.column_stack([np.cos(angles), np.sin(angles)]) + 1e-4 * rng.standard_normal((8, 2))
    points = np.repeat(centres, counts, axis=0) + rng.standard_normal((n, 2))
    return points[rng.permutation(n)]  # the runner's random_split shuffles the component blocks


def _moons(n: int, rng: np.random.Generator) -> np.ndarray:
    x, _ = sk.make_moons(n, noise=0.05, random_state=_generator_seed(rng))
    x = 2.0 * x
    x[:, 0] -= 1.0
    return x


def _scurve(n: int, rng: np.random.Generator) -> np.ndarray:
    x, _ = sk.make_s_curve(n, noise=0.05, random_state=_generator_seed(rng))
    return 1.5 * x[:, [0, 2]]


def _twodim_moons(n: int, rng: np.random.Generator) -> np.ndarray:
    x, _ = sk.make_moons(n, noise=0.1, random_state=_generator_seed(rng))
    return (x - x.mean()) / x.std(ddof=1) * 7.0  # torch's Tensor.std is unbiased


def _twodim_eight_gaussians(n: int, rng: np.random.Generator) -> np.ndarray:
    s = 1.0 / np.sqrt(2.0)
    centres = 4.0 * np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)])
    return 3.0 * (0.5 * rng.standard_normal((n, 2)) + centres[rng.integers(0, 8, size=n)])


_GENERATORS = {
    "gaussian": (_gaussian, "standard normal on R^2 (the source of the N->... problems)"),
    "8gaussians": (_eight_gaussians, "8 Gaussians, std 1, on the circle of radius 5 (torchdyn, stratified)"),
    "moons": (_moons, "sklearn moons (noise 0.05) x2, x[0] - 1"),
    "scurve": (_scurve, "sklearn S-curve (noise 0.05), columns (0, 2), x1.5"),
    "twodim_moons": (_twodim_moons, "moons (noise 0.1) standardised by their scalar mean/std, x7"),
    "twodim_8gaussians": (_twodim_eight_gaussians, "FFJORD 8 Gaussians (radius 4, std 0.5), x3"),
}

FLOW_DATASETS: dict[str, str] = {name: text for name, (_, text) in _GENERATORS.items()}
"""Each dataset of the benchmark with a one-line description."""

FLOW_BENCHMARKS: dict[str, tuple[str, str]] = {
    "gaussian_to_8gaussians": ("gaussian", "8gaussians"),
    "8gaussians_moons": ("twodim_moons", "twodim_8gaussians"),
    "gaussian_to_moons": ("gaussian", "moons"),
    "gaussian_to_scurve": ("gaussian", "scurve"),
}
"""The four problems of Table 2 in its column order, as (source, target) dataset names (source at t = 0)."""


def _check_count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}.")
    return int(value)


def _check_name(name: object, table: dict, argument: str) -> str:
    if name not in table:
        raise ValueError(f"{argument}: expected one of {', '.join(map(repr, table))}, got {name!r}.")
    return str(name)


def sample_flow_dataset(name: str, num_samples: int, *, seed: int = 0) -> np.ndarray:
    """Draw ``num_samples`` rows of a benchmark dataset (see the module docstring), shape ``(num_samples, 2)``.

    Parameters
    ----------
    name
        One of :data:`FLOW_DATASETS`.
    num_samples
        Rows to draw (>= 2; the twodim moons are standardised within the sample).
    seed
        An integer >= 0; the same seed gives the same rows.

    Raises
    ------
    ValueError, TypeError
        An unknown name, fewer than 2 rows, a negative or non-integer seed.

    Examples
    --------
    >>> sample_flow_dataset("moons", 5, seed=0).shape
    (5, 2)
    """
    name = _check_name(name, _GENERATORS, "name")
    num_samples = _check_count(num_samples, "num_samples", 2)
    seed = _check_count(seed, "seed", 0)
    return _GENERATORS[name][0](num_samples, np.random.default_rng(seed)).astype(np.float64)


class FlowBenchmark(NamedTuple):
    """One transport problem: training and test rows of the source (t = 0) and the target (t = 1).

    ``target_floor`` is a second target sample, independent of ``target_test`` and of its size: the W2 between
    the two is the floor below which no model's W2 on ``target_test`` can be told from the truth.
    """

    name: str
    source: str
    target: str
    source_train: np.ndarray
    target_train: np.ndarray
    source_test: np.ndarray
    target_test: np.ndarray
    target_floor: np.ndarray


def flow_benchmark(name: str, *, num_train: int = 10_000, num_test: int = 10_000, seed: int = 0) -> FlowBenchmark:
    """The rows of one problem of Tong et al.'s Table 2 (:data:`FLOW_BENCHMARKS`).

    Each side is drawn as one pool of ``num_train + 2 * num_test`` rows (the runner draws one pool and splits it)
    and split into train, test and floor rows; source and target use independent seeds derived from ``seed``.

    Raises
    ------
    ValueError, TypeError
        An unknown problem name or bad sizes or seed.

    Examples
    --------
    >>> problem = flow_benchmark("gaussian_to_moons", num_train=100, num_test=50)
    >>> problem.source_train.shape, problem.target_test.shape, problem.target_floor.shape
    ((100, 2), (50, 2), (50, 2))
    """
    name = _check_name(name, FLOW_BENCHMARKS, "name")
    num_train = _check_count(num_train, "num_train", 1)
    num_test = _check_count(num_test, "num_test", 1)
    seed = _check_count(seed, "seed", 0)
    source, target = FLOW_BENCHMARKS[name]
    seeds = np.random.SeedSequence([seed, 1729]).generate_state(2)
    pools = [sample_flow_dataset(dataset, num_train + 2 * num_test, seed=int(s))
             for dataset, s in zip((source, target), seeds)]
    cut = (num_train, num_train + num_test)
    (s_train, s_test, _), (t_train, t_test, t_floor) = (np.split(pool, cut) for pool in pools)
    return FlowBenchmark(name, source, target, s_train, t_train, s_test, t_test, t_floor)
