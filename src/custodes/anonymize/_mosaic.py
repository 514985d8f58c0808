"""A release as the mosaic check sees it, and the search that keeps a release mosaic-safe.

The engine reads the source once more for the columns the check needs: each
record's quasi-identifiers (to find its class in the summary), its sensitive
values and its person key. Every transformation the search weighs maps the
summary's classes to released classes, so a candidate's view is one lookup
per record: no rescan per transformation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from custodes.errors import InternalError
from custodes.io import TableSource
from custodes.risk import (
    MosaicRisk,
    ReleaseView,
    combination_ids,
    keyed_codes,
    links,
    mosaic_risk,
)
from custodes.summary import Summary

if TYPE_CHECKING:
    from custodes.engines import Engine

__all__ = ["RECORD_ID_SHARE", "MosaicCheck", "Records", "records_of", "view_of"]

RECORD_ID_SHARE = 0.5
"""A column released unchanged or masked whose released values are distinct for at least
this share of the records is a join key: two releases that carry it are linkable (joined
record by record, which counts the records it cannot tell apart as joined too: the
cautious side)."""

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Records:
    """Per source record: its class in the summary, its person and its coded values."""

    summary_class: IntArray
    person: IntArray
    basis: str
    sensitive: dict[str, IntArray]
    link: str | None = None
    """A record identifier the release carries as it is (see :data:`RECORD_ID_SHARE`): the
    releases that carry it can be joined record by record."""


@dataclass(frozen=True)
class MosaicCheck:
    """What a release is checked against: the views its recipients hold, and the rule.

    ``accept`` says whether a combined view meets the policy; ``dataset``,
    ``person`` and ``key`` say who the source's records are (see
    :func:`records_of`); ``link`` is the candidate's own link (see
    :class:`~custodes.risk.ReleaseView`)."""

    holdings: Sequence[Sequence[ReleaseView]]
    """What each holder the release would reach holds (one holding for a recipient; one
    per recipient for an open publication, which everyone holds)."""
    accept: Callable[[MosaicRisk], bool]
    k: int
    min_l: int
    dataset: str
    key: bytes = field(repr=False)
    sensitive: Sequence[str] = ()
    person: str | None = None
    link: str | None = None
    name: str = "candidate"
    carried: Sequence[str] = ()
    """Columns the release carries unchanged besides its quasi-identifiers and sensitive
    columns: one whose values are nearly all distinct is a record identifier."""
    masked: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """Masked columns and the characters the mask keeps (first, last): a mask that leaves
    values nearly all distinct leaves a record identifier."""


def records_of(
    engine: Engine,
    source: TableSource,
    summary: Summary,
    *,
    sensitive: Sequence[str],
    person: str | None,
    dataset: str,
    key: bytes,
    carried: Sequence[str] = (),
    masked: Mapping[str, tuple[int, int]] | None = None,
) -> Records:
    """Read the records of ``source`` whose ``summary`` was made: one scan of the
    quasi-identifiers, the sensitive columns and the person key.

    Values become keyed hashes (:func:`~custodes.risk.keyed_codes`) at once: no value
    is kept. Without a person key, a record's person is its source row."""
    qis = list(summary.quasi_identifiers)
    masked = dict(masked or {})
    columns = [*qis, *sensitive, *carried, *masked, *([person] if person else [])]
    coded = engine.row_codes(source, columns)
    rows = len(coded[0][0]) if coded else 0
    # Each record's quasi-identifiers as the summary's codes, then its class there.
    record_codes = []
    for j in range(len(qis)):
        codes, values = coded[j]
        index = {v: i for i, v in enumerate(summary.categories[j].to_pylist())}
        try:
            lut = np.asarray([index[v] for v in values.to_pylist()], dtype=np.int64)
        except KeyError:
            raise InternalError("the source changed between its summary and its records") from None
        record_codes.append(lut[codes] if len(lut) else codes)
    classes = summary.classes
    stacked = [
        np.concatenate([summary.codes[:, j].astype(np.int64), record_codes[j]])
        for j in range(len(qis))
    ]
    ids, _ = combination_ids(stacked) if stacked else (np.zeros(classes + rows, np.int64), None)
    lut = np.full(int(ids.max(initial=0)) + 1, -1, dtype=np.int64)
    lut[ids[:classes]] = np.arange(classes, dtype=np.int64)
    summary_class = lut[ids[classes:]]
    if np.any(summary_class < 0):
        raise InternalError("a record falls in no class of the summary")
    values = {
        name: keyed_codes(coded[len(qis) + i][1].to_pylist(), key)[coded[len(qis) + i][0]]
        for i, name in enumerate(sensitive)
    }
    # Record identifiers: a column released unchanged (or masked) whose released values
    # are nearly all distinct; a near-unique sensitive column identifies records too.
    basis = "key" if person else dataset
    found = []
    for i, name in enumerate([*sensitive, *carried, *masked]):
        codes, distinct = coded[len(qis) + i]
        if name in masked:
            first, last = masked[name]
            kept = [_masked(v, first, last) for v in distinct.to_pylist()]
            count = len(set(kept))
        else:
            count = len(distinct)
        if rows and count >= RECORD_ID_SHARE * rows:
            found.append(f"record identifier {basis}:{name}")
    link = "\n".join(sorted(found)) or None
    if person:
        codes, people = coded[-1]
        texts = people.to_pylist()
        keyed = keyed_codes(texts, key)[codes]
        if None in texts:  # a record without a person key is a person of its own
            missing = np.flatnonzero(codes == texts.index(None))
            keyed[missing] = keyed_codes([f"\0{dataset} row {r}" for r in missing], key)
        return Records(summary_class, keyed, "key", values, link)
    return Records(summary_class, np.arange(rows, dtype=np.int64), dataset, values, link)


def _masked(value: str | None, first: int, last: int) -> tuple[object, ...]:
    """What a mask keeping ``first`` and ``last`` characters releases of ``value`` (a short
    value whole), as a key: equal keys are equal released values."""
    if value is None or len(value) <= first + last:
        return (value,)
    return (value[:first], len(value), value[len(value) - last :] if last else "")


def view_of(
    records: Records,
    class_of: IntArray,
    dropped: npt.NDArray[np.bool_] | None,
    *,
    name: str,
    link: str | None,
) -> ReleaseView:
    """The view of a release that maps summary class ``c`` to released class
    ``class_of[c]``; records whose released class is ``dropped`` are suppressed."""
    klass = class_of[records.summary_class]
    kept = np.ones(len(klass), dtype=bool) if dropped is None else ~dropped[klass]
    return ReleaseView(
        name=name,
        person=records.person[kept],
        klass=klass[kept],
        sensitive={a: c[kept] for a, c in records.sensitive.items()},
        link="\n".join(sorted({*links(records.link), *links(link)})) or None,
        basis=records.basis,
    )


def combined_with(check: MosaicCheck, view: ReleaseView) -> list[MosaicRisk]:
    """The combined risk of ``view`` with each holding."""
    return [
        mosaic_risk([*held, view], check.k, min_l=check.min_l, new=len(held))
        for held in check.holdings
    ]
