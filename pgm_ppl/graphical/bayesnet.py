"""Discrete Bayesian networks: declaration by CPTs, BIF reading, ancestral sampling, conversion to factors.

A Bayesian network over a DAG factorises the joint law into conditional probability tables (CPTs),

.. math::

    p(x_1,\\dots,x_n) = \\prod_{i=1}^n p(x_i \\mid x_{\\mathrm{pa}(i)}),

the directed graphical models of the notes (Figs 3.2, 3.4, 3.6, 3.11). Each CPT is stored with the parents'
axes first and the child's axis last, so ``cpt[pa_1, ..., pa_k]`` is the child's distribution.
"""

from __future__ import annotations

import gzip
import re
from decimal import Decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pgm_ppl.core.validation import check_probability_rows

from .factors import Factor, FactorGraph

__all__ = ["BayesianNetwork", "read_bif"]


@dataclass(frozen=True, eq=False)
class BayesianNetwork:
    """A discrete Bayesian network.

    Parameters
    ----------
    parents
        ``{variable: (parent, ...)}`` for every variable; roots map to ``()``.
    cpts
        ``{variable: array}`` with shape ``(card(pa_1), ..., card(pa_k), card(variable))``; each slice along
        the last axis is a probability vector. A row's sum may miss 1 by rounding at the table's precision
        (:math:`\\sqrt\\epsilon` of its dtype: 1.5e-8 for float64 and for lists of floats, 3.5e-4 for float32);
        rows are divided by their sums. (:func:`read_bif` renormalises rows rounded to the digits printed in
        the file before they get here.)
    state_names
        Optional ``{variable: (state, ...)}``; defaults to ``("0", "1", ...)``.

    Examples
    --------
    >>> bn = BayesianNetwork({"rain": (), "wet": ("rain",)},
    ...                      {"rain": [0.8, 0.2], "wet": [[0.9, 0.1], [0.2, 0.8]]})
    >>> bn.topological_order
    ('rain', 'wet')
    """

    parents: Mapping[str, tuple[str, ...]]
    cpts: Mapping[str, np.ndarray]
    state_names: Mapping[str, tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        parents = {v: tuple(p) for v, p in self.parents.items()}
        if set(parents) != set(self.cpts):
            raise ValueError(f"parents and cpts must name the same variables; only in parents: "
                             f"{sorted(set(parents) - set(self.cpts))}, only in cpts: "
                             f"{sorted(set(self.cpts) - set(parents))}.")
        cpts = {v: _check_rows(f"cpts[{v!r}]", self.cpts[v]) for v in parents}
        cards = {v: t.shape[-1] if t.ndim else 0 for v, t in cpts.items()}
        for v, table in cpts.items():
            for p in parents[v]:
                if p not in parents:
                    raise ValueError(f"Variable {v!r} has unknown parent {p!r}.")
            expected = tuple(cards[p] for p in parents[v]) + (cards[v],)
            if table.shape != expected:
                raise ValueError(f"CPT of {v!r}: shape {table.shape}, expected {expected} "
                                 f"(parents {parents[v]} then the child).")
        cpts = {v: t / t.sum(-1, keepdims=True) for v, t in cpts.items()}
        names = dict(self.state_names or {})
        for v in parents:
            names[v] = tuple(names.get(v, tuple(str(k) for k in range(cards[v]))))
            if len(names[v]) != cards[v]:
                raise ValueError(f"state_names[{v!r}] has {len(names[v])} names for {cards[v]} states.")
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "cpts", cpts)
        object.__setattr__(self, "state_names", names)
        object.__setattr__(self, "_order", _topological_order(parents))

    @property
    def topological_order(self) -> tuple[str, ...]:
        """Variables ordered so that parents come before children."""
        return self._order

    @property
    def variables(self) -> tuple[str, ...]:
        """Variable names in topological order."""
        return self._order

    @property
    def cardinalities(self) -> dict[str, int]:
        """Number of states of each variable."""
        return {v: self.cpts[v].shape[-1] for v in self._order}

    def to_factor_graph(self) -> FactorGraph:
        """One factor :math:`\\log p(x_i\\mid x_{\\mathrm{pa}(i)})` per CPT; its partition function is 1."""
        with np.errstate(divide="ignore"):
            factors = tuple(Factor(self.parents[v] + (v,), np.log(self.cpts[v])) for v in self._order)
        return FactorGraph(factors, self.state_names)

    def log_prob(self, samples: np.ndarray) -> np.ndarray:
        """:math:`\\log p(x)` of rows of integer states (columns in ``variables`` order)."""
        return self.to_factor_graph().log_potential(samples) if len(samples) else np.zeros(0)

    def sample(self, num_samples: int, *, seed: int | np.random.Generator = 0,
               evidence: Mapping[str, int | str] | None = None) -> np.ndarray:
        """Ancestral sampling, vectorised over samples: draw each variable given its sampled parents.

        With ``evidence``, the evidence columns are clamped (this samples the *intervened* network, the
        do-operator, not the conditional; use :func:`~pgm_ppl.graphical.gibbs_sample` or exact
        inference for conditionals).

        Returns
        -------
        numpy.ndarray
            Integer states, shape ``(num_samples, num_variables)``, columns in ``variables`` order.
        """
        if int(num_samples) < 0:
            raise ValueError(f"num_samples must be non-negative, got {num_samples}.")
        rng = np.random.default_rng(seed)
        clamp = self.to_factor_graph().state_index(evidence)
        column = {v: i for i, v in enumerate(self._order)}
        out = np.zeros((int(num_samples), len(column)), dtype=np.int64)
        for v in self._order:
            if v in clamp:
                out[:, column[v]] = clamp[v]
                continue
            probs = self.cpts[v][tuple(out[:, column[p]] for p in self.parents[v])]
            cdf = np.cumsum(np.broadcast_to(probs, (int(num_samples), probs.shape[-1])), axis=1)
            u = rng.random((int(num_samples), 1)) * cdf[:, -1:]
            out[:, column[v]] = np.minimum((u >= cdf).sum(axis=1), cdf.shape[1] - 1)
        return out


def _topological_order(parents: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Kahn's algorithm; raises ValueError on a directed cycle."""
    indegree = {v: len(p) for v, p in parents.items()}
    children: dict[str, list[str]] = {v: [] for v in parents}
    for v, ps in parents.items():
        for p in ps:
            children[p].append(v)
    ready = [v for v in parents if indegree[v] == 0]
    order = []
    while ready:
        v = ready.pop(0)
        order.append(v)
        for c in children[v]:
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    if len(order) != len(parents):
        raise ValueError(f"The parent sets contain a directed cycle through {sorted(set(parents) - set(order))}.")
    return tuple(order)


def _check_rows(name: str, table: object, tol: float | np.ndarray | None = None) -> np.ndarray:
    """``table`` as float64 after checking that its rows (last axis, the child's states) are probability vectors
    (:func:`pgm_ppl.core.validation.check_probability_rows`; ``tol`` defaults to the rounding level of its dtype),
    naming the parent states of a bad row."""
    return check_probability_rows(table, name, tol=tol, renormalise=False,
                                  describe_row=lambda row: f"parent states {row}")


_VARIABLE = re.compile(r"variable\s+([^\s{]+)\s*\{[^}]*?type\s+discrete\s*\[\s*(\d+)\s*\]\s*\{([^}]*)\}",
                       re.DOTALL)
_PROBABILITY = re.compile(r"probability\s*\(\s*([^)|]+?)\s*(?:\|\s*([^)]*))?\)\s*\{(.*?)\}", re.DOTALL)


def read_bif(path: str | Path) -> BayesianNetwork:
    """Read a Bayesian network from a BIF file (plain or ``.gz``), the bnlearn repository format.

    Conditional tables must list one labelled row per parent configuration, ``(s_1, ..., s_k) p_1, ...;``
    (the form used by the bnlearn networks shipped with pgmpy); root tables use ``table p_1, ...;``.

    Probabilities are printed to a few digits, so a row's sum may miss 1 (alarm's ``0.3333333`` three times
    sums to 0.9999999): a row is accepted when it misses 1 by at most the rounding of its printed digits
    (half a unit in the last digit of each entry) and is then divided by its sum.

    Raises
    ------
    ValueError
        If the file names an undeclared variable or state, a table has the wrong length, or a row is not a
        probability vector within the rounding of its digits.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        text = re.sub(r"//[^\n]*", "", fh.read())
    states = {}
    for name, card, names in _VARIABLE.findall(text):
        states[name] = tuple(s.strip() for s in names.split(",") if s.strip())
        if len(states[name]) != int(card):
            raise ValueError(f"{path.name}: variable {name!r} declares {card} states but lists {states[name]}.")
    parents, cpts = {}, {}
    for child, pa, body in _PROBABILITY.findall(text):
        child = child.strip()
        pa_names = tuple(p.strip() for p in pa.split(",") if p.strip()) if pa else ()
        for v in (child,) + pa_names:
            if v not in states:
                raise ValueError(f"{path.name}: probability block names undeclared variable {v!r}.")
        parents[child] = pa_names
        cpts[child] = _parse_table(path.name, child, pa_names, body, states)
    return BayesianNetwork(parents, cpts, states)


def _parse_table(fname: str, child: str, pa: Sequence[str], body: str,
                 states: Mapping[str, tuple[str, ...]]) -> np.ndarray:
    card = len(states[child])
    table = np.full(tuple(len(states[p]) for p in pa) + (card,), np.nan)
    rounding = np.zeros(table.shape[:-1])
    for entry in filter(None, (e.strip() for e in body.split(";"))):
        if entry.startswith("table"):
            tokens = entry[5:].replace(",", " ").split()
            values = np.array([float(x) for x in tokens])
            if pa:
                raise ValueError(f"{fname}: conditional table of {child!r} uses the unlabelled 'table' form; "
                                 "only labelled rows '(state, ...) p, ...;' are supported for conditionals.")
            if values.size != card:
                raise ValueError(f"{fname}: table of {child!r} has {values.size} values, expected {card}.")
            table[...], rounding[...] = values, _printed_rounding(tokens)
            continue
        label, _, values = entry[1:].partition(")")
        row = []
        for p, s in zip(pa, (s.strip() for s in label.split(","))):
            if s not in states[p]:
                raise ValueError(f"{fname}: CPT of {child!r} names unknown state {s!r} of parent {p!r}.")
            row.append(states[p].index(s))
        tokens = values.replace(",", " ").split()
        probs = [float(x) for x in tokens]
        if len(probs) != card or len(row) != len(pa):
            raise ValueError(f"{fname}: CPT of {child!r}, row ({label}): expected {len(pa)} parent states "
                             f"and {card} probabilities.")
        table[tuple(row)], rounding[tuple(row)] = probs, _printed_rounding(tokens)
    if np.isnan(table).any():
        raise ValueError(f"{fname}: CPT of {child!r} misses some parent configurations.")
    table = _check_rows(f"{fname}: CPT of {child!r}", table, rounding + card * np.finfo(np.float64).eps)
    return table / table.sum(-1, keepdims=True)


def _printed_rounding(tokens: Sequence[str]) -> float:
    """Largest error of the sum of decimal numbers printed as ``tokens``: half a unit in each one's last digit."""
    total = 0.0
    for token in tokens:
        exponent = Decimal(token).as_tuple().exponent
        if isinstance(exponent, int):  # 'n'/'F' for NaN/inf: refused as non-finite by _check_rows
            total += 0.5 * 10.0 ** exponent
    return total
