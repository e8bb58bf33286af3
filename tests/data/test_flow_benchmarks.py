"""The reference runner's datasets of Tong et al.'s 2-D table (pgm_ppl.data.flow_benchmarks)."""

import numpy as np
import pytest

from pgm_ppl.data.flow_benchmarks import FLOW_BENCHMARKS, FLOW_DATASETS, flow_benchmark, sample_flow_dataset


def test_eight_gaussians_are_stratified_with_std_one_on_radius_five():
    x = sample_flow_dataset("8gaussians", 8000, seed=0)
    angles = 2 * np.pi * np.arange(1, 9) / 8
    centres = 5 * np.column_stack([np.cos(angles), np.sin(angles)])
    nearest = np.argmin(((x[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=8)
    assert abs(counts - 1000).max() < 60  # stratified 1000 each; a few points cross the boundaries between modes
    within = x - centres[nearest]
    # the mean of 8000 unit-sd deviations has s.e. 1/sqrt(8000) = 0.011 per coordinate: 0.05 is ~4.5 s.e.
    assert np.linalg.norm(within.mean(0)) < 0.05
    assert within.std() == pytest.approx(1.0, abs=0.05)  # a bit under 1: the nearest-centre rule trims tails


def test_moons_scurve_and_twodim_match_the_runner_transforms():
    from sklearn import datasets as sk

    rng = np.random.default_rng(3)
    seed = int(rng.integers(0, 2**31 - 1))
    raw, _ = sk.make_moons(500, noise=0.05, random_state=seed)
    np.testing.assert_allclose(sample_flow_dataset("moons", 500, seed=3), 2 * raw - [1.0, 0.0])
    raw, _ = sk.make_s_curve(500, noise=0.05, random_state=seed)
    np.testing.assert_allclose(sample_flow_dataset("scurve", 500, seed=3), 1.5 * raw[:, [0, 2]])
    raw, _ = sk.make_moons(500, noise=0.1, random_state=seed)
    twodim = sample_flow_dataset("twodim_moons", 500, seed=3)
    assert twodim.mean() == pytest.approx(0.0, abs=1e-12) and twodim.std(ddof=1) == pytest.approx(7.0)
    np.testing.assert_allclose(twodim, (raw - raw.mean()) / raw.std(ddof=1) * 7)
    gaussians = sample_flow_dataset("twodim_8gaussians", 20000, seed=0)
    radius = np.linalg.norm(gaussians, axis=1)
    assert np.median(radius) == pytest.approx(12.0, abs=0.2)  # centres 4 * 3 = 12 from the origin, std 1.5


def test_benchmark_problems_split_one_pool_reproducibly():
    assert list(FLOW_BENCHMARKS) == ["gaussian_to_8gaussians", "8gaussians_moons", "gaussian_to_moons",
                                     "gaussian_to_scurve"]
    assert set(d for pair in FLOW_BENCHMARKS.values() for d in pair) <= set(FLOW_DATASETS)
    a = flow_benchmark("8gaussians_moons", num_train=200, num_test=100, seed=1)
    b = flow_benchmark("8gaussians_moons", num_train=200, num_test=100, seed=1)
    assert a.source == "twodim_moons" and a.target == "twodim_8gaussians"  # the runner's direction
    np.testing.assert_array_equal(a.target_floor, b.target_floor)
    assert a.source_train.shape == (200, 2) and a.target_test.shape == (100, 2) and a.target_floor.shape == (100, 2)
    pool = np.concatenate([a.source_train, a.source_test])
    assert pool.std(ddof=1) == pytest.approx(7.0, rel=0.02)  # standardised as one pool of 400 rows
    assert not np.allclose(a.target_test, a.target_floor)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="name: expected one of"):
        sample_flow_dataset("spirals", 10)
    with pytest.raises(ValueError, match="num_samples"):
        sample_flow_dataset("moons", 1)
    with pytest.raises(TypeError, match="seed"):
        flow_benchmark("gaussian_to_moons", seed=1.5)
