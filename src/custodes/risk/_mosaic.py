"""Mosaic risk: what a recipient learns from several releases of the same people.

Each release is seen as a :class:`ReleaseView`: for every record, the person it
belongs to (the source row, or a declared person key, as integers), its
equivalence class in that release (the records that share its generalized
quasi-identifiers) and the codes of its released sensitive values (one coding
shared by all the releases).

Two attacker models (Ganta, Kasiviswanathan and Smith, KDD 2008):

- **linkable releases** (the same pseudonym key, or a shared record
  identifier: views with the same ``link``) are joined record by record, so a
  person's combined class is the set of people who share its class in every
  release of the group (absence from a release is seen too);
- **unlinkable groups** are intersected: an attacker who knows a target's
  quasi-identifiers knows its class in each group, and keeps only the
  sensitive values present in all of them (the composition attack). The
  posterior of a value is its share, in one of the target's classes, of the
  records whose value is still possible; the attacker keeps the sharpest. A
  release combined with itself gives its own figures, and adding a release
  never lowers them.

The work is proportional to the distinct combinations of classes, after one
pass over the records. Figures are counts and probabilities, never values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from custodes.errors import InvalidInputError

__all__ = ["MosaicRisk", "ReleaseView", "SensitiveMosaic", "mosaic_risk"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ReleaseView:
    """One release as the mosaic check sees it (see the module's description)."""

    name: str
    person: IntArray
    klass: IntArray
    sensitive: Mapping[str, IntArray] = field(default_factory=dict)
    link: str | None = None
    """Views with the same link can be joined record by record (None: with no other)."""


@dataclass(frozen=True)
class SensitiveMosaic:
    """One sensitive attribute on the combined view."""

    highest_posterior: float
    """The highest probability an attacker gives one person's value."""
    min_l: int
    """The fewest distinct values left to a person after intersection."""
    pinned: int
    """People whose value is the only one left (combined l = 1)."""


@dataclass(frozen=True)
class MosaicRisk:
    """The combined view of several releases."""

    releases: tuple[str, ...]
    people: int
    k: int
    """The smallest combined class (linkable groups joined; the best group otherwise)."""
    below_k: int
    """People in a combined class smaller than the ``k`` asked for."""
    highest_risk: float
    average_risk: float
    sensitive: dict[str, SensitiveMosaic]


def _dense(values: IntArray) -> tuple[IntArray, int]:
    """Values renumbered 0..m-1 in their order (m returned). Small non-negative values
    (the usual case: class numbers, folded pairs of them) by a lookup table, not a sort."""
    if len(values) == 0:
        return values.astype(np.int64), 0
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high <= 8 * len(values) + 1024:
        present = np.zeros(high + 1, dtype=bool)
        present[values] = True
        number = np.cumsum(present, dtype=np.int64) - 1
        return number[values], int(number[-1]) + 1
    unique, inverse = np.unique(values, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), len(unique)


def _combination(columns: list[IntArray]) -> tuple[IntArray, IntArray]:
    """Per row, the id of its combination of ``columns`` values; the size of each.

    Columns are folded in one at a time (the combination so far times the column's
    distinct values, renumbered), so no row-wise sort over all columns is needed."""
    combined, size = _dense(columns[0])
    for column in columns[1:]:
        codes, width = _dense(column)
        combined, size = _dense(combined * width + codes)  # size, width <= rows: no overflow
    return combined, np.bincount(combined, minlength=size).astype(np.int64)


def mosaic_risk(views: Sequence[ReleaseView], k: int = 1) -> MosaicRisk:
    """The combined risk of ``views`` (every person in any of them)."""
    if not views:
        raise InvalidInputError("a mosaic check needs at least one release.")
    names = [v.name for v in views]
    attributes = sorted(set(views[0].sensitive))
    for view in views:
        if len(view.person) != len(view.klass) or set(view.sensitive) != set(attributes):
            raise InvalidInputError(
                f"release {view.name!r}: every record needs a person, a class and the same "
                "sensitive attributes as the other releases."
            )
    people, universe = _dense(np.concatenate([v.person for v in views]))
    offsets = np.cumsum([0, *(len(v.person) for v in views)])
    groups: dict[str, list[int]] = defaultdict(list)
    for i, view in enumerate(views):
        groups[view.link if view.link is not None else f"\0{i}"].append(i)
    # Per group: each person's combined class (-1: in none of the group's releases).
    combined: list[IntArray] = []
    sizes: list[IntArray] = []
    for members in groups.values():
        columns, present = [], np.zeros(universe, dtype=bool)
        for i in members:
            column = np.full(universe, -1, dtype=np.int64)
            where = people[offsets[i] : offsets[i + 1]]
            column[where] = _dense(views[i].klass)[0]
            present[where] = True
            columns.append(column)
        comb, counts = _combination(columns)
        comb[~present] = -1
        combined.append(comb)
        sizes.append(counts)
    # Identity: the smallest class a person falls in (the attacker picks the best view).
    best = np.full(universe, np.iinfo(np.int64).max, dtype=np.int64)
    for comb, counts in zip(combined, sizes, strict=True):
        seen = comb >= 0
        best[seen] = np.minimum(best[seen], counts[comb[seen]])
    risk = 1.0 / best
    sensitive = {a: _sensitive(views, groups, combined, people, offsets, universe, a)
                 for a in attributes}  # fmt: skip
    return MosaicRisk(
        releases=tuple(names),
        people=universe,
        k=int(best.min()),
        below_k=int(np.count_nonzero(best < k)),
        highest_risk=float(risk.max()),
        average_risk=float(risk.mean()),
        sensitive=sensitive,
    )


def _bits(present: npt.NDArray[np.bool_], words: int) -> npt.NDArray[np.uint64]:
    """Rows of booleans as bitsets of ``words`` 64-bit words (value v: bit v % 64 of word
    v // 64)."""
    padded = np.zeros((len(present), words * 64), dtype=bool)
    padded[:, : present.shape[1]] = present
    packed = np.packbits(padded, axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view(np.uint64).reshape(len(present), words)


def _unbits(bits: npt.NDArray[np.uint64], size: int) -> npt.NDArray[np.bool_]:
    """The booleans of :func:`_bits` back (``size`` values a row)."""
    raw = np.ascontiguousarray(bits).view(np.uint8).reshape(len(bits), -1)
    return np.unpackbits(raw, axis=1, bitorder="little")[:, :size].astype(bool)


def _sensitive(
    views: Sequence[ReleaseView],
    groups: Mapping[str, list[int]],
    combined: list[IntArray],
    people: IntArray,
    offsets: npt.NDArray[np.int64],
    universe: int,
    attribute: str,
) -> SensitiveMosaic:
    """Posterior and values left per person, computed per combination of group classes."""
    codes, size = _dense(np.concatenate([v.sensitive[attribute] for v in views]))
    value = np.full(universe, -1, dtype=np.int64)
    for i in range(len(views)):  # a person's released value (the first release holding it)
        where = people[offsets[i] : offsets[i + 1]]
        fresh = value[where] < 0
        value[where[fresh]] = codes[offsets[i] : offsets[i + 1]][fresh]
    # Per group, per combined class: how many of its people have each value, and the
    # values present as a bitset (64 values a word).
    words = (size + 63) // 64
    tables, masks = [], []
    for comb in combined:
        seen = comb >= 0
        table = np.bincount(
            comb[seen] * size + value[seen], minlength=(int(comb.max()) + 1) * size
        ).reshape(-1, size)
        tables.append(table)
        masks.append(_bits(table > 0, words))
    # Per person, the values possible in every class it falls in: a bitwise AND.
    possible = np.full((universe, words), np.iinfo(np.uint64).max, dtype=np.uint64)
    for comb, mask in zip(combined, masks, strict=True):
        seen = comb >= 0
        possible[seen] &= mask[comb[seen]]
    left = np.bitwise_count(possible).sum(axis=1, dtype=np.int64)
    # The posterior: in each of the target's classes, the share of each value among the
    # records whose value is still possible; the attacker keeps the sharpest. Computed
    # once per distinct pair of a class and the values possible.
    _, pattern = np.unique(possible, axis=0, return_inverse=True)
    pattern = pattern.reshape(-1).astype(np.int64)
    first = np.zeros(int(pattern.max()) + 1, dtype=np.int64)
    first[pattern[::-1]] = np.arange(universe - 1, -1, -1)
    allowed = _unbits(possible[first], size)  # per pattern, the values possible
    highest = 1.0 if np.any(left == 1) else 0.0
    for comb, table in zip(combined, tables, strict=True):
        rows = np.flatnonzero(comb >= 0)
        pair, _ = _combination([comb[rows], pattern[rows]])
        one = np.zeros(int(pair.max()) + 1, dtype=np.int64)
        one[pair[::-1]] = rows[::-1]
        kept = table[comb[one]] * allowed[pattern[one]]
        total = kept.sum(axis=1)
        sharpest = kept.max(axis=1)[total > 0] / total[total > 0]
        highest = max(highest, float(sharpest.max(initial=0.0)))
    per_person_left = left
    return SensitiveMosaic(
        highest_posterior=highest,
        min_l=int(per_person_left.min()),
        pinned=int(np.count_nonzero(per_person_left == 1)),
    )
