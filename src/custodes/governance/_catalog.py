"""The catalog: departments, datasets (scanned, graded, hashed) and role corrections."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custodes._files import text_sha256
from custodes.errors import InvalidInputError, RefusedError, SettingError
from custodes.governance._base import Acting, now
from custodes.governance._roles import apply_roles, check_roles
from custodes.io import file_sha256
from custodes.store import Dataset, Department, Release

__all__ = ["Catalog", "dataset_dict", "source_options"]


class Catalog(Acting):
    """The catalog of datasets of a department's data systems."""

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
        check_dataset_name(name)
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"dataset source {str(path)!r} is not a file.")
        if roles and not (reason or "").strip():
            raise RefusedError("a correction of column roles needs a written reason (--reason).")
        with self._change() as session:
            self._need(session, "steward")  # before the scan, which the ledger records
        digest = file_sha256(path)
        scanned = self.preparer.scan(
            path, actor=self.actor, read_options=source_options(has_header)
        )
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
                return dataset_dict(latest)
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
                        **_person_key(latest, [c.name for c in scanned.columns]),
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
                created_at=now(),
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
            return dataset_dict(row)

    def declare_person_key(self, dataset: str, column: str | None) -> dict[str, Any]:
        """Declare which column of ``dataset`` holds the person key (for example the
        resident ID), in every version (a steward; None withdraws it). Records of two
        datasets that both declare one are the same person when their keys are equal: the
        mosaic check links them. Without one, a dataset's people are its source rows."""
        with self._change() as session:
            self._need(session, "steward")
            latest = self._dataset(session, dataset)
            live = session.execute(
                select(Release.id).where(
                    Release.dataset == dataset,
                    Release.revoked_at.is_(None),
                    Release.expired_at.is_(None),
                )
            ).first()
            if live is not None and json.loads(latest.roles).get("person_key") != column:
                raise RefusedError(
                    f"dataset {dataset!r} has releases its recipients still hold, whose people "
                    "the mosaic check knows by the person key declared when they went out; "
                    "change it once they are revoked or expired."
                )
            rows = session.execute(select(Dataset).where(Dataset.name == dataset)).scalars()
            for row in rows:
                if column is not None and column not in json.loads(row.columns):
                    raise RefusedError(
                        f"dataset {dataset!r} version {row.version} has no column {column!r}; "
                        "name one of its columns as the person key."
                    )
                roles = json.loads(row.roles)
                if column is None:
                    roles.pop("person_key", None)
                else:
                    roles["person_key"] = column
                row.roles = json.dumps(roles, ensure_ascii=False)
            self._record(session, "dataset.person_key", dataset, {"column": column})
            return dataset_dict(latest)

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
            return dataset_dict(row)

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

    def departments(self) -> list[dict[str, str]]:
        """The departments: code and name."""
        with self._change() as session:
            self._me(session)
            rows = session.execute(select(Department).order_by(Department.code)).scalars()
            return [{"code": d.code, "name": d.name} for d in rows]

    def datasets(self) -> list[dict[str, Any]]:
        """Every version of every dataset."""
        with self._change() as session:
            self._me(session)
            rows = session.execute(
                select(Dataset).order_by(Dataset.name, Dataset.version)
            ).scalars()
            return [dataset_dict(r) for r in rows]

    def dataset(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One dataset version (default: the newest)."""
        with self._change() as session:
            self._me(session)
            return dataset_dict(self._dataset(session, name, version))


def _person_key(latest: Dataset | None, columns: list[str]) -> dict[str, str]:
    """The person key a dataset declared, carried to its new version when still a column."""
    if latest is None:
        return {}
    key = json.loads(latest.roles).get("person_key")
    return {"person_key": key} if key in columns else {}


def check_dataset_name(name: str) -> None:
    """Refuse a dataset name that could not be shown, typed or used in a path: empty, over
    100 characters, with a control character, a slash or a backslash, or '..'."""
    if (
        not 1 <= len(name) <= 100
        or not name.isprintable()
        or any(c in name for c in "/\\")
        or name.strip() != name
        or name in (".", "..")
    ):
        raise SettingError(
            f"dataset name {name[:40]!r}: use 1 to 100 printable characters, without a slash, "
            "a backslash or spaces at the ends."
        )


def source_options(has_header: bool | None) -> dict[str, Any]:
    """Read options of a dataset's source: its header choice, when one was made."""
    return {} if has_header is None else {"has_header": has_header}


def dataset_dict(row: Dataset) -> dict[str, Any]:
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
