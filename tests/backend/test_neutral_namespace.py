"""Every name of the neutral namespace on both backends, against numpy (the reference)."""

import numpy as np
import pytest
import scipy.special

from pgm_ppl.backend import dist, ops, pyro, to_backend, to_numpy, use_backend
from pgm_ppl.backend import ops_jax, ops_torch

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]])

# name -> (function of (ops, a, b) giving a backend array, same function on numpy)
OPS_CASES = {
    "abs": (lambda o, a, b: o.abs(a), lambda a, b: np.abs(a)),
    "arange": (lambda o, a, b: o.arange(0, 5, 2), lambda a, b: np.arange(0, 5, 2)),
    "asarray": (lambda o, a, b: o.asarray([1.0, 2.0]), lambda a, b: np.array([1.0, 2.0])),
    "clip": (lambda o, a, b: o.clip(a, -0.5, 0.5), lambda a, b: np.clip(a, -0.5, 0.5)),
    "concatenate": (lambda o, a, b: o.concatenate([a, a], axis=1), lambda a, b: np.concatenate([a, a], 1)),
    "cumsum": (lambda o, a, b: o.cumsum(a, axis=1), lambda a, b: np.cumsum(a, axis=1)),
    "einsum": (lambda o, a, b: o.einsum("ij,jk->ik", a, b), lambda a, b: a @ b),
    "exp": (lambda o, a, b: o.exp(a), lambda a, b: np.exp(a)),
    "expand_dims": (lambda o, a, b: o.expand_dims(a, 1), lambda a, b: a[:, None]),
    "eye": (lambda o, a, b: o.eye(3), lambda a, b: np.eye(3)),
    "full": (lambda o, a, b: o.full((2, 2), 3.0), lambda a, b: np.full((2, 2), 3.0)),
    "linspace": (lambda o, a, b: o.linspace(0.0, 1.0, 5), lambda a, b: np.linspace(0, 1, 5)),
    "log": (lambda o, a, b: o.log(o.abs(a)), lambda a, b: np.log(np.abs(a))),
    "log1p": (lambda o, a, b: o.log1p(o.abs(a)), lambda a, b: np.log1p(np.abs(a))),
    "logsumexp": (lambda o, a, b: o.logsumexp(a, axis=0), lambda a, b: scipy.special.logsumexp(a, axis=0)),
    "matmul": (lambda o, a, b: o.matmul(a, b), lambda a, b: a @ b),
    "max": (lambda o, a, b: o.max(a, axis=1), lambda a, b: a.max(1)),
    "mean": (lambda o, a, b: o.mean(a, axis=0), lambda a, b: a.mean(0)),
    "min": (lambda o, a, b: o.min(a), lambda a, b: a.min()),
    "moveaxis": (lambda o, a, b: o.moveaxis(a, 0, -1), lambda a, b: np.moveaxis(a, 0, -1)),
    "ones": (lambda o, a, b: o.ones((2, 3)), lambda a, b: np.ones((2, 3))),
    "reshape": (lambda o, a, b: o.reshape(a, (3, 2)), lambda a, b: a.reshape(3, 2)),
    "scan": (lambda o, a, b: o.scan(lambda c, x: (c + x, c * x), o.ones(3), a)[1],
             lambda a, b: np.stack([a[0], (1 + a[0]) * a[1]])),
    "sigmoid": (lambda o, a, b: o.sigmoid(a), lambda a, b: scipy.special.expit(a)),
    "softmax": (lambda o, a, b: o.softmax(a, axis=-1), lambda a, b: scipy.special.softmax(a, axis=-1)),
    "sqrt": (lambda o, a, b: o.sqrt(o.abs(a)), lambda a, b: np.sqrt(np.abs(a))),
    "square": (lambda o, a, b: o.square(a), lambda a, b: a**2),
    "stack": (lambda o, a, b: o.stack([a, a], axis=0), lambda a, b: np.stack([a, a])),
    "sum": (lambda o, a, b: o.sum(a, axis=1), lambda a, b: a.sum(1)),
    "tanh": (lambda o, a, b: o.tanh(a), lambda a, b: np.tanh(a)),
    "where": (lambda o, a, b: o.where(a > 0, a, 0.0), lambda a, b: np.where(a > 0, a, 0.0)),
    "zeros": (lambda o, a, b: o.zeros(4), lambda a, b: np.zeros(4)),
}


def test_both_ops_modules_export_the_same_names():
    assert sorted(ops_jax.__all__) == sorted(ops_torch.__all__) == sorted(OPS_CASES)


@pytest.mark.parametrize("name", sorted(OPS_CASES))
def test_ops_match_numpy(name, backend):
    ours, reference = OPS_CASES[name]
    with use_backend(backend):
        result = to_numpy(ours(ops, to_backend(A, backend), to_backend(B, backend)))
    np.testing.assert_allclose(result, reference(A, B), rtol=1e-12, atol=1e-14)
    if np.issubdtype(result.dtype, np.floating):
        assert result.dtype == np.float64


@pytest.mark.parametrize("name", ["sample", "plate", "param", "deterministic", "factor", "subsample"])
def test_primitives_route_to_the_active_backend(name, backend):
    with use_backend(backend):
        primitive = getattr(pyro, name)
    assert primitive.__module__.split(".")[0] == backend or primitive.__module__ == f"pgm_ppl.backend.{backend}_primitives"


def test_param_takes_plain_numbers_on_both_backends(backend):
    from pgm_ppl import fit

    def model():
        pyro.param("theta", 0.5, constraint=dist.constraints.positive)
        pyro.sample("x", dist.Normal(0.0, 1.0))

    result = fit(model, method="svi", backend=backend, guide="auto_delta", num_steps=5, progress_bar=False,
                 num_prior_samples=0)
    assert result.params["theta"].dtype == np.float64 and result.params["theta"].shape == ()


@pytest.mark.parametrize("name", ["Normal", "HalfNormal", "Dirichlet", "Categorical", "MultivariateNormal",
                                  "Gamma", "Beta", "Bernoulli", "LogNormal", "StudentT", "Exponential"])
def test_distributions_route_and_agree(name, backend):
    from scipy import stats

    params = {"Normal": (0.5, 2.0), "HalfNormal": (1.5,), "Gamma": (2.0, 3.0), "Beta": (2.0, 3.0),
              "LogNormal": (0.0, 0.5), "StudentT": (4.0, 0.0, 1.0), "Exponential": (2.0,),
              "Bernoulli": (0.3,), "Categorical": (np.array([0.2, 0.5, 0.3]),),
              "Dirichlet": (np.array([1.0, 2.0, 3.0]),),
              "MultivariateNormal": (np.zeros(2), np.array([[2.0, 0.5], [0.5, 1.0]]))}[name]
    value = {"Bernoulli": 1.0, "Categorical": 2, "Dirichlet": np.array([0.2, 0.3, 0.5]),
             "MultivariateNormal": np.array([0.3, -0.2]), "Beta": 0.4}.get(name, 0.7)
    reference = {
        "Normal": stats.norm(0.5, 2.0).logpdf(0.7), "HalfNormal": stats.halfnorm(scale=1.5).logpdf(0.7),
        "Gamma": stats.gamma(2.0, scale=1 / 3.0).logpdf(0.7), "Beta": stats.beta(2.0, 3.0).logpdf(0.4),
        "LogNormal": stats.lognorm(0.5).logpdf(0.7), "StudentT": stats.t(4.0).logpdf(0.7),
        "Exponential": stats.expon(scale=0.5).logpdf(0.7), "Bernoulli": np.log(0.3),
        "Categorical": np.log(0.3), "Dirichlet": stats.dirichlet([1.0, 2.0, 3.0]).logpdf([0.2, 0.3, 0.5]),
        "MultivariateNormal": stats.multivariate_normal(np.zeros(2), [[2.0, 0.5], [0.5, 1.0]]).logpdf([0.3, -0.2]),
    }[name]
    with use_backend(backend):
        arrays = [to_backend(np.asarray(p, float), backend) for p in params]
        distribution = getattr(dist, name)(*arrays)
        assert type(distribution).__module__.split(".")[0] == backend
        log_prob = to_numpy(distribution.log_prob(to_backend(np.asarray(value), backend)))
    np.testing.assert_allclose(log_prob, reference, rtol=1e-10)


def test_use_backend_restores_routing_and_dtype():
    import jax.numpy as jnp
    import torch

    before = torch.get_default_dtype()
    with use_backend("pyro"):
        assert torch.get_default_dtype() == torch.float64
        with use_backend("numpyro"):
            assert jnp.ones(1).dtype == jnp.float64
            assert dist.Normal.__module__.startswith("numpyro")
        assert dist.Normal.__module__.startswith("pyro")
    assert torch.get_default_dtype() == before


def test_unknown_backend_is_rejected_with_the_valid_names():
    with pytest.raises(ValueError, match=r"Unknown backend 'jax': choose one of 'numpyro', 'pyro'"):
        with use_backend("jax"):
            pass
