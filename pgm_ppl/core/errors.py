"""Errors that more than one engine raises, phrased in the model's terms.

:class:`NonFiniteLossError` is raised by ``fit``'s SVI, the streaming SVI and the training engine alike, so it
lives in the contract layer; :mod:`pgm_ppl.inference.errors` re-exports it.
"""

from __future__ import annotations

__all__ = ["NonFiniteLossError", "non_finite_message"]


class NonFiniteLossError(FloatingPointError):
    """SVI's loss became NaN or infinite: the message names the step and the offending site."""


def non_finite_message(step: int, loss: float, site: str | None) -> str:
    """The message of :class:`NonFiniteLossError` for ``step`` (1-based)."""
    where = (f"the log-density of site {site!r} is not finite there" if site is not None
             else "no single site's log-density is non-finite; the optimiser itself diverged")
    return (f"SVI loss became {loss} at step {step}: {where}. Try a smaller learning_rate, "
            "better-scaled data, or a prior that keeps that site away from the edge of its support.")
