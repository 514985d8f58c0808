"""Scan a table: which columns hold personal data, their suggested roles, the grade.

The scan reads a sample (the first ``sample`` rows) and, for every column,
matches every recognizer on the normalised values at once (the engine
evaluates the shapes in parallel), then validates the candidates. With
``full=True`` it then counts every value of the table for the recognizers the
sample or the column's name pointed to: the engine reads the table once, a
run of rows at a time, and each run is counted (:class:`_Tally`) and dropped,
so memory does not grow with the rows.

Cells that are not one entity but text (remarks, case notes) are searched for
identifier spans. Nothing in the result quotes a value: only names, counts
and rates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes._files import read_json_object
from custodes.detect._grading import DEFAULT_POLICY, Grade, GradingPolicy, grade
from custodes.detect._lexicon import CATEGORY_HINTS, NAME_HINTS, QUASI_HINTS, name_has
from custodes.detect._recognizers import (
    RECOGNIZERS,
    Recognizer,
    date_parts,
    validated_hits,
)
from custodes.detect._screen import header_judge, personal_data_in
from custodes.detect._validate import chunks, decimals, plain
from custodes.engines import get_engine
from custodes.engines._detect import DetectOps, Shape, SpanSearch, Strings
from custodes.errors import InvalidInputError, SettingError
from custodes.io import TableLike, TableSource, open_table

__all__ = [
    "ColumnScan",
    "EntityMatch",
    "ScanResult",
    "read_scan_roles",
    "scan",
    "scan_table",
]

SuggestedRole = Literal["identifying", "quasi_identifying", "sensitive", "insensitive"]
MAIN_RATE = 0.5
"""Share of a column's values an entity must reach to decide the column's role."""
HINTED_RATE = 0.2
"""The same when the column's name supports the entity."""
SECONDARY_RATE = 0.05
"""Share of values below which other entities than the main one are not reported."""
FREE_TEXT_LENGTH = 15
"""Median characters from which a column that is no single entity counts as text."""
AGE_HINTS = ("年龄", "age")
"""Names of a column of ages (checked for people under 14)."""


@dataclass(frozen=True)
class EntityMatch:
    """How many of a column's values are one kind of personal data."""

    entity: str
    recognizer: str
    matches: int
    """Values that match (validated where a validator exists)."""
    shape_only: int
    """Values of the right shape that fail validation (counted only where meaningful)."""
    match_rate: float
    confidence: float
    name_evidence: bool
    in_text: bool = False
    """Found as spans inside free text (``matches`` counts cells with one or more)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "entity": self.entity,
            "recognizer": self.recognizer,
            "matches": self.matches,
            "shape_only": self.shape_only,
            "match_rate": round(self.match_rate, 6),
            "confidence": round(self.confidence, 4),
            "name_evidence": self.name_evidence,
            "in_text": self.in_text,
        }


@dataclass(frozen=True)
class ColumnScan:
    """What the scan found in one column."""

    name: str
    values: int
    """Non-empty values scanned."""
    entities: tuple[EntityMatch, ...]
    suggested_role: SuggestedRole
    confidence: float
    match_rate: float
    """Share of values that are the column's main entity (0 when there is none)."""
    sensitive_categories: tuple[str, ...]
    free_text: bool
    suggested_action: str | None
    """``remove``, ``redact`` (free text with identifiers) or None."""
    reasons: tuple[str, ...] = field(default=())
    name_withheld: str | None = None
    """The kind of personal data the column's *name* is (a header-less file's first row
    taken for a header): the name is then never shown, only its hash (``label``)."""

    @property
    def label(self) -> str:
        """How outputs name the column: its name, or ``sha256:`` and its hash if withheld."""
        if self.name_withheld is None:
            return self.name
        return "sha256:" + hashlib.sha256(self.name.encode("utf-8")).hexdigest()

    @property
    def main_entity(self) -> str | None:
        """The entity that decided the role, if any."""
        if self.match_rate <= 0 or not self.entities:
            return None
        return self.entities[0].entity

    def to_dict(self) -> dict[str, Any]:
        """JSON form (documented in the README)."""
        return {
            "name": self.label,
            "name_withheld": self.name_withheld,
            "values": self.values,
            "entities": [e.to_dict() for e in self.entities],
            "main_entity": self.main_entity,
            "match_rate": round(self.match_rate, 6),
            "confidence": round(self.confidence, 4),
            "suggested_role": self.suggested_role,
            "suggested_action": self.suggested_action,
            "sensitive_categories": list(self.sensitive_categories),
            "free_text": self.free_text,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class ScanResult:
    """The scan of a table."""

    source: str
    rows: int
    scanned_rows: int
    full: bool
    columns: tuple[ColumnScan, ...]
    grade: Grade
    policy: GradingPolicy

    def column(self, name: str) -> ColumnScan:
        """The scan of one column."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def roles(self) -> dict[str, list[str]]:
        """Suggested roles as lists of column names (what assess and anonymize take)."""
        out: dict[str, list[str]] = {
            "identifying": [],
            "quasi_identifying": [],
            "sensitive": [],
            "redact": [],
        }
        for c in self.columns:
            if c.suggested_role == "insensitive":
                continue
            if c.suggested_action == "redact":
                out["redact"].append(c.name)
            else:
                out[c.suggested_role].append(c.name)
        return out

    def labelled_roles(self) -> dict[str, list[str]]:
        """:meth:`roles` as outputs show them: a name that is personal data as its hash."""
        label = {c.name: c.label for c in self.columns}
        return {k: [label[n] for n in names] for k, names in self.roles().items()}

    def to_json(self) -> str:
        """The JSON form as text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (documented in the README)."""
        return {
            "source": self.source,
            "rows": self.rows,
            "scanned_rows": self.scanned_rows,
            "full": self.full,
            "columns": [c.to_dict() for c in self.columns],
            "roles": self.labelled_roles(),
            "grade": self.grade.to_dict(),
            "policy": self.policy.to_dict(),
        }


def _confidence(r: Recognizer, valid: int, shaped: int, hinted: bool) -> float:
    total = valid + shaped
    if total == 0:
        return 0.0
    base = (valid * r.confidence + shaped * (r.shape_confidence or 0.0)) / total
    if hinted:  # the column's name agrees: a third of the doubt remains
        base = 1.0 - (1.0 - base) / 3.0
    return min(base, 0.999)


def _count(
    values: Strings, candidates: Sequence[Recognizer], engine: DetectOps
) -> dict[str, tuple[int, int]]:
    """(valid, shape-only) counts of each candidate on one column's values."""
    if not candidates or len(values) == 0:
        return {}
    found = engine.shape_matches(values, [r.shape for r in candidates])
    out: dict[str, tuple[int, int]] = {}
    for r, hits in zip(candidates, found, strict=True):
        shaped = len(hits.values)
        if shaped == 0:
            out[r.name] = (0, 0)
            continue
        if r.validate is None:
            out[r.name] = (shaped, 0)
            continue
        ok, judged = r.judge(hits.values)
        failing = 0
        if r.shape_confidence is not None:
            failed = judged.filter(pa.array(~ok, type=pa.bool_()))
            again = Shape("text", r.shape_pattern or r.pattern)  # already normalised
            failing = len(engine.shape_matches(failed, [again])[0].values)
        out[r.name] = (int(ok.sum()), failing)
    return out


def _spans(values: Strings, engine: DetectOps) -> dict[str, int]:
    """Cells holding one or more valid spans, per recognizer with a span pattern."""
    chosen = [r for r in RECOGNIZERS if r.span is not None]
    hits = validated_hits(values, chosen, lambda r: SpanSearch(r.shape, r.span), engine)
    out = {}
    for r, found in zip(chosen, hits, strict=True):
        cells = np.zeros(len(values), dtype=bool)
        cells[found.rows] = True
        out[r.name] = int(cells.sum())
    return out


@dataclass
class _Tally:
    """What a scan counts in one column, a run of values at a time."""

    candidates: Sequence[Recognizer]
    text: bool
    """Whether the values are searched for identifier spans."""
    birth: bool
    """Whether dates of birth of people under 14 are looked for."""
    age: bool
    """Whether ages under 14 are looked for."""
    values: int = 0
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    spans: dict[str, int] = field(default_factory=dict)
    minors: dict[bool, bool] = field(default_factory=dict)
    """Per kind (True: dates of birth, False: ages), whether people under 14 were seen."""

    def add(self, values: Strings, engine: DetectOps) -> None:
        """Count ``values`` (the next non-empty values of the column)."""
        self.values += len(values)
        for name, (valid, shaped) in _count(values, self.candidates, engine).items():
            before = self.counts.get(name, (0, 0))
            self.counts[name] = (before[0] + valid, before[1] + shaped)
        if self.text:
            for name, cells in _spans(values, engine).items():
                self.spans[name] = self.spans.get(name, 0) + cells
        for birth, wanted in ((True, self.birth), (False, self.age)):
            if wanted and not self.minors.get(birth):
                self.minors[birth] = _minors(values, birth)


def _minors(values: Strings, birth: bool) -> bool:
    """Whether a date-of-birth or age column shows people under 14 (a chunk at a time)."""
    youngest = date.today().year - 14
    for part in chunks(values):
        if birth:
            if (date_parts(part, whole=False)[1] > youngest).any():
                return True
            continue
        ages = decimals(part, float("nan"))
        if ((ages >= 0) & (ages < 14)).any():
            return True
    return False


def _column(name: str, tally: _Tally) -> ColumnScan:
    n, counts = tally.values, tally.counts
    spans = tally.spans if tally.text else None
    matches: list[EntityMatch] = []
    for r in RECOGNIZERS:
        valid, shaped = counts.get(r.name, (0, 0))
        hinted = name_has(name, NAME_HINTS.get(r.entity, ()))
        if valid + shaped == 0 or (r.needs_hint and not hinted):
            continue
        entity = r.entity
        if entity == "DATE_OF_BIRTH" and not hinted:
            entity = "DATE"
        matches.append(
            EntityMatch(
                entity,
                r.name,
                valid,
                shaped,
                (valid + shaped) / n if n else 0.0,
                _confidence(r, valid, shaped, hinted),
                hinted,
            )
        )
    matches.sort(key=lambda m: (-m.match_rate * m.confidence, m.recognizer))
    main = next(
        (m for m in matches if m.match_rate >= (HINTED_RATE if m.name_evidence else MAIN_RATE)),
        None,
    )
    # Secondary entities under 5 % of values are chance matches of a check digit.
    matches = [m for m in matches if m is main or m.match_rate >= SECONDARY_RATE]
    if main is not None:  # the main entity first
        matches.remove(main)
        matches.insert(0, main)
    span_matches: list[EntityMatch] = []
    if spans:
        for r in RECOGNIZERS:
            cells = spans.get(r.name, 0)
            if cells:
                span_matches.append(
                    EntityMatch(
                        r.entity, r.name, cells, 0, cells / n, r.confidence, False, in_text=True
                    )
                )
    quasi_hint = name_has(name, QUASI_HINTS)
    categories = {c for c, hints in CATEGORY_HINTS.items() if name_has(name, hints)}
    reasons: list[str] = []
    role: SuggestedRole = "insensitive"
    action: str | None = None
    confidence = 0.0
    by_name = {r.name: r for r in RECOGNIZERS}
    weak_main = main is not None and main.entity in ("PERSON_NAME", "ADDRESS", "DATE")
    if main is not None and not (weak_main and categories and not main.name_evidence):
        r = by_name[main.recognizer]
        role = "quasi_identifying" if main.entity == "DATE" else r.role
        confidence = main.confidence
        categories.update(r.categories)
        reasons.append(
            f"{main.match_rate:.0%} of values are {main.entity} ({r.description})"
            + ("; the column name agrees" if main.name_evidence else "")
        )
        action = "remove" if role == "identifying" else None
    elif span_matches:
        role, action = "identifying", "redact"
        confidence = max(m.confidence for m in span_matches)
        found = ", ".join(sorted({m.entity for m in span_matches}))
        reasons.append(f"free text with identifiers inside ({found}): redact them")
        for m in span_matches:
            categories.update(by_name[m.recognizer].categories)
    elif quasi_hint:
        role, confidence = "quasi_identifying", 0.7
        reasons.append("the column name suggests a quasi-identifier")
    unrecognized = role == "insensitive" or (role == "quasi_identifying" and main is None)
    if unrecognized and categories - {"whereabouts"}:
        role, confidence = "sensitive", max(confidence, 0.7)
        named = ", ".join(sorted(categories))
        reasons.append(f"the column name suggests sensitive information ({named})")
    birth = main is not None and main.entity == "DATE_OF_BIRTH"
    if (birth or name_has(name, AGE_HINTS)) and tally.minors.get(birth, False):
        categories.add("minors_under_14")
        reasons.append("holds people under 14 (sensitive under PIPL Art. 28)")
    return ColumnScan(
        name=name,
        values=n,
        entities=tuple(matches + span_matches),
        suggested_role=role,
        confidence=confidence,
        match_rate=main.match_rate if main is not None and role != "sensitive" else 0.0,
        sensitive_categories=tuple(sorted(categories)),
        free_text=spans is not None,
        suggested_action=action,
        reasons=tuple(reasons),
    )


def scan_table(
    source: TableSource,
    *,
    sample: int = 10_000,
    full: bool = False,
    policy: GradingPolicy = DEFAULT_POLICY,
    progress: Callable[[int, int], None] | None = None,
    engine: DetectOps | None = None,
) -> ScanResult:
    """Scan an opened table (see the module's description) with ``engine`` (default: the
    default engine)."""
    if sample < 1:
        raise SettingError(f"--sample is {sample}; give a number of rows >= 1, e.g. 10000.")
    ops: DetectOps = engine or get_engine()
    head = ops.detect_sample(source, sample)
    rows = head.rows
    tallies: dict[str, _Tally] = {}
    for i, (name, values) in enumerate(head.values.items()):
        tally = _Tally(RECOGNIZERS, False, True, name_has(name, AGE_HINTS))
        tally.add(values, ops)
        lengths = pc.utf8_length(plain(values)).to_numpy(zero_copy_only=False)
        long_text = len(values) > 0 and float(np.median(lengths)) >= FREE_TEXT_LENGTH
        most = max((v + s for v, s in tally.counts.values()), default=0)
        matched = most / max(len(values), 1) >= HINTED_RATE
        tally.text = long_text and not matched  # searched for identifier spans
        if full:
            candidates = [
                r
                for r in RECOGNIZERS
                if sum(tally.counts.get(r.name, (0, 0)))
                or name_has(name, NAME_HINTS.get(r.entity, ()))
            ]
            birth = any(r.name == "date_of_birth" for r in candidates)
            tally = _Tally(candidates, tally.text, birth, tally.age)
        elif tally.text:
            tally.spans = _spans(values, ops)
        tallies[name] = tally
        if progress is not None and not full:
            progress(i + 1, len(head.values))
    scanned = head.sampled
    if full:
        scanned = 0
        if progress is not None:
            progress(0, rows)
        # The columns of a run in parallel (the engine, Arrow and numpy free the GIL),
        # free text first: it takes longest.
        order = sorted(tallies, key=lambda name: not tallies[name].text)
        with ThreadPoolExecutor(max(1, min(len(order), os.cpu_count() or 1))) as pool:
            for batch in ops.detect_batches(source, order):
                work = [pool.submit(tallies[c].add, v, ops) for c, v in batch.values.items()]
                for done in work:
                    done.result()
                scanned += batch.rows
                if progress is not None:
                    progress(scanned, rows)
    columns = [_column(name, tally) for name, tally in tallies.items()]
    kinds = personal_data_in([c.name for c in columns])
    columns = [
        c if kind is None else dataclasses.replace(c, name_withheld=kind)
        for c, kind in zip(columns, kinds, strict=True)
    ]
    personal = [c for c in columns if c.suggested_role in ("identifying", "quasi_identifying")]
    sensitive = [c for c in columns if c.sensitive_categories]
    people = rows if personal else 0
    share = max((c.values / max(scanned, 1) for c in sensitive), default=0.0)
    sensitive_people = math.floor(rows * share)
    categories = sorted({cat for c in columns for cat in c.sensitive_categories})
    verdict = grade(people, sensitive_people, categories, policy, personal=bool(personal))
    return ScanResult(
        source=source.name,
        rows=rows,
        scanned_rows=scanned,
        full=full,
        columns=tuple(columns),
        grade=verdict,
        policy=policy,
    )


def scan(
    table: TableLike,
    *,
    sample: int = 10_000,
    full: bool = False,
    policy: GradingPolicy = DEFAULT_POLICY,
    engine: DetectOps | None = None,
    **options: Any,
) -> ScanResult:
    """Scan a table (a path, URI, Polars frame or opened source) for personal data.

    ``options`` are :func:`custodes.io.read_table`'s; a doubtful first row is judged
    by :func:`header_judge` unless ``has_header`` says.
    """
    if options.get("has_header") is None:
        options = {**options, "header_judge": header_judge}
    source = open_table(table, **options)
    return scan_table(source, sample=sample, full=full, policy=policy, engine=engine)


def read_scan_roles(
    path: str | os.PathLike[str], columns: Sequence[str] | None = None
) -> dict[str, list[str]]:
    """The suggested roles of a scan saved as JSON (``custodes scan --format json``).

    A column name the scan withheld (``sha256:`` and its hash) is matched to the table's
    ``columns`` when they are given.
    """
    data = read_json_object(path, "scan")
    roles = data.get("roles")
    keys = ("identifying", "quasi_identifying", "sensitive", "redact")
    if not isinstance(roles, dict) or not all(
        isinstance(roles.get(k), list) and all(isinstance(c, str) for c in roles[k]) for k in keys
    ):
        raise InvalidInputError(
            f"{path}: not a custodes scan (no roles lists); save one with "
            "`custodes scan TABLE --format json --output FILE`."
        )
    hashed = {"sha256:" + hashlib.sha256(c.encode("utf-8")).hexdigest(): c for c in columns or ()}
    out = {k: [hashed.get(c, c) for c in roles[k]] for k in keys}
    if columns is not None:
        for names in out.values():
            for name in names:
                if name.startswith("sha256:"):
                    raise InvalidInputError(
                        f"{path}: a column whose name the scan withheld is not in this table; "
                        "save a scan of this table."
                    )
    return out
