"""The guarded Cholesky helper (issue 18, kinds 6 and 7): one message style, jitter relative to scale and dtype."""

import numpy as np
import pytest
import torch

from pgm_ppl.core.linalg import ROUNDING_JITTER, cholesky, gaussian_kl, precision_cholesky, solve_psd


def test_a_well_conditioned_matrix_is_factorised_exactly_in_its_own_type_and_dtype():
    A = np.array([[4.0, 1.0], [1.0, 3.0]])
    np.testing.assert_array_equal(cholesky(A), np.linalg.cholesky(A))
    T = torch.tensor(A, dtype=torch.float32)
    L = cholesky(T)
    assert isinstance(L, torch.Tensor) and L.dtype == torch.float32


def test_the_error_names_the_matrix_the_batch_index_and_the_fix():
    batch = np.stack([np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])])
    with pytest.raises(ValueError, match=r"^Sigma \(matrix 1 of the batch\): expected a positive-definite matrix, "
                                         r"got .*smallest eigenvalue -1 at scale 1.*; add a ridge\.$"):
        cholesky(batch, name="Sigma", fix="add a ridge")
    with pytest.raises(ValueError, match="non-finite"):
        cholesky(np.array([[np.nan]]), name="Sigma")


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rounding_jitter_is_relative_to_scale_and_dtype(scale, dtype):
    v = np.array([1.0, 1.0, 1.0], dtype=dtype)
    singular = scale * np.outer(v, v).astype(dtype)                 # rank one: PD only up to rounding
    with pytest.raises(ValueError):
        cholesky(singular)                                          # no jitter unless the caller allows it
    L = cholesky(singular, max_jitter=ROUNDING_JITTER)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(L @ L.T, singular, atol=np.sqrt(eps) * scale * 3)
    assert L.dtype == dtype


def test_precision_cholesky_and_solve():
    A = np.array([[4.0, 1.0], [1.0, 3.0]])
    P = precision_cholesky(A)
    np.testing.assert_allclose(P @ P.T, np.linalg.inv(A), rtol=1e-14)
    assert np.allclose(np.tril(P, -1), 0.0)
    np.testing.assert_allclose(solve_psd(A, np.array([1.0, 2.0])), np.linalg.solve(A, [1.0, 2.0]), rtol=1e-14)


def test_gaussian_kl_is_the_chapter_one_formula():
    m0, m1 = np.array([0.3, -1.0]), np.array([1.0, 0.5])
    S0, S1 = np.array([[2.0, 0.3], [0.3, 1.0]]), np.array([[1.0, -0.2], [-0.2, 0.5]])
    inv = np.linalg.inv(S1)
    ref = 0.5 * (np.trace(inv @ S0) + (m1 - m0) @ inv @ (m1 - m0) - 2
                 + np.log(np.linalg.det(S1) / np.linalg.det(S0)))
    assert gaussian_kl(m0, S0, m1, S1) == pytest.approx(ref, rel=1e-13)
    assert gaussian_kl(m0, S0, m1, np.ones((2, 2))) == np.inf
