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

import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from custodes._grouping import renumber
from custodes.errors import InvalidInputError

__all__ = [
    "MosaicRisk",
    "ReleaseView",
    "SensitiveMosaic",
    "combination_ids",
    "distinct_people",
    "keyed_codes",
    "links",
    "load_view",
    "mosaic_risk",
    "save_view",
]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ReleaseView:
    """One release as the mosaic check sees it (see the module's description)."""

    name: str
    person: IntArray
    klass: IntArray
    sensitive: Mapping[str, IntArray] = field(default_factory=dict)
    link: str | None = None
    """What the view can be joined by, record by record (None: nothing); several links are
    separated by new lines. Views that share any link are joined (see :func:`links`)."""
    basis: str = ""
    """Whose ``person`` numbers these are: ``"key"`` (keyed hashes of a declared person
    key, shared by every dataset that declares one) or a dataset's name (its source rows:
    the same row of any version is the same person)."""


@dataclass(frozen=True)
class SensitiveMosaic:
    """One sensitive attribute on the combined view."""

    highest_posterior: float
    """The highest probability an attacker gives one person's value."""
    min_l: int
    """The fewest distinct values left to a person after intersection."""
    pinned: int
    """People whose value is the only one left (combined l = 1)."""
    below_l: int = 0
    """People left fewer than the ``min_l`` values asked for."""
    lowered: int = 0
    """People below ``min_l`` only in combination: the new release alone and the others
    alone each leave them at least ``min_l`` values (0 when no release is new)."""


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
    """Values renumbered 0..m-1 in their order (m returned)."""
    codes, distinct = renumber(values)
    return codes.astype(np.int64, copy=False), len(distinct)


def combination_ids(columns: list[IntArray]) -> tuple[IntArray, IntArray]:
    """Per row, the id of its combination of ``columns`` values; the size of each.

    Columns are folded in one at a time (the combination so far times the column's
    distinct values, renumbered), so no row-wise sort over all columns is needed."""
    combined, size = _dense(columns[0])
    for column in columns[1:]:
        codes, width = _dense(column)
        combined, size = _dense(combined * width + codes)  # size, width <= rows: no overflow
    return combined, np.bincount(combined, minlength=size).astype(np.int64)


def mosaic_risk(
    views: Sequence[ReleaseView], k: int = 1, *, min_l: int = 2, new: int | None = None
) -> MosaicRisk:
    """The combined risk of ``views`` (every person in any of them).

    ``new`` is the index of the release being checked: the people the combination
    leaves below ``min_l`` values that neither it alone nor the others alone do are
    counted apart (:attr:`SensitiveMosaic.lowered`)."""
    if not views:
        raise InvalidInputError("a mosaic check needs at least one release.")
    names = [v.name for v in views]
    attributes = sorted({a for v in views for a in v.sensitive})
    for view in views:
        lengths = {len(view.person), len(view.klass), *(len(c) for c in view.sensitive.values())}
        if len(lengths) != 1:
            raise InvalidInputError(
                f"release {view.name!r}: every record needs a person, a class and its "
                "sensitive values."
            )
    people, universe = _person_codes(views)
    if universe == 0:  # every record suppressed everywhere: nobody to single out
        return MosaicRisk(tuple(names), 0, 0, 0, 0.0, 0.0, {})
    groups = _linked(views)
    # Per group: each person's combined class (-1: in none of the group's releases).
    parts = [(m, *_group_comb(views, people, universe, m)) for m in groups.values()]
    combined = [comb for _, comb, _ in parts]
    sizes = [counts for _, _, counts in parts]
    baseline: Baseline | None = None
    if new is not None:  # the new release alone, and everything else as it was without it
        focus = next(g for g, m in enumerate(groups.values()) if new in m)
        others = [(m, comb) for g, (m, comb, _) in enumerate(parts) if g != focus]
        rest = [i for i in parts[focus][0] if i != new]
        if rest:
            others.append((rest, _group_comb(views, people, universe, rest)[0]))
        alone = (
            ([new], _group_comb(views, people, universe, [new])[0])
            if rest
            else ([new], parts[focus][1])
        )
        baseline = (others, alone)
    # Identity: the smallest class a person falls in (the attacker picks the best view).
    best = np.full(universe, np.iinfo(np.int64).max, dtype=np.int64)
    for comb, counts in zip(combined, sizes, strict=True):
        seen = comb >= 0
        if seen.all():
            np.minimum(best, counts[comb], out=best)
        else:
            best[seen] = np.minimum(best[seen], counts[comb[seen]])
    risk = 1.0 / best
    sensitive = {
        a: _sensitive(views, [(m, c) for m, c, _ in parts], baseline, people, universe, a, min_l)
        for a in attributes
    }
    return MosaicRisk(
        releases=tuple(names),
        people=universe,
        k=int(best.min()),
        below_k=int(np.count_nonzero(best < k)),
        highest_risk=float(risk.max()),
        average_risk=float(risk.mean()),
        sensitive=sensitive,
    )


Baseline = tuple[list[tuple[list[int], IntArray]], tuple[list[int], IntArray]]
"""What a new release is weighed against: the other groups (and the rest of its own
group) combined, and the new release alone; each with the releases it combines."""


def links(link: str | None) -> set[str]:
    """The links of a view's ``link`` (several are separated by new lines)."""
    return {x for x in (link or "").split("\n") if x}


def _linked(views: Sequence[ReleaseView]) -> dict[str, list[int]]:
    """The views in groups joined record by record: those that share a link, directly or
    through another view (union-find over the links)."""
    parent = list(range(len(views)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, view in enumerate(views):
        for token in sorted(links(view.link)):
            if token in first:
                parent[root(i)] = root(first[token])
            else:
                first[token] = i
    groups: dict[str, list[int]] = defaultdict(list)
    for i in range(len(views)):
        groups[str(root(i))].append(i)
    return groups


def _group_comb(
    views: Sequence[ReleaseView], people: Sequence[IntArray], universe: int, members: list[int]
) -> tuple[IntArray, IntArray]:
    """The combined class of each person in the releases ``members`` joined record by record
    (-1: in none of them), and the size of each combined class."""
    if len(members) == 1:  # one release: its classes, renumbered
        (i,) = members
        klass, width = _dense(views[i].klass)
        comb = np.full(universe, -1, dtype=np.int64)
        comb[people[i]] = klass
        return comb, np.bincount(klass, minlength=width).astype(np.int64)
    columns, present = [], np.zeros(universe, dtype=bool)
    for i in members:
        column = np.zeros(universe, dtype=np.int64)  # 0: not in this release
        column[people[i]] = _dense(views[i].klass)[0] + 1
        present[people[i]] = True
        columns.append(column)
    comb, counts = combination_ids(columns)
    comb[~present] = -1
    return comb, counts


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
    parts: list[tuple[list[int], IntArray]],
    baseline: Baseline | None,
    people: Sequence[IntArray],
    universe: int,
    attribute: str,
    min_l: int,
) -> SensitiveMosaic:
    """Posterior and values left per person, computed per combination of group classes.

    Only the groups with a release of the attribute say anything about it, and only the
    people whose value some release holds are measured."""
    # A person's released value: the first release holding it says it.
    raw = np.zeros(universe, dtype=np.int64)
    known = np.zeros(universe, dtype=bool)
    for i in range(len(views)):
        if attribute in views[i].sensitive:
            where = people[i]
            fresh = ~known[where]
            raw[where[fresh]] = views[i].sensitive[attribute][fresh]
            known[where[fresh]] = True
    value = np.full(universe, -1, dtype=np.int64)
    value[known], size = _dense(raw[known])
    if size == 0:
        return SensitiveMosaic(highest_posterior=0.0, min_l=0, pinned=0)
    everyone = bool(known.all())
    words = (size + 63) // 64
    cache: dict[int, tuple[IntArray, IntArray, npt.NDArray[np.uint64]]] = {}

    def counted(comb: IntArray) -> tuple[IntArray, IntArray, npt.NDArray[np.uint64]]:
        """Per combined class: how many of its people have each value, and the values
        present as a bitset (64 values a word); the classes of the people measured."""
        if id(comb) not in cache:
            mine = comb if everyone else np.where(known, comb, -1)
            seen = mine >= 0
            key = mine * size + value if seen.all() else mine[seen] * size + value[seen]
            classes = int(mine.max(initial=-1)) + 1
            table = np.bincount(key, minlength=classes * size).reshape(classes, size)
            cache[id(comb)] = (mine, table, _bits(table > 0, words))
        return cache[id(comb)]

    def holds(members: list[int]) -> bool:
        return any(attribute in views[i].sensitive for i in members)

    holding = [(members, comb) for members, comb in parts if holds(members)]
    if len(holding) == 1 and len(holding[0][0]) == 1:  # one release says it: no bitsets
        return _single(holding[0][1], value, known, size, min_l)
    classes = sum(int(c.max(initial=-1)) + 1 for _, c in holding)
    need = 8 * (3 * universe * words + classes * size)
    if need > MEMORY_BUDGET:
        raise InvalidInputError(
            f"a sensitive column has {size:,} distinct values over {len(holding)} releases "
            f"of {universe:,} people: the mosaic check would need {need / 2**30:.1f} GiB. "
            "Generalize the column (release bands or a hierarchy's level) and prepare again."
        )
    # Per person, the values possible in every class it falls in: a bitwise AND.
    full = np.iinfo(np.uint64).max
    possible = np.full((universe, words), full, dtype=np.uint64)
    held = [counted(comb) for members, comb in parts if holds(members)]
    for mine, _, mask in held:
        _narrow(possible, mine, mask)
    lowered = 0
    if baseline is not None:  # "only in combination": neither part alone leaves it below
        others_part, alone_part = baseline
        others = np.full((universe, words), full, dtype=np.uint64)
        for members, comb in others_part:
            if holds(members):
                mine, _, mask = counted(comb)
                _narrow(others, mine, mask)
        alone = np.full((universe, words), full, dtype=np.uint64)
        if holds(alone_part[0]):
            mine, _, mask = counted(alone_part[1])
            _narrow(alone, mine, mask)
        before = np.minimum(
            np.bitwise_count(others[known]).sum(axis=1, dtype=np.int64),
            np.bitwise_count(alone[known]).sum(axis=1, dtype=np.int64),
        )
    possible = possible[known]
    if len(possible) == 0:
        return SensitiveMosaic(highest_posterior=0.0, min_l=0, pinned=0)
    left = np.bitwise_count(possible).sum(axis=1, dtype=np.int64)
    if baseline is not None:
        lowered = int(np.count_nonzero((left < min_l) & (before >= min_l)))
    combined = [mine if everyone else mine[known] for mine, _, _ in held]
    tables = [table for _, table, _ in held]
    # Someone pinned down: the highest posterior is 1 already, exactly.
    highest = 1.0 if np.any(left == 1) else _posterior(combined, tables, possible, size)
    return SensitiveMosaic(
        highest_posterior=highest,
        min_l=int(left.min()),
        pinned=int(np.count_nonzero(left == 1)),
        below_l=int(np.count_nonzero(left < min_l)),
        lowered=lowered,
    )


MEMORY_BUDGET = 6 << 30
"""Bytes the bitsets and tables of one sensitive column may take (the machine has more;
other work shares it)."""


def _single(
    comb: IntArray, value: IntArray, known: npt.NDArray[np.bool_], size: int, min_l: int
) -> SensitiveMosaic:
    """One release alone: a person's values left are its class's distinct values, the
    posterior its class's sharpest share (counted pairs, memory per pair not per value)."""
    seen = (comb >= 0) & known
    if not seen.any():
        return SensitiveMosaic(highest_posterior=0.0, min_l=0, pinned=0)
    pairs, counts = np.unique(comb[seen] * size + value[seen], return_counts=True)
    klass = pairs // size
    classes = int(klass.max()) + 1
    distinct = np.bincount(klass, minlength=classes)
    total = np.bincount(klass, weights=counts, minlength=classes)
    sharpest = np.zeros(classes, dtype=np.int64)
    np.maximum.at(sharpest, klass, counts)
    left = distinct[comb[seen]]
    present = total > 0
    return SensitiveMosaic(
        highest_posterior=float((sharpest[present] / total[present]).max()),
        min_l=int(left.min()),
        pinned=int(np.count_nonzero(left == 1)),
        below_l=int(np.count_nonzero(left < min_l)),
        lowered=0,  # nothing to combine with
    )


def _narrow(possible: npt.NDArray[np.uint64], comb: IntArray, mask: npt.NDArray[np.uint64]) -> None:
    """AND each person's possible values with those of its class (``comb``, -1: none)."""
    seen = comb >= 0
    if seen.all():
        possible &= mask[comb]
    else:
        possible[seen] &= mask[comb[seen]]


def _posterior(
    combined: list[IntArray],
    tables: list[IntArray],
    possible: npt.NDArray[np.uint64],
    size: int,
) -> float:
    """The highest posterior: in each of a target's classes, the share of each value among
    the records whose value is still possible; the attacker keeps the sharpest. Computed
    once per distinct pair of a class and the values possible."""
    universe = len(possible)
    _, pattern = np.unique(possible, axis=0, return_inverse=True)
    pattern = pattern.reshape(-1).astype(np.int64)
    first = np.zeros(int(pattern.max()) + 1, dtype=np.int64)
    first[pattern[::-1]] = np.arange(universe - 1, -1, -1)
    allowed = _unbits(possible[first], size)  # per pattern, the values possible
    highest = 0.0
    for comb, table in zip(combined, tables, strict=True):
        rows = np.flatnonzero(comb >= 0)
        if len(rows) == 0:
            continue
        pair, _ = combination_ids([comb[rows], pattern[rows]])
        one = np.zeros(int(pair.max()) + 1, dtype=np.int64)
        one[pair[::-1]] = rows[::-1]
        kept = table[comb[one]] * allowed[pattern[one]]
        total = kept.sum(axis=1)
        sharpest = kept.max(axis=1)[total > 0] / total[total > 0]
        highest = max(highest, float(sharpest.max(initial=0.0)))
    return highest


def _person_codes(views: Sequence[ReleaseView]) -> tuple[list[IntArray], int]:
    """Every view's persons numbered 0..m-1 across views (m returned).

    A dataset's source rows get a range of their own; keyed hashes of a person key
    (shared by every dataset that declares one) are numbered after them. Numbers no
    view uses are dropped."""
    bases: dict[str, int] = {}
    for v in views:
        if v.basis != "key" and len(v.person):
            if int(v.person.min()) < 0:
                raise InvalidInputError(f"release {v.name!r}: a source row is negative.")
            bases[v.basis] = max(bases.get(v.basis, 0), int(v.person.max()) + 1)
    start, offset = 0, {}
    for basis in sorted(bases):
        offset[basis], start = start, start + bases[basis]
    keyed = [v.person for v in views if v.basis == "key"]
    distinct = np.unique(np.concatenate(keyed)) if keyed else np.zeros(0, dtype=np.int64)
    codes = []
    for v in views:
        if v.basis == "key":
            codes.append(start + np.searchsorted(distinct, v.person).astype(np.int64))
        else:
            first = offset.get(v.basis, 0)
            rows = np.asarray(v.person, dtype=np.int64)
            codes.append(first + rows if first else rows)
    present = np.zeros(start + len(distinct), dtype=bool)
    for c in codes:
        present[c] = True
    if present.all():  # no gaps: the numbers are the codes
        return codes, len(present)
    number = np.cumsum(present, dtype=np.int64) - 1
    return [number[c] for c in codes], int(present.sum())


def distinct_people(views: Sequence[ReleaseView]) -> int:
    """How many people ``views`` hold between them (a person key links datasets)."""
    return _person_codes(views)[1] if views else 0


def keyed_codes(values: Iterable[str | None], key: bytes) -> IntArray:
    """A number for each value (text), the same in every release: a keyed hash of 62 bits
    (BLAKE2b under the workspace's key), so a stored view holds no value."""
    out = []
    for value in values:
        text = b"\x00" if value is None else b"\x01" + value.encode("utf-8")
        digest = hashlib.blake2b(text, key=key[:64], digest_size=8).digest()
        out.append(int.from_bytes(digest, "little") & ((1 << 62) - 1))
    return np.asarray(out, dtype=np.int64)


def _small(codes: IntArray) -> npt.NDArray[np.integer[Any]]:
    """Non-negative codes in the smallest unsigned type that holds them."""
    top = int(codes.max(initial=0))
    kind = np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.uint32
    return codes.astype(kind if top < 1 << 32 else np.int64)


def save_view(view: ReleaseView) -> bytes:
    """A view as bytes (NumPy's .npz, no pickles, not compressed: it loads at memory
    speed): persons, classes renumbered, and each sensitive column as small codes into
    its distinct keyed values."""
    names = sorted(view.sensitive)
    meta = {"name": view.name, "link": view.link, "basis": view.basis, "sensitive": names}
    person = view.person
    if view.basis != "key" and len(person) and int(person.min()) >= 0 and int(person.max()) < 2**31:
        person = person.astype(np.int32)
    arrays: dict[str, npt.NDArray[Any]] = {
        "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), np.uint8),
        "person": person,
        "klass": _small(_dense(view.klass)[0]),
    }
    for i, name in enumerate(names):
        values, codes = np.unique(view.sensitive[name], return_inverse=True)
        arrays[f"v{i}"] = values.astype(np.int64)
        arrays[f"s{i}"] = _small(codes.reshape(-1).astype(np.int64))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def load_view(data: bytes, where: str) -> ReleaseView:
    """A view saved by :func:`save_view`; ``where`` names it in errors."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
            return ReleaseView(
                name=str(meta["name"]),
                person=arrays["person"].astype(np.int64),
                klass=arrays["klass"].astype(np.int64),
                sensitive={
                    str(a): arrays[f"v{i}"].astype(np.int64)[arrays[f"s{i}"]]
                    for i, a in enumerate(meta["sensitive"])
                },
                link=None if meta["link"] is None else str(meta["link"]),
                basis=str(meta["basis"]),
            )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise InvalidInputError(f"{where} is not a mosaic view custodes wrote ({exc}).") from None
