"""Errors raised by the inference engines, phrased in the model's terms.

:class:`NonFiniteLossError` is shared with the training engine and lives in :mod:`pgm_ppl.core.errors`.
"""

from pgm_ppl.core.errors import NonFiniteLossError, non_finite_message

__all__ = ["ModelRunError", "NonFiniteLossError", "model_run_message", "non_finite_message"]


class ModelRunError(ValueError):
    """The model failed when first run on the user's data (usually a shape mismatch)."""


def model_run_message(error: Exception, last_site: str | None, args: tuple, kwargs: dict) -> str:
    """Explain a failure of the model's first run: where it stopped and the shapes it was given."""
    inputs = [f"argument {i} {tuple(getattr(a, 'shape', ()))}" for i, a in enumerate(args)]
    inputs += [f"{name} {tuple(value.shape)}" for name, value in kwargs.items() if hasattr(value, "shape")]
    where = f"after site {last_site!r}" if last_site else "before its first site"
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return (f"The model failed {where} ({type(error).__name__}: {first_line}). "
            f"Check that the data's shapes fit the model: {', '.join(inputs) or 'no array inputs'}.")
