"""Preparing a request (running its plan, checking the gates) and releasing it exactly.

Files are written under a temporary name and renamed as the transaction that
records the step commits, so a killed process never leaves a file that looks
prepared or released without its record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from custodes._files import StagedFile, text_sha256
from custodes.errors import RefusedError
from custodes.governance._base import FULL_VIEW, now
from custodes.governance._catalog import source_options
from custodes.governance._gates import candidate_of, check_gates
from custodes.governance._holdings import CANDIDATE_FILE, FILE_MODELS, per_release, write_view
from custodes.governance._mosaic import MosaicGate
from custodes.governance._workflow import STEPS
from custodes.store import Dataset, Decision

__all__ = ["FILE_MODELS", "Preparation", "recipient_manifest"]


class Preparation(MosaicGate):
    """The steward's preparation of a request and its release."""

    def prepare(
        self,
        request_id: str,
        plan: str | os.PathLike[str] | None = None,
        *,
        mosaic_safe: bool = False,
    ) -> dict[str, Any]:
        """Run the anonymization plan (a spec file) and attach the risk and utility report.

        File releases need a plan; the policy's gates are checked on the
        result: k and the highest risk, and no direct identifier left as it
        was. Query and enclave access need no file. A request processed (not
        yet submitted) or sent back by a reviewer is prepared again: the new
        plan, report and file replace the old, and after a send-back the board
        reviews it in a new round (earlier decisions no longer count).

        A file is checked against what its recipient holds (the mosaic check, see
        :class:`~custodes.governance._mosaic.MosaicGate`); with ``mosaic_safe`` (or
        ``mosaic_safe = true`` in the plan) the search finds the least-loss
        transformation whose combination meets the policy.
        """
        with self._change() as session:
            self._need(session, *STEPS["processing"].roles)
            row = self._request(session, request_id)
            self._step(row, "processing")
            details = json.loads(row.details)
            data = self._dataset(session, row.dataset, row.dataset_version)
            recipient = str(details.get("recipient") or row.requester)
        model = details["sharing_model"]
        report: dict[str, Any]
        plan_record: dict[str, Any]
        artifact = None
        with ExitStack() as stack:
            staged: StagedFile | None = None
            if model in FILE_MODELS:
                if plan is None:
                    raise RefusedError(
                        f"request {request_id} shares a file: processing needs an anonymization "
                        "plan (a spec file, --plan)."
                    )
                spec, spec_path = self._load_plan(plan, request_id)
                source = self._checked_source(data)
                check, held = self.mosaic_check(request_id, data, details, spec, recipient)
                safe = mosaic_safe or spec.mosaic_safe
                # Written under a temporary name, renamed as the preparation commits.
                staged = stack.enter_context(
                    StagedFile(self._artifact_path(request_id, "staged", source))
                )
                made = self._make_file(data, source, spec, details, staged, check, safe)
                self._gates(data, details, made, staged)
                view = made.mosaic_view(check.name, check.link)
                mosaic = self.mosaic_verdict(
                    held, view, request_id=request_id, data=data, details=details, stage="prepare"
                )
                candidate = stack.enter_context(
                    StagedFile(self.view_path(request_id, CANDIDATE_FILE))
                )
                view_sha256 = write_view(view, candidate.temp)
                artifact = made.output_sha256
                report = {
                    "k_anonymity": made.after.k_anonymity,
                    "highest_risk": str(made.after.prosecutor.highest_risk),
                    "average_risk": str(made.after.prosecutor.average_risk),
                    "records_at_risk": str(made.after.prosecutor.records_at_risk),
                    "loss": f"{made.loss:.6f}",
                    "suppressed_records": made.suppressed_records,
                    "rows_out": made.rows,
                    "columns_out": list(made.table.columns),
                    "manifest_sha256": text_sha256(made.manifest_json()),
                    "mosaic": {
                        "recipient": mosaic["recipient"],
                        "releases": [c["release"] for c in mosaic["releases"]],
                        "k": mosaic["figures"]["k"],
                        "highest_risk": mosaic["figures"]["highest_risk"],
                        "holding_grade": mosaic["holding"]["grade"],
                        "mosaic_safe": safe,
                        "view_sha256": view_sha256,
                    },
                }
                plan_record = {"spec_path": str(spec_path), "spec_sha256": spec.sha256()}
                if safe and made.search is not None:  # the release reproduces these levels
                    plan_record["levels"] = list(made.search.levels)
                # The ledger names the plan by its hash: no path of this machine.
                plan_entry: dict[str, Any] = {"spec_sha256": spec.sha256()}
            else:
                holding = self.aggregation_check(request_id, data, details, recipient)
                report = {"access": model, "rows": data.rows, "holding_grade": holding}
                plan_record = {"access": model}
                plan_entry = plan_record
            with self._change() as session:
                self._need(session, *STEPS["processing"].roles)
                row = self._request(session, request_id)
                self._step(row, "processing")
                details = json.loads(row.details)
                review_round = int(details.get("round", 1))
                decided = session.execute(
                    select(Decision.reviewer).where(
                        Decision.request_id == request_id, Decision.round == review_round
                    )
                ).first()
                if decided is not None:  # sent back: the board reviews it anew
                    review_round += 1
                details["round"] = review_round
                if model not in FILE_MODELS:  # the board of what the recipient would hold
                    details["holding_grade"] = report["holding_grade"]
                details["preparers"] = sorted({*details.get("preparers", []), self.actor})
                again, replaced = row.plan is not None, row.artifact_sha256
                row.details = json.dumps(details, ensure_ascii=False)
                row.preparer = self.actor
                row.plan = json.dumps(plan_record, ensure_ascii=False)
                row.report = json.dumps(report, ensure_ascii=False)
                row.artifact_sha256 = artifact
                self._move(
                    session,
                    row,
                    "processed",
                    {
                        "plan": plan_entry,
                        "artifact_sha256": artifact,
                        "report": report,
                        "round": review_round,
                        **({"replaces": replaced} if again else {}),
                    },
                )
                if staged is not None:
                    staged.commit()  # the last steps before the commit; undone if they fail
                    candidate.commit()
        return report

    def assess_dataset(self, name: str, version: int | None = None) -> dict[str, Any]:
        """The re-identification risk of a dataset version (default: the newest) under its
        registered roles (staff only: it reads the data): the assessment's JSON object,
        aggregate figures and column names only."""
        with self._change() as session:
            self._need(session, *FULL_VIEW)
            data = self._dataset(session, name, version)
            roles = json.loads(data.roles)
            found = (data.name, data.version, data.source, data.content_sha256, data.has_header)
        qis = list(roles.get("quasi_identifying") or [])
        if not qis:
            raise RefusedError(
                f"{name} has no quasi-identifiers among its roles; correct the roles first "
                "(custodes catalog roles)."
            )
        source = self.checked_source(*found[:4])
        assessed = self.preparer.assess(
            source,
            quasi_identifiers=qis,
            sensitive=list(roles.get("sensitive") or []) or None,
            read_options=source_options(found[4]),
        )
        return assessed.to_dict()

    def preview(self, request_id: str, plan: str | os.PathLike[str]) -> dict[str, Any]:
        """What :meth:`prepare` would make of ``plan`` for a file request, before it is
        submitted: the transformation, suppression and loss, and the risk before and after
        (ARX's analysis of risk and utility). Nothing is written or recorded; the policy's
        gates and the mosaic check are applied by :meth:`prepare`."""
        with self._change() as session:
            self._need(session, *STEPS["processing"].roles)
            row = self._request(session, request_id)
            details = json.loads(row.details)
            data = self._dataset(session, row.dataset, row.dataset_version)
        if details.get("sharing_model") not in FILE_MODELS:
            raise RefusedError(f"request {request_id} shares no file: it has no plan to preview.")
        spec, _ = self._load_plan(plan, request_id)
        made = self.preparer.anonymize(
            self._checked_source(data),
            spec,
            record=False,
            columns=details["columns"],
            read_options=source_options(data.has_header),
        )
        utility = made.manifest()["utility"]
        return {
            "transformation": made.transformation,
            "suppressed_records": made.suppressed_records,
            "rows_out": made.rows,
            "loss": f"{made.loss:.6f}",
            "utility_columns": utility["columns"] if utility else [],
            "risk_before": made.before.to_dict(),
            "risk_after": made.after.to_dict(),
        }

    def _make_file(
        self,
        data: Dataset,
        source: Path,
        spec: Any,
        details: Mapping[str, Any],
        staged: StagedFile,
        check: Any,
        mosaic_safe: bool = False,
    ) -> Any:
        """Run the plan on the dataset into ``staged``: the requested columns only, read as
        the dataset was registered, with the records the mosaic ``check`` reads.
        Preparation and release make the same file this way."""
        return self.preparer.anonymize(
            source,
            spec,
            output=staged,
            record=False,
            columns=details["columns"],
            read_options=source_options(data.has_header),
            mosaic=check,
            mosaic_safe=mosaic_safe,
        )

    def _load_plan(self, plan: str | os.PathLike[str], request_id: str) -> tuple[Any, Path]:
        """The plan, its pseudonyms keyed for this request's release alone (unless it sets
        ``linked_pseudonyms``), and its path."""
        from custodes.anonymize import load_spec
        from custodes.anonymize._identifiers import KEY_ENV

        path = Path(plan).resolve()
        key = self.preparer.path / "keys" / "pseudonym.key"
        hint = f"save it as {str(key)!r} (the workspace's pseudonym key), or set {KEY_ENV}"
        spec = load_spec(path, str(key) if key.exists() else None, key_hint=hint)
        return per_release(spec, request_id), path

    def _checked_source(self, data: Dataset) -> Path:
        return self.checked_source(data.name, data.version, data.source, data.content_sha256)

    def _artifact_path(self, request_id: str, kind: str, source: Path) -> Path:
        suffix = source.suffix if source.suffix in (".csv", ".parquet", ".jsonl") else ".csv"
        return self.preparer.path / "releases" / request_id / f"{kind}{suffix}"

    def _gates(
        self, data: Dataset, details: Mapping[str, Any], made: Any, written: StagedFile
    ) -> None:
        """The policy's release gates (:data:`~custodes.governance.GATES`) on a prepared file."""
        candidate = candidate_of(
            made,
            written=written,
            policy=self.policy,
            roles=json.loads(data.roles),
            requested=details["columns"],
        )
        check_gates(candidate)

    def release(self, request_id: str, *, recipient: str, terms: str) -> dict[str, Any]:
        """Produce the approved artifact exactly (hash-checked) and record its release."""
        if not recipient.strip() or not terms.strip():
            raise RefusedError("a release names its recipient and its terms.")
        with self._change() as session:
            self._need(session, *STEPS["release"].roles)
            row = self._request(session, request_id)
            self._step(row, "release")
            details = json.loads(row.details)
            if details["term_end"] < date.today().isoformat():
                raise RefusedError(
                    f"the terms of request {request_id} ended on {details['term_end']}; "
                    "nothing is released after its term."
                )
            plan = json.loads(row.plan or "{}")
            data = self._dataset(session, row.dataset, row.dataset_version)
        path = None
        made = None
        view_sha256: str | None = None
        kept: StagedFile | None = None
        checked: list[str] = []
        with ExitStack() as stack:
            staged: StagedFile | None = None
            if details["sharing_model"] in FILE_MODELS:
                spec, _ = self._load_plan(plan["spec_path"], request_id)
                if spec.sha256() != plan["spec_sha256"]:
                    raise RefusedError(
                        f"the plan of request {request_id} changed since it was approved "
                        "(spec SHA-256 differs); prepare and review it again."
                    )
                if "levels" in plan:  # a mosaic-safe plan: the levels the review approved
                    fixed = dict(zip(spec.quasi_identifiers, plan["levels"], strict=True))
                    spec = replace(spec, min_levels=fixed, max_levels=fixed)
                source = self._checked_source(data)
                check, held = self.mosaic_check(request_id, data, details, spec, recipient)
                path = self._artifact_path(request_id, "release", source)
                # Written under a temporary name: release.csv appears only as the release
                # commits (a kill in between leaves what `custodes doctor` reports).
                staged = stack.enter_context(StagedFile(path))
                made = self._make_file(data, source, spec, details, staged, check)
                if made.output_sha256 != row.artifact_sha256:
                    raise RefusedError(
                        f"the release of request {request_id} does not reproduce the approved "
                        "file (SHA-256 differs); nothing was released."
                    )
                candidate = candidate_of(
                    made,
                    written=staged,
                    policy=self.policy,
                    roles=json.loads(data.roles),
                    requested=details["columns"],
                    what=f"the release of request {request_id}",
                )
                check_gates(candidate, ["no_checked_identifiers"])
                # What the recipient holds may have changed since the review.
                view = made.mosaic_view(check.name, check.link)
                self.mosaic_verdict(
                    held, view, request_id=request_id, data=data, details=details, stage="release"
                )
                checked = sorted({r.id for h in held for r in h.records})
                kept = stack.enter_context(StagedFile(self.view_path(request_id)))
                view_sha256 = write_view(replace(view, name=request_id), kept.temp)
            with self._change() as session:
                self._need(session, *STEPS["release"].roles)
                row = self._request(session, request_id)
                self._step(row, "release")
                due = (date.today() + timedelta(days=self.policy.monitoring_days)).isoformat()
                record = {
                    "recipient": recipient,
                    "terms": terms,
                    "path": None if path is None else str(path),
                    "artifact_sha256": row.artifact_sha256,
                    "released_at": now(),
                    "monitoring_due": due,
                    "term_end": details["term_end"],
                }
                row.release = json.dumps(record, ensure_ascii=False)
                index = self._move(
                    session,
                    row,
                    "released",
                    {
                        "recipient": recipient,
                        "artifact_sha256": row.artifact_sha256,
                        "dataset": f"{data.name}@{data.version}",
                        "department": data.department,
                        "grade": data.grade,
                        # what the recipient may read: DP access checks its grant by these
                        "sharing_model": details["sharing_model"],
                        "columns": list(details["columns"]),
                        # what the mosaic check reads of it (kept apart, hash-checked)
                        **({"view_sha256": view_sha256} if view_sha256 else {}),
                        "term_end": details["term_end"],
                    },
                )
                if kept is not None:  # the ledger is locked: no release to them slips between
                    now_held = self.holdings_in(
                        session, request_id, recipient, details["sharing_model"]
                    )
                    if now_held != checked:
                        raise RefusedError(
                            f"what {recipient} holds changed while request {request_id} was "
                            "checked (another release went out); release it again."
                        )
                generalization, cuts = _generalization(made)
                self.preparer.releases.record(
                    session,
                    request_id=request_id,
                    recipient=recipient,
                    dataset=data.name,
                    dataset_version=data.version,
                    sharing_model=details["sharing_model"],
                    generalization=generalization,
                    local_cuts=cuts,
                    artifact_sha256=row.artifact_sha256,
                    delivered_sha256=row.artifact_sha256,  # one copy, not fingerprinted (yet)
                    terms=terms,
                    term_end=details["term_end"],
                    released_at=record["released_at"],
                    ledger_index=index,
                    view_sha256=view_sha256,
                )
                if staged is not None and made is not None and path is not None:
                    # The file and the recipient's manifest beside it: the last steps
                    # before the commit, both undone if it fails.
                    note = recipient_manifest(
                        made, request_id, f"{data.name}@{data.version}", record, index, path.name
                    )
                    manifest = stack.enter_context(StagedFile(path.with_name("manifest.json")))
                    manifest.temp.write_text(
                        json.dumps(note, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
                    )
                    staged.commit()
                    manifest.commit()
                    if kept is not None:
                        kept.commit()
        return record


def recipient_manifest(
    made: Any, request_id: str, dataset: str, release: Mapping[str, Any], index: int, name: str
) -> dict[str, Any]:
    """What the recipient receives beside the file: its columns, how each was changed, the
    privacy models met, the risk, the terms, the request and the ledger entry of the release.
    Nothing of the office's own: no paths, no key fingerprints."""
    spec = made.spec
    levels = made.transformation or {}
    actions = [
        {k: v for k, v in a.describe().items() if k != "key_fingerprint"} for a in spec.actions()
    ]
    after = made.after
    return {
        "request": request_id,
        "dataset": dataset,
        "file": name,
        "sha256": release["artifact_sha256"],
        "rows": made.rows,
        "columns": list(made.table.columns),
        "generalization": {
            q: {
                "level": levels.get(q, "local"),
                "hierarchy": h if isinstance(h, str) else "a value hierarchy",
            }
            for q, h in ((q, spec.hierarchies[q]) for q in spec.quasi_identifiers)
        },
        "identifiers": [a for a in actions if a["column"] in made.table.columns],
        "suppressed_records": made.suppressed_records,
        "privacy_models": [m.describe() for m in spec.models],
        "risk": {
            "k_anonymity": after.k_anonymity,
            "highest_prosecutor_risk": str(after.prosecutor.highest_risk),
            "average_prosecutor_risk": str(after.prosecutor.average_risk),
            "records_at_risk": str(after.prosecutor.records_at_risk),
        },
        "recipient": release["recipient"],
        "terms": release["terms"],
        "term_end": release["term_end"],
        "released_at": release["released_at"],
        "ledger_index": index,
    }


def _generalization(
    made: Any,
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]] | None]:
    """Per quasi-identifier of a made file, its level (or ``"local"``) and its hierarchy's
    SHA-256; and for local recoding, the labels released per quasi-identifier (the cuts)."""
    if made is None:
        return {}, None
    from custodes.anonymize._spec import hierarchy_hash

    spec = made.spec
    levels = made.transformation or {}
    generalization = {
        q: {
            "level": levels.get(q, "local"),
            "hierarchy_sha256": text_sha256(h) if isinstance(h, str) else hierarchy_hash(h),
        }
        for q, h in ((q, spec.hierarchies[q]) for q in spec.quasi_identifiers)
    }
    local = made.local
    cuts = (
        None if local is None else {q: sorted(set(local.labels[q])) for q in spec.quasi_identifiers}
    )
    return generalization, cuts
