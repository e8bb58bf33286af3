"""Image datasets for the deep half: binarised and dequantised scikit-learn digits, and MNIST IDX files.

scikit-learn's digits (1,797 images of 8x8 pixels with integer intensities 0-16, bundled with its wheel) are
the offline stand-in for MNIST. Nothing is downloaded: :func:`load_idx` reads IDX files a user already has.

* :func:`load_binarized_digits` — the one binarised split every binary-likelihood model of chapters 6 and 7
  (VAE, Bernoulli mixture, NADE/MADE) is compared on: held-out numbers are comparable only on the same split.
* :func:`dequantize_digits` — uniform dequantisation for continuous densities (flows, Gaussian decoders),
  with the change-of-variables constant that makes their bits/dim comparable with discrete models'.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from pgm_ppl.data.table import DataError

DIGITS_LEVELS = 17
"""Number of intensity levels of scikit-learn's digits (integers 0, ..., 16)."""

BINARIZATION_THRESHOLD = 8.0
"""The level at which digits are binarised everywhere (a pixel is 1 when its intensity 0-16 is above it)."""


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def _check_fraction(test_fraction: float) -> float:
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float, np.floating)):
        raise TypeError(f"test_fraction: expected a number in (0, 1), got {type(test_fraction).__name__}.")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}.")
    return float(test_fraction)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed: expected a non-negative int, got {seed!r}.")
    return int(seed)


def _stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded stratified split: each class keeps its share in both parts (scikit-learn's rule)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    train, test = train_test_split(index, test_size=test_fraction, random_state=seed, stratify=y)
    return np.sort(train), np.sort(test)


def load_binarized_digits(*, threshold: float = BINARIZATION_THRESHOLD, test_fraction: float = 0.2,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits binarised at a fixed threshold and split into train and test parts.

    .. math:: x_j = \\mathbb{1}[\\text{pixel}_j > \\text{threshold}], \\qquad j = 1, \\dots, 64,

    a deterministic binarisation (not the stochastic one of Salakhutdinov & Murray 2008), so every model sees
    the same 0/1 images. Pixels take integer values 0-16; the default threshold 8 is mid-range.

    The split is **stratified** by digit class (``sklearn.model_selection.train_test_split`` with
    ``stratify=y`` and ``random_state=seed``): each class keeps its share in both parts. Rows keep the
    original dataset order within each part. The same ``(threshold, test_fraction, seed)`` always gives the
    same split, which is what makes held-out log-likelihoods comparable across models.

    Parameters
    ----------
    threshold : float
        A pixel is 1 when its intensity (0-16) is strictly above ``threshold``; must lie in [0, 16).
    test_fraction : float
        Share of the 1,797 images held out, in (0, 1). The default gives 1,437 train and 360 test images.
    seed : int
        Seed of the split (non-negative).

    Returns
    -------
    X_train, X_test : ndarray of float64, shapes (N_train, 64) and (N_test, 64)
        0/1 pixels, row-major 8x8 images.
    y_train, y_test : ndarray of int64, shapes (N_train,) and (N_test,)
        The digit classes 0-9.

    Raises
    ------
    ValueError
        ``threshold`` outside [0, 16) or ``test_fraction`` outside (0, 1).
    TypeError
        A non-numeric ``threshold``/``test_fraction`` or a non-integer ``seed``.

    Examples
    --------
    >>> import numpy as np
    >>> X_train, X_test, y_train, y_test = load_binarized_digits()
    >>> X_train.shape, X_test.shape, np.unique(X_train).tolist()
    ((1437, 64), (360, 64), [0.0, 1.0])
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)):
        raise TypeError(f"threshold: expected a number in [0, 16), got {type(threshold).__name__}.")
    if not 0.0 <= float(threshold) < DIGITS_LEVELS - 1:
        raise ValueError(f"threshold: expected a number in [0, 16), got {threshold!r}.")
    test_fraction = _check_fraction(test_fraction)
    seed = _check_seed(seed)
    X, y = _digits()
    train, test = _stratified_split(y, test_fraction, seed)
    binary = (X > float(threshold)).astype(np.float64)
    return binary[train], binary[test], y[train], y[test]


def dequantize_digits(*, test_fraction: float = 0.2, seed: int = 0, noise_seed: int | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """scikit-learn's digits uniformly dequantised to [0, 1], on the split of :func:`load_binarized_digits`.

    Each integer pixel :math:`k \\in \\{0, \\dots, 16\\}` becomes

    .. math:: y = \\frac{k + u}{17}, \\qquad u \\sim \\mathcal{U}(0, 1),

    so :math:`y \\in [0, 1)` (Theis, van den Oord & Bethge 2016; Uria et al. 2013). For any density
    :math:`p` on :math:`[0, 1)^{64}`, :math:`P(k) = \\int p(y)\\,dy` over the cell of :math:`k`, and by Jensen

    .. math:: \\log P(k) \\ge \\mathbb{E}_u[\\log p(y)] - D \\log 17 ,

    so a continuous model's log-density on dequantised data becomes a lower bound on a discrete
    log-probability by adding the **log-Jacobian constant** ``log_jacobian = -D log 17`` (``D = 64``; the
    scaling by 1/17 has Jacobian 17^-D). Negative log-likelihoods in bits/dim that are comparable with
    discrete models' are then

    .. math:: \\text{bits/dim} = -\\frac{\\log p(y) + \\text{log\\_jacobian}}{D \\log 2}.

    Parameters
    ----------
    test_fraction, seed
        The split, exactly as in :func:`load_binarized_digits` (same rows in each part).
    noise_seed : int or None
        Seed of the uniform noise; ``None`` uses ``seed``. Fresh noise per epoch is the caller's choice.

    Returns
    -------
    Y_train, Y_test : ndarray of float64, shapes (N_train, 64) and (N_test, 64)
        Dequantised pixels in [0, 1).
    y_train, y_test : ndarray of int64
        The digit classes 0-9.
    log_jacobian : float
        ``-64 * log(17)`` nats per image: add it to a density on ``Y`` to compare with discrete models.

    Raises
    ------
    ValueError, TypeError
        As :func:`load_binarized_digits`.

    Examples
    --------
    >>> Y_train, Y_test, y_train, y_test, log_jacobian = dequantize_digits()
    >>> bool(Y_train.min() >= 0 and Y_train.max() < 1), round(log_jacobian, 3)
    (True, -181.326)
    """
    test_fraction = _check_fraction(test_fraction)
    seed = _check_seed(seed)
    noise_seed = seed if noise_seed is None else _check_seed(noise_seed)
    X, y = _digits()
    train, test = _stratified_split(y, test_fraction, seed)
    u = np.random.default_rng(noise_seed).uniform(size=X.shape)
    Y = (X + u) / DIGITS_LEVELS
    log_jacobian = -X.shape[1] * float(np.log(DIGITS_LEVELS))
    return Y[train], Y[test], y[train], y[test], log_jacobian


_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def load_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format of LeCun et al.), optionally gzip-compressed; never downloads.

    The format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
    0x0E float64), the number of dimensions, then one big-endian uint32 per dimension and the data in
    row-major order. ``train-images-idx3-ubyte`` gives an array (60000, 28, 28) of uint8 pixels 0-255,
    ``train-labels-idx1-ubyte`` an array (60000,) of labels. Flatten and scale as the model needs
    (e.g. ``X.reshape(len(X), -1) / 255.0``).

    Parameters
    ----------
    path : str or Path
        The file, ``.gz`` files are decompressed (detected by their magic bytes, not the suffix).

    Returns
    -------
    ndarray
        The array with the file's shape and dtype (native byte order).

    Raises
    ------
    DataError
        The file is missing, truncated, too long, or not IDX (bad magic number or type code); the message
        names the file and what was wrong.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte")
    >>> _ = open(path, "wb").write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> load_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise DataError(f"{path}: no such file (load_idx reads MNIST IDX files you already have; "
                        f"nothing is downloaded).") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e}).") from e
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: a gzip file that cannot be decompressed ({e}).") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (expected the magic bytes 00 00 <type> <ndim>, got "
                        f"{raw[:4].hex(' ') or 'an empty file'}).")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{code:02X} (expected one of "
                        f"{', '.join(f'0x{c:02X}' for c in _IDX_TYPES)}).")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header (expected {ndim} dimension sizes, file has {len(raw)} bytes).")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(f"{path}: {what} (shape {shape} of {dtype.name} needs {expected} bytes, "
                        f"file has {len(raw)}).")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


__all__ = ["BINARIZATION_THRESHOLD", "DIGITS_LEVELS", "dequantize_digits", "load_binarized_digits", "load_idx"]
