r"""The digits feature distance: an offline analogue of the FID for 8x8 images.

The Fréchet Inception Distance (Heusel et al. 2017) embeds images with a pretrained Inception network and
compares Gaussian fits of the embeddings. Offline and on scikit-learn's 8x8 digits, the embedding here is the
hidden layer of a small classifier trained deterministically on those digits, and the distance is

.. math::
    \mathrm{FD} = \|m_1 - m_2\|_2^2 + \operatorname{Tr}\Big(\Sigma_1 + \Sigma_2
    - 2\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}\Big) = W_2^2\big(\mathcal N(m_1, \Sigma_1),
    \mathcal N(m_2, \Sigma_2)\big),

with :math:`m_i, \Sigma_i` the mean and covariance of the features of each image set: the Fréchet distance
*is* the squared Bures-Wasserstein distance, computed by :func:`pgm_ppl.ot.gaussian_w2_sq`.

The classifier is scikit-learn's :class:`~sklearn.neural_network.MLPClassifier` (one ReLU hidden layer, fixed
``random_state``), trained once and cached in ``$XDG_CACHE_HOME/pgm_ppl`` (or ``~/.cache/pgm_ppl``) under a
content hash of the training data and the settings; the cache is an ``.npz`` of the first layer's weights,
written atomically and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgm_ppl.core.validation import check_choice, check_data, check_int
from pgm_ppl.ot import gaussian_w2_sq

__all__ = ["DigitsFeatureExtractor", "digits_fd", "digits_feature_extractor"]

SCALES = {"digits": 16.0, "unit": 1.0}  # the largest pixel value on each scale
_JITTER = 1e-6  # added to the feature covariances: ReLU features can be constant, making them singular
_CACHE_VERSION = 1


@dataclass(frozen=True)
class DigitsFeatureExtractor:
    r"""The hidden layer of the digits classifier: :math:`f(x) = \max(0, W^\top x / 16 + b)`.

    Attributes
    ----------
    weights : ndarray
        (64, H) first-layer weights on pixels in [0, 1].
    bias : ndarray
        (H,) first-layer biases.
    key : str
        The content hash the extractor is cached under.
    accuracy : float
        The classifier's accuracy on the digits it was trained on (a sanity check of the features).
    """

    weights: np.ndarray
    bias: np.ndarray
    key: str
    accuracy: float

    def features(self, images: Any, *, scale: str = "digits") -> np.ndarray:
        """(n, H) hidden activations of images of shape (n, 64) or (n, 8, 8), pixels on ``scale``.

        ``scale="digits"``: pixels in [0, 16] as in :func:`sklearn.datasets.load_digits`; ``scale="unit"``: in
        [0, 1].
        """
        pixels = _as_pixels(images, scale)
        return np.maximum(pixels @ self.weights + self.bias, 0.0)


def digits_feature_extractor(*, hidden_units: int = 64, seed: int = 0, max_iter: int = 200,
                             cache_dir: str | Path | None = None) -> DigitsFeatureExtractor:
    """Train (or load from the cache) the digits classifier whose hidden layer gives the features.

    Parameters
    ----------
    hidden_units
        H, the width of the ReLU hidden layer.
    seed
        The classifier's ``random_state`` (initial weights and mini-batch order).
    max_iter
        Adam epochs (about 2 s for the defaults, on one BLAS thread); the classifier's convergence warning is
        silenced (the features need a good embedding, not an optimum).
    cache_dir
        Where the cache lives; by default ``$XDG_CACHE_HOME/pgm_ppl`` or ``~/.cache/pgm_ppl``.

    Returns
    -------
    DigitsFeatureExtractor
        Identical for identical settings, data and scikit-learn version (those make the cache key).
    """
    from sklearn import __version__ as sklearn_version
    from sklearn.datasets import load_digits

    hidden_units, max_iter = check_int(hidden_units, "hidden_units"), check_int(max_iter, "max_iter")
    seed = check_int(seed, "seed", minimum=0)
    digits = load_digits()
    X, y = digits.data / SCALES["digits"], digits.target
    settings = f"v{_CACHE_VERSION};sklearn={sklearn_version};H={hidden_units};seed={seed};max_iter={max_iter}"
    key = hashlib.sha256(X.tobytes() + y.astype(np.int64).tobytes() + settings.encode()).hexdigest()[:20]
    path = _cache_folder(cache_dir) / f"digits_features-{key}.npz"
    cached = _load(path, key)
    if cached is not None:
        return cached
    extractor = _train(X, y, hidden_units, seed, max_iter, key)
    _save_atomically(path, extractor)
    return extractor


def digits_fd(samples: Any, reference: Any, *, scale: str = "digits", reference_scale: str | None = None,
              extractor: DigitsFeatureExtractor | None = None) -> float:
    r"""Fréchet distance between the digits features of two image sets (the offline FID).

    .. math::
        \mathrm{FD} = W_2^2\big(\mathcal N(m_s, \Sigma_s), \mathcal N(m_r, \Sigma_r)\big),

    with :math:`m, \Sigma` the mean and (unbiased) covariance of the features :math:`f(x)` of
    :class:`DigitsFeatureExtractor` over ``samples`` (s) and ``reference`` (r); :math:`10^{-6} I` is added to
    each covariance so that constant (dead ReLU) features do not make the matrix square root fail.

    Parameters
    ----------
    samples, reference
        Images of shape (n, 64) or (n, 8, 8), at least 2 of each. Like the FID, the estimate is biased upwards
        for small sets: compare models on equal numbers of images, and report the floor (the FD between two
        halves of the data) beside it.
    scale
        Pixel scale of ``samples``: ``"digits"`` for [0, 16] (scikit-learn's digits) or ``"unit"`` for [0, 1].
    reference_scale
        Pixel scale of ``reference`` (default: ``scale``).
    extractor
        The feature extractor; by default :func:`digits_feature_extractor` with its defaults (cached).

    Returns
    -------
    float
        The Fréchet distance, in squared feature units.

    References
    ----------
    Heusel, M., Ramsauer, H., Unterthiner, T., Nessler, B. & Hochreiter, S. (2017). GANs trained by a two
    time-scale update rule converge to a local Nash equilibrium. *NeurIPS 30* (the FID).
    """
    extractor = digits_feature_extractor() if extractor is None else extractor
    reference_scale = scale if reference_scale is None else reference_scale
    moments = [_gaussian_fit(extractor.features(images, scale=s))
               for images, s in ((samples, scale), (reference, reference_scale))]
    return float(gaussian_w2_sq(*moments[0], *moments[1]))


def _gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(axis=0), np.cov(features, rowvar=False) + _JITTER * np.eye(features.shape[1])


def _as_pixels(images: Any, scale: str) -> np.ndarray:
    """(n, 64) pixels in [0, 1] from (n, 64) or (n, 8, 8) images on ``scale``."""
    top = SCALES[check_choice(scale, "scale", tuple(SCALES))]
    pixels = check_data(images, "images", ndim=(2, 3), min_rows=2)
    if pixels.shape[1:] not in ((64,), (8, 8)):
        raise ValueError(f"images: expected 8x8 digits of shape (n, 64) or (n, 8, 8), got shape {pixels.shape}.")
    pixels = pixels.reshape(len(pixels), 64)
    low, high = float(pixels.min()), float(pixels.max())
    if low < -1e-6 * top or high > top * (1 + 1e-6):
        hint = " (pixels above 1 look like the digits scale: pass scale='digits')" if scale == "unit" else ""
        raise ValueError(f"images: with scale={scale!r} pixels must lie in [0, {top:g}], got values in "
                         f"[{low:g}, {high:g}]{hint}; clip the samples or choose the scale they are on.")
    return pixels / top


def _cache_folder(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "pgm_ppl"


def _train(X: np.ndarray, y: np.ndarray, hidden_units: int, seed: int, max_iter: int,
           key: str) -> DigitsFeatureExtractor:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    classifier = MLPClassifier(hidden_layer_sizes=(hidden_units,), activation="relu", max_iter=max_iter,
                               random_state=seed)
    # One BLAS thread: the same sums in the same order on every machine, and 64 x 64 products gain nothing
    # from threads (on 2 busy cores, threaded BLAS made this fit 40x slower).
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X, y)
    return DigitsFeatureExtractor(classifier.coefs_[0].copy(), classifier.intercepts_[0].copy(), key,
                                  float(classifier.score(X, y)))


def _load(path: Path, key: str) -> DigitsFeatureExtractor | None:
    """The cached extractor, or None when absent; an unreadable or foreign file is retrained over."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            extractor = DigitsFeatureExtractor(stored["weights"], stored["bias"], str(stored["key"]),
                                               float(stored["accuracy"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        warnings.warn(f"{path}: unreadable digits-feature cache ({error}); retraining and overwriting it.",
                      UserWarning, stacklevel=3)
        return None
    weights, bias = extractor.weights, extractor.bias
    if extractor.key != key or weights.ndim != 2 or weights.shape[0] != 64 or bias.shape != weights.shape[1:]:
        warnings.warn(f"{path}: the cached digits features do not match their key; retraining and overwriting.",
                      UserWarning, stacklevel=3)
        return None
    return extractor


def _save_atomically(path: Path, extractor: DigitsFeatureExtractor) -> None:
    """Write to a temporary file in the same folder, then :func:`os.replace` it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, weights=extractor.weights, bias=extractor.bias, key=np.array(extractor.key),
                     accuracy=np.array(extractor.accuracy))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
