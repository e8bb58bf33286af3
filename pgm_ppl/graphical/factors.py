"""Discrete factors in log space and the factor graph that holds them.

A factor :math:`\\phi(x_S)` over a scope :math:`S` of discrete variables is stored as its log-potential
table :math:`\\log\\phi`, one tensor axis per variable. Every model of this subpackage (Bayesian network,
Markov random field, pairwise MRF) turns into a :class:`FactorGraph`,

.. math::

    p(x) = \\frac{1}{Z} \\prod_{a} \\phi_a(x_{S_a}), \\qquad Z = \\sum_x \\prod_a \\phi_a(x_{S_a}),

and the inference engines (variable elimination, belief propagation, junction trees) take a factor graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Factor", "FactorGraph", "factor_product"]


def logsumexp(a: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Stable :math:`\\log\\sum\\exp` along ``axis`` (all-``-inf`` slices give ``-inf``); plain numpy, no
    array-API dispatch, which matters inside message-passing loops."""
    a = np.asarray(a)
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


@dataclass(frozen=True, eq=False)
class Factor:
    """A log-potential table over named discrete variables.

    Parameters
    ----------
    variables
        Names of the variables, one per axis of ``log_values``.
    log_values
        Array of :math:`\\log\\phi(x_S)`; ``-inf`` marks impossible configurations.
    """

    variables: tuple[str, ...]
    log_values: np.ndarray

    def __post_init__(self) -> None:
        variables = tuple(self.variables)
        values = np.asarray(self.log_values, dtype=np.float64)
        if values.ndim != len(variables):
            raise ValueError(f"Factor over {variables}: log_values has {values.ndim} axes, "
                             f"expected one per variable ({len(variables)}).")
        if len(set(variables)) != len(variables):
            raise ValueError(f"Factor variables must be distinct, got {variables}.")
        if np.isnan(values).any() or np.isposinf(values).any():
            raise ValueError(f"Factor over {variables}: log_values contains NaN or +inf.")
        object.__setattr__(self, "variables", variables)
        object.__setattr__(self, "log_values", values)

    @classmethod
    def from_values(cls, variables: Sequence[str], values: np.ndarray) -> Factor:
        """Build a factor from non-negative potentials :math:`\\phi(x_S)` (not logs)."""
        values = np.asarray(values, dtype=np.float64)
        if (values < 0).any():
            raise ValueError(f"Factor over {tuple(variables)}: potentials must be non-negative.")
        with np.errstate(divide="ignore"):
            return cls(tuple(variables), np.log(values))

    @property
    def cardinalities(self) -> dict[str, int]:
        """Number of states of each variable in the scope."""
        return dict(zip(self.variables, self.log_values.shape))

    @property
    def values(self) -> np.ndarray:
        """The potentials :math:`\\phi(x_S)` in probability space."""
        return np.exp(self.log_values)

    def transpose(self, variables: Sequence[str]) -> Factor:
        """The same factor with its axes in the order of ``variables``."""
        axes = [self.variables.index(v) for v in variables]
        return Factor(tuple(variables), np.transpose(self.log_values, axes))

    def reduce(self, evidence: Mapping[str, int]) -> Factor:
        """Condition on observed states: slice out the evidence variables (they leave the scope)."""
        index = tuple(evidence.get(v, slice(None)) for v in self.variables)
        kept = tuple(v for v in self.variables if v not in evidence)
        return Factor(kept, self.log_values[index])

    def marginalize(self, variables: Iterable[str]) -> Factor:
        """Sum out ``variables``: :math:`\\log\\sum_{x_V}\\phi(x_S)` by a stable log-sum-exp."""
        axes = tuple(self.variables.index(v) for v in variables)
        kept = tuple(v for i, v in enumerate(self.variables) if i not in axes)
        return Factor(kept, logsumexp(self.log_values, axis=axes) if axes else self.log_values)

    def maximize(self, variables: Iterable[str]) -> Factor:
        """Max out ``variables``: :math:`\\max_{x_V}\\log\\phi(x_S)` (max-product)."""
        axes = tuple(self.variables.index(v) for v in variables)
        kept = tuple(v for i, v in enumerate(self.variables) if i not in axes)
        return Factor(kept, self.log_values.max(axis=axes) if axes else self.log_values)

    def normalize(self) -> Factor:
        """Divide by the total mass so that the potentials sum to one."""
        return Factor(self.variables, self.log_values - logsumexp(self.log_values))

    def expand(self, variables: Sequence[str], cardinalities: Mapping[str, int]) -> np.ndarray:
        """Log-values broadcast to the axis order ``variables`` (size-1 axes where absent)."""
        present = [v for v in variables if v in self.variables]
        table = self.transpose(present).log_values
        shape = [cardinalities[v] if v in self.variables else 1 for v in variables]
        return table.reshape(shape)


def factor_product(factors: Sequence[Factor]) -> Factor:
    """Product of factors, :math:`\\log\\prod_a\\phi_a = \\sum_a\\log\\phi_a`, over the union of scopes."""
    variables: list[str] = []
    cards: dict[str, int] = {}
    for f in factors:
        for v, k in f.cardinalities.items():
            if v in cards and cards[v] != k:
                raise ValueError(f"Variable {v!r} has {cards[v]} states in one factor and {k} in another.")
            if v not in cards:
                variables.append(v)
                cards[v] = k
    total = np.zeros([cards[v] for v in variables])
    for f in factors:
        total = total + f.expand(variables, cards)
    return Factor(tuple(variables), total)


@dataclass(frozen=True, eq=False)
class FactorGraph:
    """A set of factors over named discrete variables: :math:`p(x)\\propto\\prod_a\\phi_a(x_{S_a})`.

    Parameters
    ----------
    factors
        The factors. Variables are collected from their scopes.
    state_names
        Optional names of the states of each variable (used to read evidence such as ``{"smoke": "yes"}``).
    """

    factors: tuple[Factor, ...]
    state_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        factors = tuple(self.factors)
        for i, f in enumerate(factors):
            if not isinstance(f, Factor):
                raise TypeError(f"factors[{i}] must be a Factor, got {type(f).__name__}.")
        object.__setattr__(self, "factors", factors)
        cards: dict[str, int] = {}
        for f in factors:
            for v, k in f.cardinalities.items():
                if cards.setdefault(v, k) != k:
                    raise ValueError(f"Variable {v!r} has {cards[v]} states in one factor and {k} in another.")

    @property
    def cardinalities(self) -> dict[str, int]:
        """Number of states of every variable, in order of first appearance."""
        cards: dict[str, int] = {}
        for f in self.factors:
            for v, k in f.cardinalities.items():
                cards.setdefault(v, k)
        return cards

    @property
    def variables(self) -> tuple[str, ...]:
        """All variable names, in order of first appearance."""
        return tuple(self.cardinalities)

    def state_index(self, evidence: Mapping[str, int | str] | None) -> dict[str, int]:
        """Translate evidence given as state names or integer indices into indices, checking ranges."""
        cards = self.cardinalities
        out: dict[str, int] = {}
        for v, s in (evidence or {}).items():
            if v not in cards:
                raise ValueError(f"Evidence names unknown variable {v!r}; known: {sorted(cards)}.")
            if isinstance(s, str):
                names = self.state_names.get(v, ())
                if s not in names:
                    raise ValueError(f"Evidence {v}={s!r}: unknown state; valid states: {list(names)}.")
                out[v] = names.index(s)
            else:
                k = int(s)
                if not 0 <= k < cards[v]:
                    raise ValueError(f"Evidence {v}={s}: state index outside [0, {cards[v] - 1}].")
                out[v] = k
        return out

    def condition(self, evidence: Mapping[str, int | str] | None) -> FactorGraph:
        """The factor graph of the unnormalised conditional :math:`\\prod_a\\phi_a(x_{S_a}, e)`."""
        index = self.state_index(evidence)
        reduced = tuple(f.reduce(index) for f in self.factors)
        names = {v: s for v, s in self.state_names.items() if v not in index}
        return FactorGraph(reduced, names)

    def log_potential(self, assignment: np.ndarray) -> np.ndarray:
        """:math:`\\sum_a\\log\\phi_a(x_{S_a})` for rows of integer states (columns in ``variables`` order)."""
        assignment = np.atleast_2d(np.asarray(assignment))
        column = {v: i for i, v in enumerate(self.variables)}
        if assignment.shape[1] != len(column):
            raise ValueError(f"assignment has {assignment.shape[1]} columns, expected {len(column)} "
                             f"(one per variable, in the order {self.variables}).")
        total = np.zeros(assignment.shape[0])
        for f in self.factors:
            total += f.log_values[tuple(assignment[:, column[v]] for v in f.variables)]
        return total
