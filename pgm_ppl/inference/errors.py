"""Errors raised by the inference engines, phrased in the model's terms."""


class NonFiniteLossError(FloatingPointError):
    """SVI's loss became NaN or infinite: the message names the step and the offending site."""


def non_finite_message(step: int, loss: float, site: str | None) -> str:
    """The message of :class:`NonFiniteLossError` for ``step`` (1-based)."""
    where = (f"the log-density of site {site!r} is not finite there" if site is not None
             else "no single site's log-density is non-finite; the optimiser itself diverged")
    return (f"SVI loss became {loss} at step {step}: {where}. Try a smaller learning_rate, "
            "better-scaled data, or a prior that keeps that site away from the edge of its support.")


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
