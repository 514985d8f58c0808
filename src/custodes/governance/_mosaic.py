"""The mosaic check in the workflow: a release against everything its recipient holds.

What a recipient holds is read from the release records (never from the
recipient's files): its releases neither revoked nor expired, and every open
publication (anyone holds those); an open publication is checked against
every release to anyone. Each file release keeps its view beside it
(``view.npz``: persons, classes and keyed codes of values, no value), whose
SHA-256 the release record and the ledger carry: a view changed or removed on
disk is refused, never skipped.

The check refuses a release whose combination breaks the governance policy
(the k, risk and l thresholds of a single release), or whose holding reaches
important data under the grading policy while the release is a file. Every
check is a ``mosaic.checked`` ledger entry: the releases considered, the
figures and the verdict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from custodes._names import canonical_name
from custodes.anonymize import AnonymizationSpec
from custodes.anonymize._identifiers import Pseudonymize, ShiftDates, key_fingerprint
from custodes.anonymize._mosaic import MosaicCheck
from custodes.detect import DEFAULT_POLICY, GradingPolicy, grade, load_policy
from custodes.errors import RefusedError
from custodes.governance._base import Acting
from custodes.ledger import leaf_hash
from custodes.risk import MosaicRisk, ReleaseView, distinct_people, load_view, mosaic_risk
from custodes.store import Dataset, LedgerEntry, Release

__all__ = ["VIEW_FILE", "MosaicGate", "release_key"]

VIEW_FILE = "view.npz"
CANDIDATE_FILE = "candidate-view.npz"
FILE_MODELS = ("open_publication", "file_under_agreement")


@dataclass(frozen=True)
class Holding:
    """What one holder holds: its live release records and their views, in one order."""

    holder: str
    records: list[Any]
    views: list[ReleaseView]


def release_key(key: bytes, request_id: str) -> bytes:
    """The pseudonym key of one request's release, derived from the workspace's key: two
    releases' pseudonyms cannot be joined unless their plan links them."""
    return hmac.new(
        key, b"custodes release pseudonyms\x00" + request_id.encode(), "sha256"
    ).digest()


def per_release(spec: AnonymizationSpec, request_id: str) -> AnonymizationSpec:
    """``spec`` with its pseudonyms and date shifts keyed for this release alone (unless
    the plan sets ``linked_pseudonyms``)."""
    if spec.linked_pseudonyms:
        return spec
    actions = tuple(
        replace(a, key=release_key(a.key, request_id))
        if isinstance(a, Pseudonymize | ShiftDates)
        else a
        for a in spec.identifier_actions
    )
    return replace(spec, identifier_actions=actions)


def link_of(spec: AnonymizationSpec, columns: Sequence[str]) -> str | None:
    """What a release can be joined by: the key of the pseudonyms it carries (None: none)."""
    keys = sorted(
        key_fingerprint(a.key)
        for a in spec.actions()
        if isinstance(a, Pseudonymize) and a.column in columns
    )
    return f"pseudonyms {keys[0]}" if keys else None


class MosaicGate(Acting):
    """The mosaic check of a prepared or released file."""

    def _mosaic_key(self) -> bytes:
        """The workspace's key for the codes of values and persons in views (made once,
        mode 0600, kept in the workspace's keys folder)."""
        path = self.preparer.path / "keys" / "mosaic.key"
        if not path.exists():
            with self._change() as session:
                kept = session.execute(
                    select(func.count())
                    .select_from(Release)
                    .where(Release.view_sha256.is_not(None))
                ).scalar_one()
            if kept:
                raise RefusedError(
                    f"the mosaic key {str(path)!r} is missing while {kept:,} releases keep views "
                    "made with it; restore it from a backup (a new key would unlink them)."
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(handle, "wb") as out:
                    out.write(secrets.token_bytes(32))
        key = path.read_bytes()
        if len(key) < 16:
            raise RefusedError(
                f"the mosaic key {str(path)!r} is shorter than 16 bytes; it was changed "
                "behind custodes' back. Restore it from a backup (views made with it need it)."
            )
        return key

    def _grading(self) -> GradingPolicy:
        path = self.settings.grading_policy
        return load_policy(path) if path else DEFAULT_POLICY

    def _bounds(self, roles: Mapping[str, Any]) -> tuple[int, float]:
        sensitive = bool(roles.get("categories"))
        policy = self.policy
        if sensitive:
            return policy.sensitive_min_k, policy.sensitive_max_highest_risk
        return policy.min_k, policy.max_highest_risk

    def view_path(self, request_id: str, name: str = VIEW_FILE) -> Path:
        """Where a request's mosaic view is kept: in the workspace, apart from the files
        delivered to the recipient (a view must never travel with a release)."""
        return self.preparer.path / "views" / request_id / name

    def basis_of(self, data: Dataset) -> str:
        """Whose rows a dataset's records are: the first name a source with this content was
        registered under (the same file registered again under another name is the same
        people)."""
        with self._change() as session:
            first = session.execute(
                select(Dataset.name)
                .where(Dataset.content_sha256 == data.content_sha256)
                .order_by(Dataset.created_at, Dataset.name)
                .limit(1)
            ).scalar_one_or_none()
        return first or data.name

    def _check_records(self, session: Session, live: Sequence[Any], today: str) -> None:
        """Refuse when the release records leave out a file release the ledger says is
        still held: a record deleted, revoked, expired or retyped in the store alone (each
        ledger entry read is checked against its leaf hash)."""
        from custodes.detect import hash_personal

        released: dict[str, dict[str, Any]] = {}
        ended: set[str] = set()
        rows = session.execute(
            select(LedgerEntry.index, LedgerEntry.entry, LedgerEntry.leaf_hash)
            .where(LedgerEntry.entry.like('%"type":"request.%'))
            .order_by(LedgerEntry.index)
        )
        for index, text, leaf in rows:
            if leaf_hash(text.encode("utf-8")) != bytes(leaf):
                raise RefusedError(
                    f"ledger entry {index} does not match its leaf hash: the ledger was changed "
                    "behind custodes' back; an auditor runs `custodes ledger verify`."
                )
            entry = json.loads(text)
            kind, subject = entry.get("type"), str(entry.get("subject"))
            if kind == "request.released":
                released[subject] = {**entry.get("payload", {}), "index": index}
            elif kind in ("request.revoked", "request.expired"):
                ended.add(subject)
        records = {r.request_id: r for r in live}
        for request, payload in released.items():
            if request in ended or payload.get("sharing_model") not in FILE_MODELS:
                continue
            if str(payload.get("term_end", "9999-12-31")) < today:
                continue
            record = records.get(request)
            said = hash_personal("", {"r": record.recipient})[1]["r"] if record else None
            if (
                record is None
                or record.ledger_index != payload["index"]
                or said != payload.get("recipient")
                or record.sharing_model != payload.get("sharing_model")
            ):
                raise RefusedError(
                    f"the release of request {request} (ledger entry {payload['index']}) is "
                    "still held by its recipient by the ledger, but the release records say "
                    "otherwise: they were changed behind custodes' back, and nothing is "
                    "checked against them. An auditor runs `custodes audit report`."
                )

    def holdings(self, request_id: str, recipient: str, model: str) -> list[Holding]:
        """What the release would join: the recipient's holding, or for an open publication
        (which everyone holds) every recipient's holding and the open publications alone.
        The records are checked against the ledger first."""
        today = date.today().isoformat()
        with self._change() as session:
            live = self.preparer.releases.held_in(session, None, today)
            self._check_records(session, [r for r in live if r.request_id != request_id], today)
        live = [r for r in live if r.request_id != request_id and r.sharing_model in FILE_MODELS]
        public = [r for r in live if r.sharing_model == "open_publication"]
        if model != "open_publication":
            name = canonical_name(recipient)
            mine = [r for r in live if r in public or canonical_name(r.recipient) == name]
            return [Holding(recipient, mine, [self._held_view(r) for r in mine])]
        views = {r.id: self._held_view(r) for r in live}
        by_name: dict[str, list[Any]] = {}
        for r in live:
            if r.sharing_model != "open_publication":
                by_name.setdefault(canonical_name(r.recipient), []).append(r)
        out = [Holding("anyone (the open publications)", public, [views[r.id] for r in public])]
        for records in by_name.values():
            held = sorted([*records, *public], key=lambda r: (r.released_at, r.id))
            out.append(Holding(records[0].recipient, held, [views[r.id] for r in held]))
        return out

    def holdings_in(
        self, session: Session, request_id: str, recipient: str, model: str
    ) -> list[str]:
        """The ids of the releases :meth:`holdings` weighs, read in ``session``."""
        live = self.preparer.releases.held_in(session, None, date.today().isoformat())
        live = [r for r in live if r.request_id != request_id and r.sharing_model in FILE_MODELS]
        if model == "open_publication":
            return sorted(r.id for r in live)
        name = canonical_name(recipient)
        return sorted(
            r.id
            for r in live
            if r.sharing_model == "open_publication" or canonical_name(r.recipient) == name
        )

    def mosaic_check(
        self,
        request_id: str,
        data: Dataset,
        details: Mapping[str, Any],
        spec: AnonymizationSpec,
        recipient: str,
    ) -> tuple[MosaicCheck, list[Holding]]:
        """What a file of ``request_id`` for ``recipient`` is checked against, and the
        holdings behind it."""
        roles = json.loads(data.roles)
        columns = list(details["columns"])
        person = roles.get("person_key")
        if person not in json.loads(data.columns):
            person = None
        holdings = self.holdings(request_id, recipient, details["sharing_model"])
        basis = "key" if person else self.basis_of(data)
        # A column some held release of these people kept as sensitive is sensitive here too
        # (the roles may have changed since).
        before = {
            a
            for h in holdings
            for v in h.views
            if v.basis == basis or (person and v.basis == "key")
            for a in v.sensitive
        }
        wanted = set(roles.get("sensitive", [])) | set(spec.sensitive) | before
        sensitive = sorted(wanted & set(columns))
        link = link_of(spec, columns)
        handled = {a.column for a in spec.actions()}
        carried = [
            c
            for c in columns
            if c not in spec.quasi_identifiers and c not in sensitive and c not in handled
        ]
        k, highest = self._bounds(roles)
        return (
            MosaicCheck(
                holdings=[h.views for h in holdings],
                accept=lambda risk: not _problems(risk, k, highest, self.policy.min_l),
                k=k,
                min_l=self.policy.min_l,
                dataset=basis,
                key=self._mosaic_key(),
                sensitive=sensitive,
                person=person,
                link=link,
                name=f"request {request_id}",
                carried=carried,
            ),
            holdings,
        )

    def _held_view(self, record: Any) -> ReleaseView:
        """A held release's view, refused when it is missing or not the one released."""
        path = self.view_path(record.request_id)
        what = f"release {record.id} (request {record.request_id}, {record.dataset})"
        if record.view_sha256 is None:
            raise RefusedError(
                f"{what} has no mosaic view: it was released before custodes kept them, so "
                "what its recipient holds cannot be checked. Revoke or expire it "
                "(`custodes request revoke`), or release to another recipient."
            )
        try:
            content = path.read_bytes()
        except OSError:
            raise RefusedError(
                f"the mosaic view of {what} is missing ({path}); restore it from a backup: "
                "nothing is released to its recipient without it."
            ) from None
        digest = hashlib.sha256(content).hexdigest()
        entry = self.ledger.entry(record.ledger_index) if record.ledger_index is not None else {}
        payload = entry.get("payload", {})
        released = (
            entry.get("type") == "request.released"
            and entry.get("subject") == record.request_id
            and payload.get("sharing_model") == record.sharing_model
        )
        if not released or digest != record.view_sha256 or digest != payload.get("view_sha256"):
            raise RefusedError(
                f"the mosaic view of {what} is not the one released (its SHA-256 differs from "
                "the release record's or the ledger's); it was changed behind custodes' back. "
                "Restore it from a backup; an auditor runs `custodes audit report`."
            )
        return replace(load_view(content, str(path)), name=f"release {record.id}")

    def mosaic_verdict(
        self,
        holdings: Sequence[Holding],
        view: ReleaseView,
        *,
        request_id: str,
        data: Dataset,
        details: Mapping[str, Any],
        stage: str,
    ) -> dict[str, Any]:
        """Combine ``view`` with each holding, record the check on the ledger, and refuse
        (after recording) when a combination breaks the policy. The verdict recorded: the
        first holding refused, else the largest."""
        for h in holdings:
            for v in h.views:
                if view.link is not None and v.link == view.link and v.basis != view.basis:
                    raise RefusedError(
                        f"request {request_id} can be joined record by record with {v.name} "
                        f"({view.link}), a release of other records: the mosaic check cannot "
                        "join them. Declare the person key of both datasets (`custodes "
                        "catalog person-key`), use per-release pseudonyms, or leave the "
                        "record identifier out."
                    )
        verdicts = [
            self._judge(h.views, h.records, view, data, details, h.holder, stage) for h in holdings
        ]
        worst = next(
            (v for v in verdicts if v["problems"]),
            max(verdicts, key=lambda v: len(v["releases"])),
        )
        verdict = {**worst, "holders_checked": len(verdicts)}
        with self._change() as session:
            self._record(session, "mosaic.checked", request_id, verdict)
        if verdict["problems"]:
            names = ", ".join(
                f"release {c['release']} ({c['dataset']}, request {c['request']})"
                for c in verdict["releases"]
            )
            raise RefusedError(
                f"request {request_id}: combined with what {verdict['recipient']} holds "
                f"({names or 'nothing'}), the release breaks the policy: "
                + "; ".join(verdict["problems"])
                + ". Prepare it with `mosaic_safe = true` in the plan (or --mosaic-safe), "
                "release fewer columns, or to another recipient."
            )
        return verdict

    def aggregation_check(
        self, request_id: str, data: Dataset, details: Mapping[str, Any], recipient: str
    ) -> str:
        """Query or enclave access: what the recipient would hold (its files, and this
        dataset's people) graded as one holding, recorded as a ``mosaic.checked`` entry.
        Its grade (the board the approval needs); a file release weighs its own view."""
        holding = self.holdings(request_id, recipient, details["sharing_model"])[0]
        roles = json.loads(data.roles)
        rows = np.arange(data.rows, dtype=np.int64)
        whole = ReleaseView(
            f"request {request_id}",
            rows,
            np.zeros(data.rows, dtype=np.int64),
            {"(any)": rows} if roles.get("categories") else {},
            basis=self.basis_of(data),
        )
        graded = self._holding(holding.records, holding.views, whole, data)
        verdict = {
            "stage": "prepare",
            "recipient": recipient,
            "releases": [
                {"release": r.id, "request": r.request_id,
                 "dataset": f"{r.dataset}@{r.dataset_version}", "ledger_index": r.ledger_index}
                for r in holding.records
            ],
            "figures": {},
            "holding": graded,
            "verdict": "passed",
            "problems": [],
            "holders_checked": 1,
        }  # fmt: skip
        with self._change() as session:
            self._record(session, "mosaic.checked", request_id, verdict)
        return str(graded["grade"])

    def _judge(
        self,
        held: Sequence[ReleaseView],
        records: Sequence[Any],
        view: ReleaseView,
        data: Dataset,
        details: Mapping[str, Any],
        recipient: str,
        stage: str,
    ) -> dict[str, Any]:
        """The figures of ``view`` combined with ``held``, the holding's grade, and how
        they break the policy (nothing recorded)."""
        k, highest = self._bounds(json.loads(data.roles))
        risk = mosaic_risk([*held, view], k, min_l=self.policy.min_l, new=len(held))
        problems = _problems(risk, k, highest, self.policy.min_l)
        holding = self._holding(records, held, view, data)
        level = holding["grade"]
        model = details["sharing_model"]
        if level != "general" and model not in self.policy.sharing.get(level, ()):
            allowed = ", ".join(self.policy.sharing.get(level, ())) or "none"
            roles = ", ".join(self.policy.board_roles.get(level, ())) or "none"
            problems.append(
                f"what {recipient} would hold is {level} data ({'; '.join(holding['reasons'])}); "
                f"{level} data goes out only as {allowed} (board roles: {roles}), not as {model}"
            )
        return {
            "stage": stage,
            "recipient": recipient,
            "releases": [
                {
                    "release": r.id,
                    "request": r.request_id,
                    "dataset": f"{r.dataset}@{r.dataset_version}",
                    "ledger_index": r.ledger_index,
                }
                for r in records
            ],
            "figures": _figures(risk),
            "holding": holding,
            "verdict": "refused" if problems else "passed",
            "problems": problems,
        }

    def mosaic(self, request_id: str) -> dict[str, Any]:
        """The combined risk of a prepared request's file with what its recipient holds
        now (a report: the checks of preparation and release are the ledger's)."""
        from custodes.errors import ForbiddenError, InvalidInputError

        with self._change() as session:
            me = self._me(session)
            if not self._sees_all(me):  # it shows what other recipients hold
                raise ForbiddenError(
                    f"{self.actor!r} may not see what recipients hold; a steward, reviewer or "
                    "auditor runs the mosaic report."
                )
            row = self._request(session, request_id)
            details = json.loads(row.details)
            report = json.loads(row.report or "{}")
            data = self._dataset(session, row.dataset, row.dataset_version)
            recipient = str(details.get("recipient") or row.requester)
            if row.release is not None:
                recipient = str(json.loads(row.release).get("recipient", recipient))
        saved = report.get("mosaic")
        if not saved:
            raise InvalidInputError(
                f"request {request_id} has no prepared file: the mosaic check weighs a file "
                "(prepare it with `custodes request prepare --plan`)."
            )
        path = self.view_path(request_id, CANDIDATE_FILE)
        try:
            content = path.read_bytes()
        except OSError:
            raise RefusedError(
                f"the prepared view of request {request_id} is missing ({path}); prepare the "
                "request again."
            ) from None
        if hashlib.sha256(content).hexdigest() != saved["view_sha256"]:
            raise RefusedError(
                f"the prepared view of request {request_id} is not the one prepared (SHA-256 "
                "differs); it was changed behind custodes' back. Prepare the request again."
            )
        view = load_view(content, str(path))
        verdicts = [
            self._judge(h.views, h.records, view, data, details, h.holder, "report")
            for h in self.holdings(request_id, recipient, details["sharing_model"])
        ]
        verdict = next(
            (v for v in verdicts if v["problems"]),
            max(verdicts, key=lambda v: len(v["releases"])),
        )
        figures = verdict["figures"]
        figures["sensitive"] = {  # column names are data: those that are personal withheld
            (name if _shown(name).startswith("'") else f"(withheld {i})"): values
            for i, (name, values) in enumerate(figures["sensitive"].items(), 1)
        }
        return {"request": request_id, "dataset": f"{data.name}@{data.version}", **verdict}

    def _holding(
        self,
        records: Sequence[Any],
        held: Sequence[ReleaseView],
        view: ReleaseView,
        data: Dataset,
    ) -> dict[str, Any]:
        """What the recipient would hold, graded as one table (GB/T 43697-2024 rules of the
        grading policy): people covered, those with sensitive information, the sensitive
        categories and the departments whose data it combines."""
        views = [*held, view]
        with self._change() as session:
            rows = {(data.name, data.version): data}
            for r in records:
                found = session.get(Dataset, (r.dataset, r.dataset_version))
                if found is not None:
                    rows[(r.dataset, r.dataset_version)] = found
            categories = sorted(
                {c for d in rows.values() for c in json.loads(d.roles).get("categories", [])}
            )
            departments = sorted({d.department for d in rows.values()})
        people = distinct_people(views)
        sensitive_people = distinct_people([v for v in views if v.sensitive]) if categories else 0
        policy = self._grading()
        graded = grade(people, sensitive_people, categories, policy)
        reasons = [r for r in graded.reasons if not r.startswith("general")]
        level = graded.level
        if policy.important_departments and len(departments) > policy.important_departments:
            reasons.append(
                f"important: combines the data of {len(departments)} departments, over "
                f"{policy.important_departments}"
            )
            if level == "general":
                level = "important"
        return {
            "people": people,
            "sensitive_people": sensitive_people,
            "categories": categories,
            "departments": departments,
            "grade": level,
            "reasons": reasons,
            "grading_policy": policy.source,
        }


def _problems(risk: MosaicRisk, k: int, highest: float, min_l: int) -> list[str]:
    """How a combination breaks the policy (empty: it does not)."""
    out = []
    if risk.below_k:
        out.append(
            f"{risk.below_k:,} people fall in a combined class of fewer than {k} "
            f"(combined k {risk.k})"
        )
    if risk.highest_risk > highest + 1e-12:
        out.append(f"the highest combined risk is {risk.highest_risk:.4f}, over {highest}")
    for name, s in sorted(risk.sensitive.items()):
        if s.lowered:
            out.append(
                f"sensitive column {_shown(name)}: {s.lowered:,} people are left fewer "
                f"than {min_l} values only in combination (combined l {s.min_l}, "
                f"highest posterior {s.highest_posterior:.2f})"
            )
    return out


def _shown(name: str) -> str:
    """A column's name for a message, withheld when it is personal data (names are data)."""
    from custodes.detect import personal_data_in

    return "(a column whose name is withheld)" if personal_data_in([name])[0] else repr(name)


def _figures(risk: MosaicRisk) -> dict[str, Any]:
    return {
        "people": risk.people,
        "k": risk.k,
        "below_k": risk.below_k,
        "highest_risk": f"{risk.highest_risk:.6f}",
        "average_risk": f"{risk.average_risk:.6f}",
        "sensitive": {
            name: {
                "highest_posterior": f"{s.highest_posterior:.6f}",
                "min_l": s.min_l,
                "pinned": s.pinned,
                "below_l": s.below_l,
                "lowered": s.lowered,
            }
            for name, s in sorted(risk.sensitive.items())
        },
    }


def write_view(view: ReleaseView, path: Path) -> str:
    """Write ``view`` to ``path`` (the caller's staged file); its SHA-256."""
    from custodes.risk import save_view

    content = save_view(view)
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()
