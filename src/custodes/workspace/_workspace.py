"""The :class:`Workspace` facade.

Module-level functions such as :func:`custodes.assess` use a workspace built
from the default settings.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from custodes.anonymize._result import Anonymization
from custodes.anonymize._spec import AnonymizationSpec
from custodes.risk import Assessment
from custodes.workspace._ledgering import LedgerFace
from custodes.workspace._tables import Roles, TableLike, TablesFace, open_table, read_table

if TYPE_CHECKING:  # detection loads its registries only when a scan runs
    from custodes._doctor import Checkup
    from custodes.detect import ScanResult
    from custodes.dp import PrivateQueries
    from custodes.governance import Governance, GovernancePolicy
    from custodes.governance._base import KeyLike
    from custodes.workspace._access import QueryCaches

__all__ = [
    "Roles",
    "TableLike",
    "Workspace",
    "anonymize",
    "assess",
    "open_table",
    "read_table",
    "scan",
]


class Workspace(TablesFace, LedgerFace):
    """One deployment of custodes: its settings, engine, store and ledger.

    The store and the ledger are opened once, on first use, and closed by
    :meth:`close` (or when the workspace is garbage-collected); a workspace is
    also a context manager.
    """

    def governance(
        self,
        actor: str,
        policy: GovernancePolicy | None = None,
        *,
        key: KeyLike | None = None,
    ) -> Governance:
        """Governance of this workspace acting as ``actor``, who proves it with its private
        ``key`` (default: :meth:`actor_key`, loaded when first needed)."""
        from custodes.governance import Governance

        return Governance(self, actor, policy, key)

    def queries(self, actor: str, *, key: KeyLike | None = None) -> PrivateQueries:
        """Differentially private queries of this workspace, asked by ``actor``: through
        governance's checks and ledger, paid from the budgets, computed by the engine."""
        from custodes.dp import BudgetAccount, PrivateQueries
        from custodes.workspace._access import GovernanceAccess

        caches = self._query_caches
        access = GovernanceAccess(self.governance(actor, key=key))
        return PrivateQueries(access, BudgetAccount(access), self.engine, caches.tables)

    @functools.cached_property
    def _query_caches(self) -> QueryCaches:
        """This workspace's caches for DP queries (bounded, never shared with another)."""
        from custodes.workspace._access import QueryCaches

        return QueryCaches()

    def dp_query(
        self,
        sql: str,
        *,
        actor: str,
        rho: str | float | None = None,
        epsilon: str | float | None = None,
    ) -> dict[str, Any]:
        """Answer an aggregate query with differential privacy, as ``actor`` (a recipient).

        See :class:`custodes.dp.PrivateQueries`: the recipient needs a released
        request for DP query access, and both the recipient's budget and the
        dataset's global ceiling must pay the query's rho.
        """
        with self.queries(actor) as access:
            return access.query(sql, rho=None if rho is None else str(rho), epsilon=epsilon)

    def disclosure(self, year: int) -> dict[str, Any]:
        """The year's annual disclosure as the public reads it (no actor: it is published)."""
        from custodes.governance import published_disclosure

        return published_disclosure(self.store, year)

    def dp_estimate(
        self,
        sql: str,
        *,
        actor: str,
        rho: str | float | None = None,
        epsilon: str | float | None = None,
    ) -> dict[str, Any]:
        """What :meth:`dp_query` would cost ``actor`` and how precise its answer would be,
        with the budgets before and after; nothing is spent, read or recorded.

        See :meth:`custodes.dp.PrivateQueries.estimate`: the same checks of the
        recipient's grant as a query, and the very charge the query would pay.
        """
        with self.queries(actor) as access:
            return access.estimate(sql, rho=None if rho is None else str(rho), epsilon=epsilon)

    def doctor(
        self, *, folders: Iterable[str | os.PathLike[str]] = (), fix: bool = False
    ) -> Checkup:
        """What killed processes and interrupted steps left in the workspace.

        Stale temporary files (in the workspace and ``folders``), release or
        staged files of requests whose release or preparation never
        committed, outputs whose recorded manifest is gone. ``fix`` removes
        the stale temporary files. See :mod:`custodes._doctor`.
        """
        from custodes._doctor import checkup

        if not self.initialized():
            return checkup(self.settings, None, folders=folders, fix=fix)

        from custodes.store import Store

        store = Store(self.settings.database_url())
        try:
            return checkup(self.settings, store, folders=folders, fix=fix)
        finally:
            store.dispose()


def anonymize(table: TableLike, spec: AnonymizationSpec, **options: Any) -> Anonymization:
    """Anonymize ``table`` with default settings (see :meth:`Workspace.anonymize`)."""
    return Workspace().anonymize(table, spec, **options)


def scan(table: TableLike, **options: Any) -> ScanResult:
    """Scan ``table`` for personal data (see :meth:`Workspace.scan`)."""
    return Workspace().scan(table, **options)


def assess(table: TableLike, **options: Any) -> Assessment:
    """Assess ``table`` with a workspace of default settings (see :meth:`Workspace.assess`)."""
    return Workspace().assess(table, **options)
