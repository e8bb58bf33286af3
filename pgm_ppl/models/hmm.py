r"""Bayesian hidden Markov models as backend-neutral models, for NUTS and SVI on their parameters.

The generative story of the notes' state-space model (course Example 3.3) with a discrete state:

.. math::

    \pi \sim \mathrm{Dir}(\alpha 1_K),\quad A_k \sim \mathrm{Dir}(\alpha 1_K),\quad \phi_k \sim p(\phi),
    \qquad z_1 \sim \mathrm{Cat}(\pi),\quad z_t \mid z_{t-1} \sim \mathrm{Cat}(A_{z_{t-1}}),\quad
    x_t \mid z_t \sim p(x \mid \phi_{z_t}).

The states are summed out exactly by the forward algorithm inside the observation's distribution,
``dist.HiddenMarkovModel`` (:mod:`pgm_ppl.backend.hidden_markov`), the same on Pyro and NumPyro. This is
the chain analogue of enumerating a mixture's assignments: enumeration sums out a variable per plate
element, the forward algorithm sums out a Markov chain of them in :math:`O(TK^2)`. Each sequence is one
observation of the ``sequences`` plate, so :func:`pgm_ppl.fit` reports :math:`\log p(x^{(n)}_{1:T}\mid
\pi, A, \phi)` per sequence as the pointwise log-likelihood, and the posterior predictive draws whole
sequences. The hidden states are exchangeable (the priors are symmetric), so ``fit`` aligns their labels
across draws and chains by the emission parameters, permuting :math:`\pi`, both axes of :math:`A` and
:math:`\phi` together. Given draws of the parameters, :func:`pgm_ppl.graphical.forward_backward` and
:func:`pgm_ppl.graphical.viterbi` recover the states.
"""

from __future__ import annotations

from pgm_ppl.backend import dist, ops, pyro
from pgm_ppl.backend.arrays import Array
from pgm_ppl.backend.annotations import exchangeable_components

__all__ = ["gaussian_hmm", "categorical_hmm"]


def _sequences(x: Array) -> Array:
    """``x`` as ``(N, T)``: a single sequence ``(T,)`` becomes one row."""
    if len(x.shape) == 1:
        return ops.reshape(x, (1, -1))
    if len(x.shape) != 2:
        raise ValueError(f"x must be one sequence (T,) or sequences (N, T), got shape {tuple(x.shape)}.")
    return x


@exchangeable_components(by="mu", sites={"initial": 0, "transition": (0, 1), "mu": 0, "sigma": 0})
def gaussian_hmm(x: Array, num_states: int = 2, *, concentration: float = 1.0, prior_scale: float = 3.0) -> None:
    r"""HMM with Gaussian emissions :math:`x_t \mid z_t=k \sim \mathcal N(\mu_k, \sigma_k^2)`.

    .. math:: \mu_k \sim \mathcal N(0, s_0^2),\quad \sigma_k \sim \mathrm{HalfNormal}(1).

    Parameters
    ----------
    x
        Real sequences, shape ``(N, T)`` (or one sequence ``(T,)``); standardise them first (the priors
        assume unit scale).
    num_states
        Number of hidden states :math:`K`.
    concentration
        Dirichlet concentration :math:`\alpha` of :math:`\pi` and of each row of :math:`A`.
    prior_scale
        Prior standard deviation :math:`s_0` of the state means.
    """
    x = _sequences(x)
    num_sequences, num_time_steps = x.shape
    initial = pyro.sample("initial", dist.Dirichlet(concentration * ops.ones(num_states)))
    with pyro.plate("states", num_states):
        transition = pyro.sample("transition", dist.Dirichlet(concentration * ops.ones(num_states)))
        mu = pyro.sample("mu", dist.Normal(0.0, prior_scale))
        sigma = pyro.sample("sigma", dist.HalfNormal(1.0))
    with pyro.plate("sequences", num_sequences):
        pyro.sample("x", dist.HiddenMarkovModel(ops.log(initial), ops.log(transition), dist.Normal(mu, sigma),
                                                num_time_steps), obs=x)


@exchangeable_components(by="emission", sites={"initial": 0, "transition": (0, 1), "emission": 0})
def categorical_hmm(x: Array, num_states: int = 2, num_symbols: int | None = None, *,
                    concentration: float = 1.0) -> None:
    r"""HMM with categorical emissions :math:`x_t \mid z_t=k \sim \mathrm{Cat}(B_k)`,
    :math:`B_k \sim \mathrm{Dir}(\alpha 1_M)`.

    Parameters
    ----------
    x
        Integer sequences with symbols in ``0..M-1``, shape ``(N, T)`` (or ``(T,)``).
    num_states
        Number of hidden states :math:`K`.
    num_symbols
        Alphabet size :math:`M`; by default one more than the largest symbol in ``x``.
    concentration
        Dirichlet concentration :math:`\alpha` of :math:`\pi`, of the rows of :math:`A` and of :math:`B`.
    """
    x = _sequences(x)
    num_sequences, num_time_steps = x.shape
    num_symbols = int(ops.max(x)) + 1 if num_symbols is None else num_symbols
    initial = pyro.sample("initial", dist.Dirichlet(concentration * ops.ones(num_states)))
    with pyro.plate("states", num_states):
        transition = pyro.sample("transition", dist.Dirichlet(concentration * ops.ones(num_states)))
        emission = pyro.sample("emission", dist.Dirichlet(concentration * ops.ones(num_symbols)))
    with pyro.plate("sequences", num_sequences):
        pyro.sample("x", dist.HiddenMarkovModel(ops.log(initial), ops.log(transition), dist.Categorical(emission),
                                                num_time_steps), obs=x)
