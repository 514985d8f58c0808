"""Governance: the catalog, release requests, the review board, fees, and reports.

Every call acts as an actor whose roles are checked here, in the library, so
no front end can bypass them. Every change is one database transaction that
also appends its ledger event: the change and its record commit together.
The request row is locked first, so two reviewers deciding at once, or two
releases of one request, are serialized: one wins, the other sees the new
state.

Workflow (GB/T 37964, NIST SP 800-188): draft -> objectives_set ->
identifiers_identified -> processed -> under_review -> approved | rejected ->
released -> monitoring; revoked or expired at the end. Each step needs its
artifact, and a step without it is refused naming what is missing.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._files import StagedFile, text_sha256
from custodes.anonymize._identifiers import KEY_ENV, Remove
from custodes.errors import ForbiddenError, InvalidInputError, RefusedError, SettingError
from custodes.governance._policy import (
    BOARD_ROLES,
    DEFAULT_GOVERNANCE,
    FREE_PURPOSES,
    PURPOSES,
    ROLES,
    SHARING_MODELS,
    GovernancePolicy,
    load_governance_policy,
)
from custodes.governance._roles import apply_roles, check_roles
from custodes.io import file_sha256
from custodes.ledger import Ledger
from custodes.store import (
    Actor,
    Charge,
    Dataset,
    Decision,
    Department,
    FeeStandard,
    Request,
    RevenueLimit,
)
from custodes.workspace import Workspace

__all__ = ["STATES", "UNITS", "Governance", "RequestView"]

STATES = (
    "draft",
    "objectives_set",
    "identifiers_identified",
    "processed",
    "under_review",
    "sent_back",
    "approved",
    "rejected",
    "released",
    "monitoring",
    "revoked",
    "expired",
)
UNITS = ("per_call", "per_volume", "per_period", "per_product")
FULL_VIEW = ("admin", "steward", "reviewer", "pricing_authority", "auditor")
"""Roles that see every actor and request; anyone else (a requester) sees only their own."""
FILE_MODELS = ("open_publication", "file_under_agreement")
_PREPARABLE = ("identifiers_identified", "processed", "sent_back")
"""States a steward prepares a request from (again, after processing or a send-back)."""
_CENT = Decimal("0.01")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


_MAX_MONEY = Decimal("1000000000000")  # 10^12: no fee, cap or revenue is larger
_MAX_QUANTITY = Decimal("1000000000")  # 10^9 units in one charge
_MONEY_PLACES = 4  # e.g. 0.0025 per call
_QUANTITY_PLACES = 6


def _number(
    value: str | Decimal | int,
    what: str,
    *,
    maximum: Decimal,
    places: int,
    positive: bool,
    noun: str = "amount",
    example: str = "120.50",
) -> Decimal:
    """A finite decimal in [0, maximum] (above 0 if ``positive``), at most ``places`` decimals."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInputError(
            f"{what} is {value!r}; give a decimal {noun}, e.g. {example}."
        ) from None
    floor = "greater than 0" if positive else "at least 0"
    bound = f"give a number {floor} and at most {maximum:,f}, with at most {places} decimals"
    if not amount.is_finite():
        raise InvalidInputError(f"{what} is {value!r}, not a finite number; {bound}.")
    if amount < 0 or (positive and amount == 0) or amount > maximum:
        raise InvalidInputError(f"{what} is {value!r}; {bound}.")
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite number
    if -exponent > places and amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise InvalidInputError(f"{what} is {value!r}; {bound}.")
    if exponent > 0:  # 1E+2 is stored and shown as 100
        amount = amount.quantize(Decimal(1))
    return amount


def _money(value: str | Decimal | int, what: str, *, positive: bool = False) -> Decimal:
    return _number(value, what, maximum=_MAX_MONEY, places=_MONEY_PLACES, positive=positive)


@dataclass(frozen=True)
class RequestView:
    """A request as the workflow sees it."""

    id: str
    state: str
    requester: str
    dataset: str
    dataset_version: int
    details: dict[str, Any]
    preparer: str | None
    plan: dict[str, Any] | None
    report: dict[str, Any] | None
    artifact_sha256: str | None
    release: dict[str, Any] | None
    decisions: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "state": self.state,
            "requester": self.requester,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "details": self.details,
            "preparer": self.preparer,
            "plan": self.plan,
            "report": self.report,
            "artifact_sha256": self.artifact_sha256,
            "release": self.release,
            "decisions": list(self.decisions),
        }


class Governance:
    """The governance of one workspace, acting as one actor."""

    def __init__(
        self, workspace: Workspace, actor: str, policy: GovernancePolicy | None = None
    ) -> None:
        self.workspace = workspace
        self.settings = workspace.settings
        if policy is None:
            path = self.settings.governance_policy
            policy = load_governance_policy(path) if path else DEFAULT_GOVERNANCE
        self.policy = policy
        self.ledger: Ledger = workspace.ledger  # the workspace's one ledger and store
        self.store = self.ledger.store
        self.actor = actor

    def close(self) -> None:
        """Close the store's connections."""
        self.store.dispose()

    # ------------------------------------------------------------ plumbing

    @contextmanager
    def _change(self) -> Iterator[Session]:
        with self.store.transaction() as session:
            yield session

    def _record(
        self, session: Session, event: str, subject: str, payload: Mapping[str, Any]
    ) -> int:
        from custodes.detect import hash_personal

        # Column names and other strings that are personal data go to the ledger hashed.
        subject, hashed = hash_personal(subject, payload)
        return self.ledger.append(session, event, self.actor, subject, hashed)

    def _me(self, session: Session) -> Actor:
        me = session.get(Actor, self.actor)
        if me is None:
            raise ForbiddenError(
                f"{self.actor!r} is not a registered actor; an admin adds actors with "
                "`custodes actor add`."
            )
        return me

    def _need(self, session: Session, *roles: str) -> Actor:
        me = self._me(session)
        mine = set(json.loads(me.roles))
        if not mine & set(roles):
            raise ForbiddenError(
                f"{self.actor!r} ({', '.join(sorted(mine))}) may not do this; it needs the role "
                + " or ".join(repr(r) for r in roles)
                + "."
            )
        return me

    def _sees_all(self, me: Actor) -> bool:
        return bool(set(json.loads(me.roles)) & set(FULL_VIEW))

    def _request(self, session: Session, request_id: str) -> Request:
        row = session.execute(
            select(Request).where(Request.id == request_id).with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise InvalidInputError(f"there is no request {request_id!r}.")
        return row

    def _dataset(self, session: Session, name: str, version: int | None = None) -> Dataset:
        query = select(Dataset).where(Dataset.name == name)
        if version is not None:
            query = query.where(Dataset.version == version)
        row = session.execute(query.order_by(Dataset.version.desc()).limit(1)).scalar_one_or_none()
        if row is None:
            raise InvalidInputError(f"there is no dataset {name!r} in the catalog.")
        return row

    @staticmethod
    def _state(row: Request, *allowed: str, step: str, missing: str) -> None:
        if row.state not in allowed:
            raise RefusedError(
                f"request {row.id} is {row.state.replace('_', ' ')}; {step} needs it "
                f"{' or '.join(a.replace('_', ' ') for a in allowed)} ({missing})."
            )

    def _move(self, session: Session, row: Request, state: str, payload: Mapping[str, Any]) -> int:
        """Move a request to ``state``, recorded on the ledger; the entry's index."""
        old = row.state
        row.state = state
        row.updated_at = _now()
        return self._record(
            session, f"request.{state}", row.id, {"from": old, "to": state, **dict(payload)}
        )

    # ------------------------------------------------------------ identity

    def add_actor(
        self,
        name: str,
        roles: Sequence[str],
        *,
        organisation: str,
        credential: str,
        board_role: str | None = None,
    ) -> None:
        """Register an actor (admin only; the very first actor must be an admin)."""
        unknown = sorted(set(roles) - set(ROLES))
        if not roles or unknown:
            raise SettingError(
                f"roles {', '.join(unknown) or '(none)'} unknown; choose from {', '.join(ROLES)}."
            )
        if "reviewer" in roles and board_role not in BOARD_ROLES:
            raise SettingError(f"a reviewer needs a board role: one of {', '.join(BOARD_ROLES)}.")
        if not organisation.strip() or not credential.strip():
            raise SettingError(
                "an actor needs a verified identity record: organisation and credential reference."
            )
        with self._change() as session:
            if session.execute(select(Actor).limit(1)).first() is None:
                if "admin" not in roles:
                    raise RefusedError("the first actor of a workspace must be an admin.")
            elif self.actor == name and session.get(Actor, name) is None:
                raise SettingError(
                    f"say which admin adds {name!r}: the workspace has actors already, and only "
                    "its very first actor adds itself. Pass --as ADMIN (or set the actor setting)."
                )
            else:
                self._need(session, "admin")
            if session.get(Actor, name) is not None:
                raise RefusedError(f"actor {name!r} exists already.")
            session.add(
                Actor(
                    name=name,
                    roles=json.dumps(sorted(set(roles))),
                    board_role=board_role,
                    organisation=organisation,
                    credential=credential,
                    created_at=_now(),
                )
            )
            self._record(
                session,
                "actor.added",
                name,
                {
                    "roles": sorted(set(roles)),
                    "board_role": board_role,
                    "organisation": organisation,
                },
            )

    def actors(self) -> list[dict[str, Any]]:
        """The actors and their roles: every actor for the roles in :data:`FULL_VIEW`, only
        oneself for a requester. Credential references are shown to admins and to their owner.
        """
        with self._change() as session:
            me = self._me(session)
            admin = "admin" in json.loads(me.roles)
            query = select(Actor).order_by(Actor.name)
            if not self._sees_all(me):
                query = query.where(Actor.name == self.actor)
            return [
                {
                    "name": a.name,
                    "roles": json.loads(a.roles),
                    "board_role": a.board_role,
                    "organisation": a.organisation,
                    **({"credential": a.credential} if admin or a.name == self.actor else {}),
                }
                for a in session.execute(query).scalars()
            ]

    # ------------------------------------------------------------ catalog

    def add_department(self, code: str, name: str) -> None:
        """Add a department (admin or steward)."""
        with self._change() as session:
            self._need(session, "admin", "steward")
            if session.get(Department, code) is not None:
                raise RefusedError(f"department {code!r} exists already.")
            session.add(Department(code=code, name=name))
            self._record(session, "department.added", code, {"name": name})

    def register_dataset(
        self,
        name: str,
        *,
        department: str,
        system: str,
        source: str | os.PathLike[str],
        owner: str | None = None,
        has_header: bool | None = None,
        roles: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Register a dataset (or a new version when its content changed): scan, grade, hash.

        ``has_header`` says whether a CSV source's first row names the columns
        (None: detected); it is kept with the dataset and used whenever the
        source is read again. ``roles`` corrects the roles the scan suggested
        (``{column: role}``, see :meth:`correct_roles`), with its ``reason``.
        """
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"dataset source {str(path)!r} is not a file.")
        if roles and not (reason or "").strip():
            raise RefusedError("a correction of column roles needs a written reason (--reason).")
        with self._change() as session:
            self._need(session, "steward")  # before the scan, which the ledger records
        digest = file_sha256(path)
        scanned = self.workspace.scan(path, actor=self.actor, read_options=_read(has_header))
        if roles:
            check_roles(roles, [c.name for c in scanned.columns], f"dataset {name!r}")
        with self._change() as session:
            self._need(session, "steward")
            if session.get(Department, department) is None:
                raise RefusedError(
                    f"department {department!r} is not in the catalog; add it first."
                )
            latest = (
                session.execute(
                    select(Dataset).where(Dataset.name == name).order_by(Dataset.version.desc())
                )
                .scalars()
                .first()
            )
            if latest is not None and latest.content_sha256 == digest:
                if roles:
                    self._correct(session, latest, roles, reason or "")
                return _dataset_dict(latest)
            version = 1 if latest is None else latest.version + 1
            row = Dataset(
                name=name,
                version=version,
                department=department,
                system=system,
                source=str(path.resolve()),
                content_sha256=digest,
                columns=json.dumps([c.name for c in scanned.columns], ensure_ascii=False),
                roles=json.dumps(
                    {
                        **scanned.roles(),
                        "categories": sorted(
                            {cat for c in scanned.columns for cat in c.sensitive_categories}
                        ),
                    },
                    ensure_ascii=False,
                ),
                grade=scanned.grade.level,
                grade_reasons=json.dumps(list(scanned.grade.reasons), ensure_ascii=False),
                rows=scanned.rows,
                owner=owner or self.actor,
                created_at=_now(),
                has_header=has_header,
            )
            session.add(row)
            self._record(
                session,
                "dataset.registered",
                f"{name}@{version}",
                {
                    "department": department,
                    "content_sha256": digest,
                    "grade": scanned.grade.level,
                    "rows": scanned.rows,
                    "roles": scanned.roles(),
                    "has_header": has_header,
                },
            )
            if roles:
                self._correct(session, row, roles, reason or "")
            return _dataset_dict(row)

    def correct_roles(
        self,
        dataset: str,
        roles: Mapping[str, str],
        reason: str,
        *,
        version: int | None = None,
    ) -> dict[str, Any]:
        """Correct the column roles the scan suggested (a steward), with the written reason.

        ``roles`` maps columns to ``identifying``, ``quasi_identifying``,
        ``sensitive``, ``insensitive`` or ``redact``. The corrected roles are
        what identification and the release gates use from then on; the
        ledger records who corrected what, and the reason's hash.
        """
        if not reason.strip():
            raise RefusedError("a correction of column roles needs a written reason (--reason).")
        with self._change() as session:
            self._need(session, "steward")
            row = self._dataset(session, dataset, version)
            check_roles(roles, json.loads(row.columns), f"dataset {row.name!r}")
            self._correct(session, row, roles, reason)
            return _dataset_dict(row)

    def _correct(self, session: Session, row: Dataset, roles: Mapping[str, str], why: str) -> None:
        self._need(session, "steward")
        check_roles(roles, json.loads(row.columns), f"dataset {row.name!r}")
        corrected, before = apply_roles(json.loads(row.roles), roles)
        row.roles = json.dumps(corrected, ensure_ascii=False)
        self._record(
            session,
            "dataset.roles_corrected",
            f"{row.name}@{row.version}",
            {
                "roles": dict(roles),
                "before": before,
                "reason_sha256": text_sha256(why),
            },
        )

    def datasets(self) -> list[dict[str, Any]]:
        """Every version of every dataset."""
        with self._change() as session:
            self._me(session)
            rows = session.execute(
                select(Dataset).order_by(Dataset.name, Dataset.version)
            ).scalars()
            return [_dataset_dict(r) for r in rows]

    def dataset(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One dataset version (default: the newest)."""
        with self._change() as session:
            self._me(session)
            return _dataset_dict(self._dataset(session, name, version))

    # ------------------------------------------------------------ requests

    def file_request(self, dataset: str) -> str:
        """Open a draft request for the newest version of a dataset; its id."""
        with self._change() as session:
            self._need(session, "requester")
            row = self._dataset(session, dataset)
            request_id = uuid.uuid4().hex[:12]
            session.add(
                Request(
                    id=request_id,
                    state="draft",
                    requester=self.actor,
                    dataset=row.name,
                    dataset_version=row.version,
                    details="{}",
                    created_at=_now(),
                    updated_at=_now(),
                )
            )
            self._record(
                session,
                "request.filed",
                request_id,
                {"dataset": row.name, "version": row.version, "grade": row.grade},
            )
            return request_id

    def set_objectives(
        self,
        request_id: str,
        *,
        purpose: str,
        sharing_model: str,
        columns: Sequence[str],
        intended_use: str,
        term_end: str,
        fee_standard: str | None = None,
    ) -> None:
        """State what is wanted and why (the requester)."""
        if purpose not in PURPOSES:
            raise SettingError(f"purpose {purpose!r}: choose one of {', '.join(PURPOSES)}.")
        if sharing_model not in SHARING_MODELS:
            raise SettingError(
                f"sharing model {sharing_model!r}: choose one of {', '.join(SHARING_MODELS)}."
            )
        try:
            end = date.fromisoformat(term_end)
        except ValueError:
            raise SettingError(f"term end {term_end!r} is not a date (YYYY-MM-DD).") from None
        if not intended_use.strip():
            raise RefusedError("the objectives need the intended use, in words.")
        with self._change() as session:
            self._need(session, "requester")
            row = self._request(session, request_id)
            if row.requester != self.actor:
                raise ForbiddenError(f"only the requester {row.requester!r} sets the objectives.")
            self._state(row, "draft", step="setting objectives", missing="a draft")
            data = self._dataset(session, row.dataset, row.dataset_version)
            allowed = self.policy.sharing.get(data.grade, ())
            if not allowed:
                raise RefusedError(f"{data.grade} data is never released ({data.name}).")
            if sharing_model not in allowed:
                raise RefusedError(
                    f"{data.grade} data may only be shared as {', '.join(allowed)}, not "
                    f"{sharing_model} (the governance policy's gate)."
                )
            unknown = sorted(set(columns) - set(json.loads(data.columns)))
            if not columns or unknown:
                raise RefusedError(
                    f"request columns must be columns of {data.name}: unknown "
                    f"{', '.join(unknown) or '(none given)'}."
                )
            if purpose in FREE_PURPOSES:
                if fee_standard is not None:
                    raise RefusedError(f"{purpose.replace('_', ' ')} is free: no fee standard.")
            else:
                if fee_standard is None:
                    raise RefusedError(
                        f"a {purpose} request needs an approved fee standard (--fee-standard)."
                    )
                standard = session.get(FeeStandard, fee_standard)
                if standard is None or standard.state != "approved":
                    raise RefusedError(f"fee standard {fee_standard!r} is not approved.")
            row.details = json.dumps(
                {
                    "purpose": purpose,
                    "sharing_model": sharing_model,
                    "columns": list(columns),
                    "intended_use": intended_use,
                    "term_end": end.isoformat(),
                    "fee_standard": fee_standard,
                },
                ensure_ascii=False,
            )
            self._move(
                session,
                row,
                "objectives_set",
                {"purpose": purpose, "sharing_model": sharing_model, "columns": list(columns)},
            )

    def identify(
        self,
        request_id: str,
        roles: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> dict[str, list[str]]:
        """Identify the direct identifiers, quasi-identifiers and sensitive columns (steward).

        ``roles`` first corrects the dataset's column roles (see
        :meth:`correct_roles`), with its ``reason``. A request identified,
        processed or sent back is identified again (its plan is then prepared again).
        """
        if roles and not (reason or "").strip():
            raise RefusedError("a correction of column roles needs a written reason (--reason).")
        with self._change() as session:
            self._need(session, "steward")
            row = self._request(session, request_id)
            self._state(
                row,
                "objectives_set",
                "identifiers_identified",
                "processed",
                "sent_back",
                step="identifying",
                missing="its objectives set",
            )
            data = self._dataset(session, row.dataset, row.dataset_version)
            if roles:
                self._correct(session, data, roles, reason or "")
            roles = json.loads(data.roles)
            wanted = set(json.loads(row.details)["columns"])
            found = {
                key: [c for c in roles.get(key, []) if c in wanted]
                for key in ("identifying", "quasi_identifying", "sensitive", "redact")
            }
            details = json.loads(row.details)
            details["identified"] = found
            row.details = json.dumps(details, ensure_ascii=False)
            self._move(session, row, "identifiers_identified", found)
            return found

    def prepare(
        self, request_id: str, plan: str | os.PathLike[str] | None = None
    ) -> dict[str, Any]:
        """Run the anonymization plan (a spec file) and attach the risk and utility report.

        File releases need a plan; the policy's gates are checked on the
        result: k and the highest risk, and no direct identifier left as it
        was. Query and enclave access need no file. A request processed (not
        yet submitted) or sent back by a reviewer is prepared again: the new
        plan, report and file replace the old, and after a send-back the board
        reviews it in a new round (earlier decisions no longer count).
        """
        with self._change() as session:
            self._need(session, "steward")
            row = self._request(session, request_id)
            self._state(row, *_PREPARABLE, step="processing", missing="identifiers identified")
            details = json.loads(row.details)
            data = self._dataset(session, row.dataset, row.dataset_version)
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
                spec, spec_path = self._load_plan(plan)
                source = self._checked_source(data)
                # Written under a temporary name, renamed as the preparation commits.
                staged = stack.enter_context(
                    StagedFile(self._artifact_path(request_id, "staged", source))
                )
                made = self._make_file(data, source, spec, details, staged)
                self._gates(data, details, made)
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
                }
                plan_record = {"spec_path": str(spec_path), "spec_sha256": spec.sha256()}
            else:
                report = {"access": model, "rows": data.rows}
                plan_record = {"access": model}
            with self._change() as session:
                self._need(session, "steward")
                row = self._request(session, request_id)
                self._state(row, *_PREPARABLE, step="processing", missing="identifiers identified")
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
                        "plan": plan_record,
                        "artifact_sha256": artifact,
                        "report": report,
                        "round": review_round,
                        **({"replaces": replaced} if again else {}),
                    },
                )
                if staged is not None:
                    staged.commit()  # the last step before the commit; undone if it fails
        return report

    def _make_file(
        self, data: Dataset, source: Path, spec: Any, details: Mapping[str, Any], staged: StagedFile
    ) -> Any:
        """Run the plan on the dataset into ``staged``: the requested columns only, read as
        the dataset was registered. Preparation and release make the same file this way."""
        return self.workspace.anonymize(
            source,
            spec,
            output=staged,
            record=False,
            columns=details["columns"],
            read_options=_read(data.has_header),
        )

    def _load_plan(self, plan: str | os.PathLike[str]) -> tuple[Any, Path]:
        from custodes.anonymize import load_spec

        path = Path(plan).resolve()
        key = self.workspace.path / "keys" / "pseudonym.key"
        hint = f"save it as {str(key)!r} (the workspace's pseudonym key), or set {KEY_ENV}"
        return load_spec(path, str(key) if key.exists() else None, key_hint=hint), path

    def _checked_source(self, data: Dataset) -> Path:
        source = Path(data.source)
        if not source.is_file() or _hash_of(source) != data.content_sha256:
            raise RefusedError(
                f"the source of {data.name} version {data.version} changed or is gone since it "
                "was registered (SHA-256 differs); register the new version and file a new request."
            )
        return source

    def _artifact_path(self, request_id: str, kind: str, source: Path) -> Path:
        suffix = source.suffix if source.suffix in (".csv", ".parquet", ".jsonl") else ".csv"
        return self.workspace.path / "releases" / request_id / f"{kind}{suffix}"

    def _gates(self, data: Dataset, details: dict[str, Any], made: Any) -> None:
        """The policy's release gates on a prepared file."""
        roles = json.loads(data.roles)
        sensitive = bool(roles.get("categories"))
        min_k = self.policy.sensitive_min_k if sensitive else self.policy.min_k
        max_risk = (
            self.policy.sensitive_max_highest_risk if sensitive else self.policy.max_highest_risk
        )
        k = made.after.k_anonymity
        risk = made.after.prosecutor.highest_risk
        kind = "with sensitive personal information " if sensitive else ""
        if k < min_k or risk > max_risk + 1e-12:
            raise RefusedError(
                f"the prepared file fails the policy's gate for data {kind}(k >= {min_k}, highest "
                f"risk <= {max_risk}): it has k = {k} and highest risk {risk:.4f}; strengthen "
                "the plan."
            )
        out = set(made.table.columns)
        identifiers = set(roles.get("identifying", []))
        handled = {a.column for a in made.spec.actions() if not isinstance(a, Remove)}
        raw = sorted((identifiers & out) - handled)
        if raw:
            raise RefusedError(
                f"direct identifiers never leave unprocessed: {', '.join(raw)} would be released "
                "as they are; remove, mask or pseudonymize them in the plan."
            )
        _no_checked_identifiers(made.table, "the prepared file")
        extra = sorted(out - set(details["columns"]))
        if extra:
            raise RefusedError(
                f"the prepared file has columns the request did not ask for: {', '.join(extra)}; "
                "remove them in the plan (identifying = [...])."
            )

    def submit(self, request_id: str) -> None:
        """Send a processed request to the review board (the requester or a steward)."""
        with self._change() as session:
            self._need(session, "requester", "steward")
            row = self._request(session, request_id)
            self._state(row, "processed", step="review", missing="processed, report attached")
            if row.report is None:
                raise RefusedError(f"request {request_id} has no risk and utility report.")
            self._move(session, row, "under_review", {})

    def decide(
        self, request_id: str, approve: bool, rationale: str, *, send_back: bool = False
    ) -> str:
        """A reviewer's decision with its written rationale; the request's new state.

        With ``send_back`` the request goes back to its steward for changes
        (state ``sent_back``): prepared again and resubmitted, it is reviewed
        in a new round, where the decisions of earlier rounds no longer count.
        """
        if not rationale.strip():
            raise RefusedError("every decision carries a written rationale (--rationale).")
        with self._change() as session:
            me = self._need(session, "reviewer")
            row = self._request(session, request_id)
            self._state(row, "under_review", step="a decision", missing="submitted for review")
            details = json.loads(row.details)
            involved = {row.requester, row.preparer, *details.get("preparers", [])}
            if self.actor in involved:
                raise ForbiddenError(
                    f"{self.actor!r} filed or prepared request {request_id} and may not review it."
                )
            review_round = int(details.get("round", 1))
            approvals = self._vote(
                session,
                me,
                request_id,
                f"request {request_id}",
                "send_back" if send_back else approve,
                rationale,
                "request.decided",
                review_round=review_round,
            )
            if send_back:
                self._move(
                    session,
                    row,
                    "sent_back",
                    {"by": self.actor, "round": review_round,
                     "rationale_sha256": text_sha256(rationale)},
                )  # fmt: skip
                return row.state
            if approvals is None:
                self._move(session, row, "rejected", {"by": self.actor})
                return row.state
            grade = self._dataset(session, row.dataset, row.dataset_version).grade
            if self.policy.approves([d.board_role for d in approvals], grade):
                self._move(
                    session,
                    row,
                    "approved",
                    {"approvals": sorted(d.reviewer for d in approvals)},
                )
            return row.state

    def _vote(
        self,
        session: Session,
        me: Actor,
        subject: str,
        what: str,
        approve: bool | str,
        rationale: str,
        event: str,
        *,
        review_round: int = 1,
    ) -> list[Decision] | None:
        """Record a board member's decision on ``subject`` (a request or a budget change) in
        its review round, and its ledger entry; the round's approvals so far, or None when it
        was not an approval (``approve`` False: a rejection; or a decision's name, such as
        ``"send_back"``)."""
        if session.get(Decision, (subject, self.actor, review_round)) is not None:
            raise RefusedError(f"{self.actor!r} has decided on {what} already.")
        assert me.board_role is not None
        named = isinstance(approve, str)
        decision = str(approve) if named else ("approve" if approve else "reject")
        session.add(
            Decision(
                request_id=subject,
                reviewer=self.actor,
                round=review_round,
                board_role=me.board_role,
                decision=decision,
                rationale=rationale,
                created_at=_now(),
            )
        )
        session.flush()
        record: dict[str, Any] = {"decision": decision, "board_role": me.board_role}
        if review_round != 1:
            record["round"] = review_round
        if decision == "send_back":
            record["rationale_sha256"] = text_sha256(rationale)
        self._record(session, event, subject, record)
        if decision != "approve":
            return None
        return list(
            session.execute(
                select(Decision).where(
                    Decision.request_id == subject,
                    Decision.round == review_round,
                    Decision.decision == "approve",
                )
            ).scalars()
        )

    def release(self, request_id: str, *, recipient: str, terms: str) -> dict[str, Any]:
        """Produce the approved artifact exactly (hash-checked) and record its release."""
        if not recipient.strip() or not terms.strip():
            raise RefusedError("a release names its recipient and its terms.")
        with self._change() as session:
            self._need(session, "steward")
            row = self._request(session, request_id)
            self._state(row, "approved", step="release", missing="approved by the board")
            details = json.loads(row.details)
            plan = json.loads(row.plan or "{}")
            data = self._dataset(session, row.dataset, row.dataset_version)
        path = None
        made = None
        with ExitStack() as stack:
            staged: StagedFile | None = None
            if details["sharing_model"] in FILE_MODELS:
                spec, _ = self._load_plan(plan["spec_path"])
                if spec.sha256() != plan["spec_sha256"]:
                    raise RefusedError(
                        f"the plan of request {request_id} changed since it was approved "
                        "(spec SHA-256 differs); prepare and review it again."
                    )
                source = self._checked_source(data)
                path = self._artifact_path(request_id, "release", source)
                # Written under a temporary name: release.csv appears only as the release
                # commits (a kill in between leaves what `custodes doctor` reports).
                staged = stack.enter_context(StagedFile(path))
                made = self._make_file(data, source, spec, details, staged)
                if made.output_sha256 != row.artifact_sha256:
                    raise RefusedError(
                        f"the release of request {request_id} does not reproduce the approved "
                        "file (SHA-256 differs); nothing was released."
                    )
                _no_checked_identifiers(made.table, f"the release of request {request_id}")
            with self._change() as session:
                self._need(session, "steward")
                row = self._request(session, request_id)
                self._state(row, "approved", step="release", missing="approved by the board")
                due = (date.today() + timedelta(days=self.policy.monitoring_days)).isoformat()
                record = {
                    "recipient": recipient,
                    "terms": terms,
                    "path": None if path is None else str(path),
                    "artifact_sha256": row.artifact_sha256,
                    "released_at": _now(),
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
                    },
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
        return record

    def review_monitoring(self, request_id: str, note: str) -> None:
        """Record a monitoring review of a released request (steward)."""
        if not note.strip():
            raise RefusedError("a monitoring review needs a written note.")
        with self._change() as session:
            self._need(session, "steward")
            row = self._request(session, request_id)
            self._state(row, "released", "monitoring", step="monitoring", missing="released")
            release = json.loads(row.release or "{}")
            release["monitoring_due"] = (
                date.today() + timedelta(days=self.policy.monitoring_days)
            ).isoformat()
            row.release = json.dumps(release, ensure_ascii=False)
            self._move(session, row, "monitoring", {"note_sha256": text_sha256(note)})

    def revoke(self, request_id: str, reason: str) -> None:
        """Revoke a released request (steward or admin)."""
        if not reason.strip():
            raise RefusedError("a revocation needs a written reason.")
        with self._change() as session:
            self._need(session, "steward", "admin")
            row = self._request(session, request_id)
            self._state(row, "released", "monitoring", step="revocation", missing="released")
            self._move(session, row, "revoked", {"reason_sha256": text_sha256(reason)})

    def expire(self, today: date | None = None) -> list[str]:
        """Mark released requests whose term has ended as expired; their ids."""
        day = (today or date.today()).isoformat()
        done = []
        with self._change() as session:
            self._need(session, "steward", "admin")
            rows = session.execute(
                select(Request).where(Request.state.in_(("released", "monitoring")))
            ).scalars()
            for row in rows:
                if json.loads(row.details)["term_end"] < day:
                    self._move(
                        session, row, "expired", {"term_end": json.loads(row.details)["term_end"]}
                    )
                    done.append(row.id)
        return done

    def monitoring_due(self, today: date | None = None) -> list[dict[str, str]]:
        """Released requests whose monitoring review is due (a requester: its own only)."""
        day = (today or date.today()).isoformat()
        with self._change() as session:
            me = self._me(session)
            query = select(Request).where(Request.state.in_(("released", "monitoring")))
            if not self._sees_all(me):
                query = query.where(Request.requester == self.actor)
            rows = session.execute(query).scalars()
            out = []
            for row in rows:
                due = json.loads(row.release or "{}").get("monitoring_due", "")
                if due and due <= day:
                    out.append({"request": row.id, "dataset": row.dataset, "due": due})
            return out

    def request(self, request_id: str) -> RequestView:
        """A request with its decisions (a requester's own only, see :data:`FULL_VIEW`)."""
        with self._change() as session:
            me = self._me(session)
            row = session.get(Request, request_id)
            if row is None:
                raise InvalidInputError(f"there is no request {request_id!r}.")
            if row.requester != self.actor and not self._sees_all(me):
                raise ForbiddenError(
                    f"{self.actor!r} may see only its own requests; request {request_id} is "
                    "another requester's."
                )
            return _view(session, row)

    def requests(self) -> list[RequestView]:
        """Every request (a requester's own only, see :data:`FULL_VIEW`)."""
        with self._change() as session:
            me = self._me(session)
            query = select(Request).order_by(Request.created_at)
            if not self._sees_all(me):
                query = query.where(Request.requester == self.actor)
            return [_view(session, r) for r in session.execute(query).scalars()]

    # ------------------------------------------------------------ fees

    def propose_fee_standard(
        self, *, department: str, product: str, unit: str, cap: str, currency: str = "CNY"
    ) -> str:
        """Propose a fee standard (steward); the pricing authority approves it."""
        if unit not in UNITS:
            raise SettingError(f"charging unit {unit!r}: choose one of {', '.join(UNITS)}.")
        amount = _money(cap, "the cap price (--cap)")
        if len(currency) != 3 or not currency.isalpha():
            raise SettingError(f"currency {currency!r} is not an ISO 4217 code such as CNY.")
        with self._change() as session:
            self._need(session, "steward")
            if session.get(Department, department) is None:
                raise RefusedError(f"department {department!r} is not in the catalog.")
            standard_id = f"fee-{uuid.uuid4().hex[:8]}"
            session.add(
                FeeStandard(
                    id=standard_id,
                    department=department,
                    product=product,
                    unit=unit,
                    cap=str(amount),
                    currency=currency.upper(),
                    state="proposed",
                    proposed_by=self.actor,
                    created_at=_now(),
                )
            )
            self._record(
                session,
                "fee_standard.proposed",
                standard_id,
                {"department": department, "product": product, "unit": unit, "cap": str(amount),
                 "currency": currency.upper()},
            )  # fmt: skip
            return standard_id

    def fee_standards(self) -> list[dict[str, str | None]]:
        """The fee standards, to find one's id (a requester sees the approved ones only)."""
        with self._change() as session:
            me = self._me(session)
            query = select(FeeStandard).order_by(FeeStandard.created_at, FeeStandard.id)
            if not self._sees_all(me):
                query = query.where(FeeStandard.state == "approved")
            return [
                {
                    "id": f.id,
                    "department": f.department,
                    "product": f.product,
                    "unit": f.unit,
                    "cap": f.cap,
                    "currency": f.currency,
                    "state": f.state,
                }
                for f in session.execute(query).scalars()
            ]

    def approve_fee_standard(self, standard_id: str, report: str) -> None:
        """Approve a fee standard with the written pricing report (pricing authority)."""
        if not report.strip():
            raise RefusedError("a fee standard is approved with a written report (--report).")
        with self._change() as session:
            self._need(session, "pricing_authority")
            row = session.get(FeeStandard, standard_id)
            if row is None:
                raise InvalidInputError(f"there is no fee standard {standard_id!r}.")
            if row.state != "proposed":
                raise RefusedError(f"fee standard {standard_id} is {row.state}, not proposed.")
            row.state, row.approved_by, row.report = "approved", self.actor, report
            self._record(
                session,
                "fee_standard.approved",
                standard_id,
                {"cap": row.cap, "currency": row.currency, "report_sha256": text_sha256(report)},
            )

    def set_revenue_limit(
        self, department: str, year: int, amount: str, currency: str = "CNY"
    ) -> None:
        """The maximum permitted revenue of a department in a year (pricing authority)."""
        value = _money(amount, "the permitted revenue (--amount)")
        with self._change() as session:
            self._need(session, "pricing_authority")
            row = session.get(RevenueLimit, (department, year))
            if row is None:
                session.add(
                    RevenueLimit(
                        department=department, year=year, amount=str(value), currency=currency
                    )
                )
            else:
                row.amount, row.currency = str(value), currency
            self._record(
                session,
                "revenue_limit.set",
                f"{department}/{year}",
                {"amount": str(value), "currency": currency},
            )

    def charge(
        self, request_id: str, *, quantity: str, unit_price: str, reason: str | None = None
    ) -> dict[str, str]:
        """Charge for a released request under its approved fee standard (steward).

        Quantity and unit price are finite and above 0 (a quantity at most
        10^9 with 6 decimals, a price at most 10^12 with 4). A request charged
        already is charged again only with a written ``reason``, stored with
        the charge and hashed on the ledger.
        """
        units = _number(
            quantity, "the quantity (--quantity)", maximum=_MAX_QUANTITY,
            places=_QUANTITY_PLACES, positive=True, noun="number", example="3",
        )  # fmt: skip
        price = _money(unit_price, "the unit price (--unit-price)", positive=True)
        why = (reason or "").strip() or None
        with self._change() as session:
            self._need(session, "steward")
            row = self._request(session, request_id)
            self._state(row, "released", "monitoring", step="charging", missing="released")
            before = session.execute(select(Charge.id).where(Charge.request_id == request_id)).all()
            if before and why is None:
                raise RefusedError(
                    f"request {request_id} was charged already "
                    f"({'once' if len(before) == 1 else f'{len(before)} times'}); a further "
                    "charge of the same release "
                    "needs a written reason (--reason), recorded with the charge."
                )
            details = json.loads(row.details)
            if details["purpose"] in FREE_PURPOSES:
                raise RefusedError(
                    f"request {request_id} is for {details['purpose'].replace('_', ' ')}, which "
                    "is free: nothing may be charged."
                )
            standard = session.get(FeeStandard, details.get("fee_standard") or "")
            if standard is None or standard.state != "approved":
                raise RefusedError(f"request {request_id} has no approved fee standard.")
            if price > Decimal(standard.cap):
                raise RefusedError(
                    f"the unit price {price} {standard.currency} is above the approved cap "
                    f"{standard.cap} of fee standard {standard.id}."
                )
            amount = (units * price).quantize(_CENT, rounding=ROUND_HALF_UP)
            year = date.today().year
            limit = session.get(RevenueLimit, (standard.department, year))
            deducted = Decimal(0)
            if limit is not None:
                earned = sum(
                    (
                        Decimal(c.amount) - Decimal(c.deducted)
                        for c in session.execute(
                            select(Charge).where(
                                Charge.department == standard.department, Charge.year == year
                            )
                        ).scalars()
                    ),
                    Decimal(0),
                )
                # What last year's charges brought above its limit is deducted from this year's.
                carried = sum(
                    (
                        Decimal(c.deducted)
                        for c in session.execute(
                            select(Charge).where(
                                Charge.department == standard.department, Charge.year == year - 1
                            )
                        ).scalars()
                    ),
                    Decimal(0),
                )
                room = max(Decimal(limit.amount) - carried - earned, Decimal(0))
                deducted = max(amount - room, Decimal(0))
            session.add(
                Charge(
                    request_id=request_id,
                    fee_standard=standard.id,
                    department=standard.department,
                    quantity=str(units),
                    unit_price=str(price),
                    amount=str(amount),
                    deducted=str(deducted),
                    currency=standard.currency,
                    year=year,
                    charged_by=self.actor,
                    created_at=_now(),
                    reason=why,
                )
            )
            record = {
                "fee_standard": standard.id,
                "quantity": str(units),
                "unit_price": str(price),
                "amount": str(amount),
                "deducted_next_period": str(deducted),
                "currency": standard.currency,
            }
            if why is not None:
                record["reason_sha256"] = text_sha256(why)
            self._record(session, "fee.charged", request_id, record)
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


def _no_checked_identifiers(table: Any, what: str) -> None:
    """Defence in depth at the gate: no identifier that passes its check digits leaves,
    whatever roles the columns were given. Names the column and the entity, never a value."""
    from custodes.detect import checked_identifiers, personal_data_in

    hits = checked_identifiers(table)
    if hits:
        kinds = personal_data_in([h.column for h in hits])
        found = "; ".join(
            (
                f"column {h.column!r}"
                if kind is None
                else f"column {list(table.columns).index(h.column) + 1} (name withheld)"
            )
            + f": {h.cells:,} cells with a {h.entity}"
            for h, kind in list(zip(hits, kinds, strict=True))[:5]
        )
        raise RefusedError(
            f"{what} holds identifiers that pass their check digits ({found}); nothing leaves "
            "with them: remove, mask, pseudonymize or redact those columns in the plan "
            "(redact = [...] for free text), and prepare again."
        )


def _read(has_header: bool | None) -> dict[str, Any]:
    """Read options of a dataset's source: its header choice, when one was made."""
    return {} if has_header is None else {"has_header": has_header}


_HASHES: dict[tuple[str, int, int, int], str] = {}


def _hash_of(path: Path) -> str:
    """The file's SHA-256, computed again whenever its size, inode or modification time change."""
    info = path.stat()
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns, info.st_ino)
    if key not in _HASHES:
        if len(_HASHES) > 256:
            _HASHES.clear()
        _HASHES[key] = file_sha256(path)
    return _HASHES[key]


def _dataset_dict(row: Dataset) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "department": row.department,
        "system": row.system,
        "source": row.source,
        "content_sha256": row.content_sha256,
        "columns": json.loads(row.columns),
        "roles": json.loads(row.roles),
        "grade": row.grade,
        "grade_reasons": json.loads(row.grade_reasons),
        "rows": row.rows,
        "owner": row.owner,
        "created_at": row.created_at,
        "has_header": row.has_header,
    }


def _view(session: Session, row: Request) -> RequestView:
    decisions = session.execute(
        select(Decision)
        .where(Decision.request_id == row.id)
        .order_by(Decision.round, Decision.created_at)
    ).scalars()
    return RequestView(
        id=row.id,
        state=row.state,
        requester=row.requester,
        dataset=row.dataset,
        dataset_version=row.dataset_version,
        details=json.loads(row.details),
        preparer=row.preparer,
        plan=None if row.plan is None else json.loads(row.plan),
        report=None if row.report is None else json.loads(row.report),
        artifact_sha256=row.artifact_sha256,
        release=None if row.release is None else json.loads(row.release),
        decisions=tuple(
            {
                "reviewer": d.reviewer,
                "board_role": d.board_role,
                "decision": d.decision,
                "round": d.round,
                "rationale": d.rationale,
                "at": d.created_at,
            }
            for d in decisions
        ),
    )
