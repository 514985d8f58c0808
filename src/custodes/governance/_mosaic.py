"""The mosaic check in the workflow: a release against everything its recipient holds.

What the recipient holds comes from :mod:`custodes.governance._holdings`; an
open publication is checked against what each recipient holds. The check
refuses a release whose combination breaks the governance policy (the k, risk
and l thresholds of a single release), or whose holding reaches important data
under the grading policy while the release is a file. Every check is a
``mosaic.checked`` ledger entry: the releases considered, the figures and the
verdict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from custodes.anonymize import AnonymizationSpec
from custodes.anonymize._identifiers import Mask
from custodes.anonymize._mosaic import MosaicCheck
from custodes.detect import DEFAULT_POLICY, GradingPolicy, grade, load_policy
from custodes.errors import RefusedError
from custodes.governance._holdings import CANDIDATE_FILE, Holding, Holdings, link_of
from custodes.risk import (
    MosaicRisk,
    ReleaseView,
    distinct_people,
    links,
    load_view,
    mosaic_risk,
)
from custodes.store import Dataset

__all__ = ["MosaicGate"]


class MosaicGate(Holdings):
    """The mosaic check of a prepared or released file."""

    def _grading(self) -> GradingPolicy:
        path = self.settings.grading_policy
        return load_policy(path) if path else DEFAULT_POLICY

    def _bounds(self, roles: Mapping[str, Any]) -> tuple[int, float]:
        sensitive = bool(roles.get("categories"))
        policy = self.policy
        if sensitive:
            return policy.sensitive_min_k, policy.sensitive_max_highest_risk
        return policy.min_k, policy.max_highest_risk

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
        try:
            holdings = self.holdings(request_id, recipient, details["sharing_model"])
        except RefusedError as exc:  # the refusal is a check too: on the ledger
            self._refused(request_id, recipient, exc)
            raise
        rows = self.basis_of(data)
        basis = "key" if person else rows
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
        masked = {
            a.column: (a.keep_first, a.keep_last)
            for a in spec.actions()
            if isinstance(a, Mask) and a.column in columns
        }
        k, highest = self._bounds(roles)
        return (
            MosaicCheck(
                holdings=[h.views for h in holdings],
                accept=lambda risk: not _problems(risk, k, highest, self.policy.min_l),
                k=k,
                min_l=self.policy.min_l,
                dataset=rows,
                key=self._mosaic_key(),
                sensitive=sensitive,
                person=person,
                link=link,
                name=f"request {request_id}",
                carried=carried,
                masked=masked,
            ),
            holdings,
        )

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
                shared = links(view.link) & links(v.link)
                if shared and v.basis != view.basis:
                    refusal = RefusedError(
                        f"request {request_id} can be joined record by record with {v.name} "
                        f"({', '.join(sorted(shared))}), a release of other records: the mosaic "
                        "check cannot join them. Declare the person key of both datasets "
                        "(`custodes catalog person-key`), use per-release pseudonyms, or leave "
                        "the record identifier out."
                    )
                    self._refused(request_id, h.holder, refusal)
                    raise refusal
        verdicts = [
            self._judge(h.views, h.records, view, data, details, h.holder, stage) for h in holdings
        ]
        verdict = {**_worst(verdicts), "holders_checked": len(verdicts)}
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

    def mosaic_preview(
        self, dataset: str, recipient: str, spec: AnonymizationSpec, source: Path
    ) -> tuple[MosaicCheck, list[Holding]]:
        """For a stand-alone anonymization (a steward's ``custodes anonymize
        --mosaic-safe``): the check of a file of ``dataset`` (``source`` must be its
        registered file) for ``recipient``, as a request would be checked."""
        with self._change() as session:
            self._need(session, "steward")
            data = self._dataset(session, dataset)
        self.checked_source(data.name, data.version, str(source), data.content_sha256)
        details = {"columns": json.loads(data.columns), "sharing_model": "file_under_agreement"}
        return self.mosaic_check("", data, details, spec, recipient)

    def preview_verdict(
        self, holdings: Sequence[Holding], view: ReleaseView, dataset: str
    ) -> dict[str, Any]:
        """The figures of a stand-alone anonymization's file with each holding, recorded as
        a ``mosaic.checked`` entry (stage ``anonymize``); the verdict recorded."""
        with self._change() as session:
            data = self._dataset(session, dataset)
        details = {"sharing_model": "file_under_agreement"}
        verdict = _worst(
            [
                self._judge(h.views, h.records, view, data, details, h.holder, "anonymize")
                for h in holdings
            ]
        )
        with self._change() as session:
            self._record(session, "mosaic.checked", f"{data.name}@{data.version}", verdict)
        return verdict

    def _refused(self, request_id: str, recipient: str, exc: RefusedError) -> None:
        """Record a check refused before its figures (the holding could not be read, or
        cannot be joined): which request, for whom, and why, on the ledger."""
        verdict = {
            "stage": "check",
            "recipient": recipient,
            "releases": [],
            "figures": {},
            "holding": {},
            "verdict": "refused",
            "problems": [exc.message],
            "holders_checked": 0,
        }
        with self._change() as session:
            self._record(session, "mosaic.checked", request_id, verdict)

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
            "releases": _considered(holding.records),
            "figures": {},
            "holding": graded,
            "verdict": "passed",
            "problems": [],
            "holders_checked": 1,
        }
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
            "releases": _considered(records),
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
        verdict = _worst(
            [
                self._judge(h.views, h.records, view, data, details, h.holder, "report")
                for h in self.holdings(request_id, recipient, details["sharing_model"])
            ]
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


def _worst(verdicts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Of one verdict per holding: the first refused, else the one weighing most releases."""
    return next(
        (v for v in verdicts if v["problems"]),
        max(verdicts, key=lambda v: len(v["releases"])),
    )


def _considered(records: Sequence[Any]) -> list[dict[str, Any]]:
    """The releases a check weighed, as its verdict names them."""
    return [
        {
            "release": r.id,
            "request": r.request_id,
            "dataset": f"{r.dataset}@{r.dataset_version}",
            "ledger_index": r.ledger_index,
        }
        for r in records
    ]


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
