"""Autoguide names accepted by ``fit(method="svi", guide=...)`` and their classes on each backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GUIDES: dict[str, str] = {
    "auto_normal": "AutoNormal",
    "auto_mvn": "AutoMultivariateNormal",
    "auto_delta": "AutoDelta",
    "auto_laplace": "AutoLaplaceApproximation",
}
"""Mean-field normal, full-rank normal, point mass (MAP) and Laplace approximation."""

ALIASES = {"normal": "auto_normal", "multivariate_normal": "auto_mvn", "auto_multivariate_normal": "auto_mvn",
           "delta": "auto_delta", "map": "auto_delta", "laplace": "auto_laplace"}


def resolve_guide_name(guide: str) -> str:
    """Canonical autoguide name for ``guide`` (an alias allowed); ValueError listing the valid names."""
    name = ALIASES.get(guide, guide)
    if name not in GUIDES:
        valid = ", ".join(sorted(GUIDES) + sorted(ALIASES))
        raise ValueError(f"Unknown guide {guide!r}: pass a guide function or one of {valid}.")
    return name


def hide_enumerated(site: Mapping[str, Any]) -> bool:
    """True for sites an autoguide must not see: discrete sites enumerated by the ELBO."""
    return (site.get("infer") or {}).get("enumerate") == "parallel"
