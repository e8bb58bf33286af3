r"""What a diffusion network predicts: noise, clean data, velocity or score, and the exact conversions between them.

Course chapter 9, "Equivalences among flow and diffusion models" (course-map row 9.20). Under
:math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon` (9.12), any one of

.. math::
    \varepsilon, \qquad
    x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon}{\sqrt{\bar\alpha_t}}, \qquad
    v = \sqrt{\bar\alpha_t}\,\varepsilon - \sqrt{1-\bar\alpha_t}\,x_0
      = \frac{\varepsilon - \sqrt{1-\bar\alpha_t}\,x_t}{\sqrt{\bar\alpha_t}}, \qquad
    s = \nabla_{x_t}\log q(x_t \mid x_0) = -\frac{\varepsilon}{\sqrt{1-\bar\alpha_t}}

determines the others given :math:`x_t` and :math:`\bar\alpha_t` (the conditional score is
:math:`-(x_t - \sqrt{\bar\alpha_t}x_0)/(1-\bar\alpha_t)`, the notes' last section). The maps are affine in the
prediction, so they carry conditional expectations along: the optimal (MMSE) :math:`\varepsilon`-predictor
:math:`\mathbb E[\varepsilon \mid x_t]` converts to :math:`\mathbb E[x_0 \mid x_t]`, to
:math:`\mathbb E[v \mid x_t]` and to the marginal score :math:`\nabla\log q_t(x_t)` (Tweedie's formula).
:math:`v` is Salimans & Ho (2022)'s "velocity".

References
----------
.. [Salimans2022] T. Salimans and J. Ho, "Progressive distillation for fast sampling of diffusion models", ICLR 2022.
"""

from __future__ import annotations

import torch

from pgm_ppl.core.validation import check_choice

__all__ = ["PREDICTIONS", "convert_prediction"]

PREDICTIONS = ("epsilon", "x0", "v", "score")


def _to_epsilon(value: torch.Tensor, source: str, x_t: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    if source == "epsilon":
        return value
    if source == "x0":
        return (x_t - a.sqrt() * value) / (1 - a).sqrt()
    if source == "v":
        return a.sqrt() * value + (1 - a).sqrt() * x_t
    return -(1 - a).sqrt() * value  # score


def _from_epsilon(eps: torch.Tensor, target: str, x_t: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    if target == "epsilon":
        return eps
    if target == "x0":
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt()
    if target == "v":
        return (eps - (1 - a).sqrt() * x_t) / a.sqrt()
    return -eps / (1 - a).sqrt()  # score


def convert_prediction(value: torch.Tensor, *, source: str, target: str, x_t: torch.Tensor,
                       alpha_bar: torch.Tensor | float) -> torch.Tensor:
    r"""Convert a prediction of one kind to another at the same :math:`(x_t, \bar\alpha_t)` (module docstring).

    Parameters
    ----------
    value
        The prediction, shape of ``x_t``.
    source, target
        Each one of ``"epsilon"``, ``"x0"``, ``"v"``, ``"score"``.
    x_t
        The noisy point, shape ``(n, *event_shape)``.
    alpha_bar
        :math:`\bar\alpha_t \in (0, 1)`, a scalar or a tensor broadcastable to ``x_t`` (one entry per row, shaped
        ``(n, 1, ...)``). :math:`\bar\alpha_t = 1` (t = 0) makes ``"epsilon"`` and ``"score"`` undetermined.

    Returns
    -------
    torch.Tensor
        The prediction of kind ``target``, shape of ``x_t``.

    Raises
    ------
    ValueError
        For an unknown ``source`` or ``target``.

    Examples
    --------
    >>> import torch
    >>> x_t, eps = torch.tensor([[1.0]]), torch.tensor([[0.5]])
    >>> score = convert_prediction(eps, source="epsilon", target="score", x_t=x_t, alpha_bar=0.75)
    >>> float(score)  # -eps / sqrt(1 - 0.75)
    -1.0
    """
    source = check_choice(source, "source", PREDICTIONS)
    target = check_choice(target, "target", PREDICTIONS)
    a = torch.as_tensor(alpha_bar, dtype=x_t.dtype, device=x_t.device)
    return _from_epsilon(_to_epsilon(value, source, x_t, a), target, x_t, a)
