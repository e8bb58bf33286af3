"""Digits feature distance: small between two halves of the digits, large for noise; a content-hashed cache."""

import re

import numpy as np
import pytest
from sklearn.datasets import load_digits

from pgm_ppl.diagnostics import DigitsFeatureExtractor, digits_fd, digits_feature_extractor
from pgm_ppl.ot import gaussian_w2_sq

DIGITS = load_digits().data  # (1797, 64) in [0, 16]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Never touch the real home folder: the default cache goes under a temporary XDG_CACHE_HOME."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "pgm_ppl"


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    """Trained once for the module, in a temporary cache folder given explicitly."""
    return digits_feature_extractor(cache_dir=tmp_path_factory.mktemp("digits_cache"))


def test_fd_between_halves_of_the_digits_is_small_and_noise_is_far(extractor):
    order = np.random.default_rng(0).permutation(len(DIGITS))
    train, test = DIGITS[order[:900]], DIGITS[order[900:]]
    noise = np.random.default_rng(1).uniform(0, 16, size=test.shape)
    floor = digits_fd(test, train, extractor=extractor)
    assert extractor.accuracy > 0.95  # the features separate the classes
    assert 0 < floor < digits_fd(noise, train, extractor=extractor) / 20
    blurred = np.clip(test + np.random.default_rng(2).normal(0, 4, size=test.shape), 0, 16)
    assert floor < digits_fd(blurred, train, extractor=extractor)
    features = [extractor.features(x) for x in (test, train)]  # FD is the Bures W2^2 of the Gaussian fits
    moments = [(f.mean(axis=0), np.cov(f, rowvar=False) + 1e-6 * np.eye(f.shape[1])) for f in features]
    assert floor == pytest.approx(gaussian_w2_sq(*moments[0], *moments[1]), rel=1e-12)


def test_scales_and_image_shapes_agree(extractor):
    images = DIGITS[:50]
    features = extractor.features(images)
    np.testing.assert_array_equal(extractor.features(images.reshape(50, 8, 8)), features)
    np.testing.assert_allclose(extractor.features(images / 16, scale="unit"), features, rtol=0, atol=1e-12)
    assert digits_fd(images / 16, DIGITS[50:100], scale="unit", reference_scale="digits", extractor=extractor) == \
        pytest.approx(digits_fd(images, DIGITS[50:100], extractor=extractor), rel=1e-10)


def test_the_cache_is_hit_with_identical_features_and_keyed_by_content(private_cache, monkeypatch):
    first = digits_feature_extractor()
    files = sorted(private_cache.iterdir())
    assert [f.name for f in files] == [f"digits_features-{first.key}.npz"]  # no temporary file left behind

    def no_training(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr("sklearn.neural_network.MLPClassifier.fit", no_training)
    again = digits_feature_extractor()
    np.testing.assert_array_equal(again.features(DIGITS), first.features(DIGITS))
    assert again.key == first.key and again.accuracy == first.accuracy
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(private_cache.parent))
    other = digits_feature_extractor(hidden_units=16, max_iter=50)
    assert other.key != first.key and other.weights.shape == (64, 16)
    assert len(list(private_cache.iterdir())) == 2


def test_a_corrupt_cache_file_is_retrained_over(private_cache):
    small = dict(hidden_units=8, max_iter=20)
    first = digits_feature_extractor(**small)
    path = private_cache / f"digits_features-{first.key}.npz"
    path.write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="unreadable digits-feature cache"):
        retrained = digits_feature_extractor(**small)
    np.testing.assert_array_equal(retrained.weights, first.weights)  # deterministic training
    assert isinstance(digits_feature_extractor(**small), DigitsFeatureExtractor)  # and the file is good again


def test_bad_images_are_reported(extractor):
    with pytest.raises(ValueError, match=re.escape("images: expected 8x8 digits of shape (n, 64) or (n, 8, 8), "
                                                   "got shape (5, 63).")):
        extractor.features(np.zeros((5, 63)))
    with pytest.raises(ValueError, match=re.escape("images: with scale='unit' pixels must lie in [0, 1], got "
                                                   "values in [0, 16] (pixels above 1 look like the digits scale")):
        extractor.features(DIGITS[:5], scale="unit")
    with pytest.raises(ValueError, match=re.escape("scale: expected one of 'digits', 'unit', got '255'.")):
        extractor.features(DIGITS[:5], scale="255")
