"""The ledger replayed: the state its entries imply, with no store.

The ledger is the source of truth; the store is a cache of it. :func:`replay`
folds the entries (parsed canonical JSON, in index order, read from the store
or from a verified export) into what they imply: actors and their roles,
departments, datasets, requests (state, requester, preparers, round, release),
the board's decisions, fee standards, revenue limits, charges, DP budgets and
their changes. Each fact remembers the index of the entry that set it, so a
record that differs can be named with the entry that says otherwise.

This module is pure: no store, no files. Unknown event types are skipped (a
newer ledger may have more kinds of entries than this replay knows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

__all__ = [
    "GLOBAL",
    "ActorFact",
    "BudgetChangeFact",
    "BudgetFact",
    "ChargeFact",
    "DatasetFact",
    "DecisionFact",
    "FeeStandardFact",
    "ReleaseFact",
    "Replay",
    "RequestFact",
    "RevenueLimitFact",
    "replay",
]

GLOBAL = "*"
"""The recipient name of a dataset's global DP ceiling."""

DefaultRho = Callable[[str, bool], Fraction]
"""A grade's default budget (``ceiling`` True: the dataset's global one), for old entries."""


@dataclass
class ActorFact:
    name: str
    roles: tuple[str, ...]
    board_role: str | None
    organisation: str | None
    entry: int
    public_key: str | None = None  # hex; None before personal keys, or revoked
    key_entry: int | None = None  # the entry that registered it
    had_key: bool = False  # a key was registered for the actor before
    reissued_by: str | None = None  # who registered a key for the actor after its own one
    reissued_at: int | None = None  # that registration's entry
    key_by: str | None = None  # who registered its key
    key_made: bool | None = None  # whether custodes made the pair where key_by acted


@dataclass
class DatasetFact:
    name: str
    version: int
    department: str
    grade: str
    content_sha256: str
    rows: int | None
    entry: int


@dataclass
class ReleaseFact:
    recipient: str
    artifact_sha256: str | None
    dataset: str | None
    department: str | None
    grade: str | None
    time: str
    entry: int
    sharing_model: str | None = None
    view_sha256: str | None = None
    term_end: str | None = None
    ended: str | None = None
    """``revoked`` or ``expired`` once the ledger says so."""


@dataclass
class RequestFact:
    id: str
    requester: str
    dataset: str
    version: int
    state: str
    entry: int
    """The entry of the newest state."""
    time: str
    """When the newest state was entered."""
    filed_entry: int
    purpose: str | None = None
    sharing_model: str | None = None
    columns: list[str] | None = None
    objectives_entry: int | None = None
    preparers: list[str] = field(default_factory=list)
    preparer: str | None = None
    round: int = 1
    artifact_sha256: str | None = None
    release: ReleaseFact | None = None


@dataclass
class DecisionFact:
    subject: str
    """A request's id or a DP budget change's."""
    reviewer: str
    round: int
    board_role: str | None
    decision: str
    rationale_sha256: str | None
    entry: int


@dataclass
class FeeStandardFact:
    id: str
    department: str
    product: str
    unit: str
    cap: str
    currency: str
    state: str
    proposed_by: str
    approved_by: str | None
    entry: int


@dataclass
class RevenueLimitFact:
    department: str
    year: int
    amount: str
    currency: str
    entry: int


@dataclass
class ChargeFact:
    id: int | None
    """The store's id of the charge (None in entries made before it was recorded)."""
    request: str
    fee_standard: str
    department: str | None
    year: int
    quantity: str
    unit_price: str
    amount: str
    deducted: str
    currency: str
    charged_by: str
    entry: int

    @property
    def label(self) -> str:
        """How messages name it."""
        return f"charge {self.id}" if self.id is not None else f"the charge of entry {self.entry}"


@dataclass
class BudgetFact:
    dataset: str
    recipient: str
    total: Fraction
    spent: Fraction
    queries: int
    source: str
    entry: int
    """The newest entry that touched it."""
    total_entry: int | None
    """The entry that set its total (None: the grade default, implied by ``entry``)."""

    @property
    def whose(self) -> str:
        return "the global ceiling" if self.recipient == GLOBAL else f"{self.recipient}'s budget"


@dataclass
class BudgetChangeFact:
    id: str
    dataset: str
    recipient: str
    total: Fraction
    state: str
    proposed_by: str
    entry: int


@dataclass
class Replay:
    """The state the ledger implies (see the module's description)."""

    size: int = 0
    actors: dict[str, ActorFact] = field(default_factory=dict)
    departments: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Code -> (name, entry)."""
    datasets: dict[tuple[str, int], DatasetFact] = field(default_factory=dict)
    requests: dict[str, RequestFact] = field(default_factory=dict)
    decisions: dict[tuple[str, str, int], DecisionFact] = field(default_factory=dict)
    fee_standards: dict[str, FeeStandardFact] = field(default_factory=dict)
    revenue_limits: dict[tuple[str, int], RevenueLimitFact] = field(default_factory=dict)
    charges: list[ChargeFact] = field(default_factory=list)
    budgets: dict[tuple[str, str], BudgetFact] = field(default_factory=dict)
    budget_changes: dict[str, BudgetChangeFact] = field(default_factory=dict)
    dp_configs: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Dataset -> (SHA-256 of its DP settings, entry)."""
    findings: list[str] = field(default_factory=list)
    """What the ledger itself shows wrong (a budget raised without the board, ...)."""

    def latest_dataset(self, name: str) -> DatasetFact | None:
        """The newest registered version of a dataset."""
        versions = [d for (n, _), d in self.datasets.items() if n == name]
        return max(versions, key=lambda d: d.version) if versions else None


def _rho(pair: Any) -> Fraction:
    return Fraction(int(pair[0]), int(pair[1]))


class _Folder:
    def __init__(self, default_rho: DefaultRho | None) -> None:
        self.state = Replay()
        self.default_rho = default_rho

    def fold(self, entry: Mapping[str, Any]) -> None:
        kind = str(entry["type"])
        self.state.size = max(self.state.size, int(entry["index"]) + 1)
        if kind.startswith("request.") and kind != "request.decided":
            try:
                self._request(entry, kind.removeprefix("request."))
            except (KeyError, TypeError, ValueError):
                self.state.findings.append(f"ledger entry {entry['index']} ({kind}) is malformed")
            return
        handler = _HANDLERS.get(kind)
        if handler is not None:
            at = int(entry["index"])
            try:
                handler(self, entry, entry["payload"], at)
            except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
                self.state.findings.append(f"ledger entry {at} ({kind}) lacks what it should hold")

    # ------------------------------------------------------------ actors and the catalog

    def _actor(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        name = entry["subject"]
        key = p.get("public_key")
        self.state.actors[name] = ActorFact(
            name, tuple(sorted(p.get("roles", []))), p.get("board_role"), p.get("organisation"), at,
            key, at if key is not None else None, key is not None,
            key_by=entry["actor"] if key is not None else None, key_made=p.get("key_made"),
        )  # fmt: skip

    def _key(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        fact = self.state.actors.get(entry["subject"])
        if fact is None:
            self.state.findings.append(f"ledger entry {at} ({entry['type']}) names no actor")
        elif entry["type"] == "actor.key_revoked":
            fact.public_key, fact.key_entry = None, None
        else:
            # Someone else's key registration after the actor had one (revoked first):
            # the one who registered it may hold it, and so may make the actor's own
            # rotations after it: every later decision is named.
            if fact.had_key and entry["actor"] != fact.name:
                fact.reissued_by, fact.reissued_at = str(entry["actor"]), at
            fact.public_key, fact.key_entry, fact.had_key = str(p["public_key"]), at, True
            fact.key_by, fact.key_made = str(entry["actor"]), p.get("key_made")

    def _department(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        self.state.departments[entry["subject"]] = (str(p.get("name", "")), at)

    def _dataset(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        name, _, version = str(entry["subject"]).rpartition("@")
        self.state.datasets[(name, int(version))] = DatasetFact(
            name, int(version), p["department"], p["grade"], p["content_sha256"], p.get("rows"), at
        )

    # ------------------------------------------------------------ requests and decisions

    def _request(self, entry: Mapping[str, Any], state: str) -> None:
        p, at, rid = entry["payload"], int(entry["index"]), str(entry["subject"])
        if state == "filed":
            self.state.requests[rid] = RequestFact(
                rid, entry["actor"], p["dataset"], int(p["version"]), "draft", at, entry["time"], at
            )
            return
        row = self.state.requests.get(rid)
        if row is None:
            self.state.findings.append(f"ledger entry {at} moves request {rid}, never filed")
            return
        row.state, row.entry, row.time = str(p.get("to", state)), at, entry["time"]
        if state == "objectives_set":
            row.purpose, row.sharing_model = p.get("purpose"), p.get("sharing_model")
            row.columns, row.objectives_entry = p.get("columns"), at
        elif state == "processed":
            row.preparer = entry["actor"]
            row.preparers = sorted({*row.preparers, entry["actor"]})
            row.round = int(p.get("round", row.round))
            row.artifact_sha256 = p.get("artifact_sha256")
        elif state == "released":
            row.release = ReleaseFact(
                p.get("recipient", ""), p.get("artifact_sha256"), p.get("dataset"),
                p.get("department"), p.get("grade"), entry["time"], at,
                p.get("sharing_model"), p.get("view_sha256"), p.get("term_end"),
            )  # fmt: skip
        elif state in ("revoked", "expired") and row.release is not None:
            row.release.ended = state

    def _decided(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        key = (str(entry["subject"]), str(entry["actor"]), int(p.get("round", 1)))
        self.state.decisions[key] = DecisionFact(
            *key, p.get("board_role"), str(p.get("decision")), p.get("rationale_sha256"), at
        )
        me = self.state.actors.get(key[1])
        if me is not None and me.reissued_by is not None:
            self.state.findings.append(
                f"the decision of {me.name} on {key[0]} (ledger entry {at}) was signed with a "
                f"key {me.reissued_by} registered for {me.name} (entry {me.reissued_at}) after "
                f"{me.name}'s own was revoked, or one rotated from it: confirm it with {me.name}"
            )

    # ------------------------------------------------------------ fees

    def _proposed(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        sid = entry["subject"]
        self.state.fee_standards[sid] = FeeStandardFact(
            sid, p["department"], p["product"], p["unit"], p["cap"], p["currency"], "proposed",
            entry["actor"], None, at,
        )  # fmt: skip

    def _approved(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        row = self.state.fee_standards.get(entry["subject"])
        if row is None:
            self.state.findings.append(
                f"ledger entry {at} approves fee standard {entry['subject']}, never proposed"
            )
            return
        row.state, row.approved_by, row.entry = "approved", entry["actor"], at
        if p.get("cap") is not None and p["cap"] != row.cap:
            self.state.findings.append(
                f"ledger entry {at} approves fee standard {row.id} at cap {p['cap']}, not the "
                f"{row.cap} proposed (entry {row.entry})"
            )

    def _limit(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        department, _, year = str(entry["subject"]).rpartition("/")
        self.state.revenue_limits[(department, int(year))] = RevenueLimitFact(
            department, int(year), p["amount"], p.get("currency", "CNY"), at
        )

    def _charged(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        standard = self.state.fee_standards.get(p["fee_standard"])
        department = p.get("department") or (standard.department if standard else None)
        self.state.charges.append(
            ChargeFact(
                p.get("charge"), entry["subject"], p["fee_standard"], department,
                int(p.get("year", str(entry["time"])[:4])), p["quantity"], p["unit_price"],
                p["amount"], p["deducted_next_period"], p["currency"], entry["actor"], at,
            )
        )  # fmt: skip

    # ------------------------------------------------------------ DP budgets

    def _budget(
        self, dataset: str, recipient: str, at: int, grade: str | None, total: Any = None
    ) -> BudgetFact:
        """The budget, made at its starting total (from the entry, else the grade default)."""
        found = self.state.budgets.get((dataset, recipient))
        if found is not None:
            found.entry = at
            return found
        if grade is None:
            latest = self.state.latest_dataset(dataset)
            grade = latest.grade if latest is not None else "general"
        if total is not None:
            start = _rho(total)
        elif self.default_rho is not None:
            start = self.default_rho(grade, recipient == GLOBAL)
        else:
            start = Fraction(0)
        made = BudgetFact(dataset, recipient, start, Fraction(0), 0, f"grade default ({grade})",
                          at, None)  # fmt: skip
        self.state.budgets[(dataset, recipient)] = made
        return made

    def _configured(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        self.state.dp_configs[str(entry["subject"])] = (str(p["config_sha256"]), at)

    def _answered(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        totals = p.get("totals") or {}
        for recipient, key in ((p["recipient"], "recipient"), (GLOBAL, "global")):
            row = self._budget(entry["subject"], recipient, at, p.get("grade"), totals.get(key))
            row.spent += _rho(p["rho"])
            row.queries += 1
            if row.spent > row.total:
                self.state.findings.append(
                    f"{row.whose} on {row.dataset} spent rho {row.spent}, more than its total "
                    f"{row.total} (ledger entry {at})"
                )

    def _set(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        row = self._budget(entry["subject"], p["recipient"], at, p.get("grade"), p.get("from"))
        total = _rho(p["rho"])
        if total > row.total:
            self.state.findings.append(
                f"ledger entry {at} raises {row.whose} on {row.dataset} from rho {row.total} to "
                f"{total} without the review board"
            )
        row.total, row.total_entry, row.source = total, at, f"lowered by {entry['actor']}"

    def _change_proposed(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        self._budget(p["dataset"], p["recipient"], at, p.get("grade"), p.get("from"))
        self.state.budget_changes[entry["subject"]] = BudgetChangeFact(
            entry["subject"], p["dataset"], p["recipient"], _rho(p["rho"]), "under_review",
            entry["actor"], at,
        )  # fmt: skip

    def _change_rejected(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        change = self.state.budget_changes.get(entry["subject"])
        if change is not None:
            change.state, change.entry = "rejected", at

    def _change_approved(self, entry: Mapping[str, Any], p: Mapping[str, Any], at: int) -> None:
        change = self.state.budget_changes.get(entry["subject"])
        if change is not None:
            change.state, change.entry = "approved", at
        row = self._budget(p["dataset"], p["recipient"], at, None)
        row.total, row.total_entry = _rho(p["rho"]), at
        row.source = f"budget change {entry['subject']}"


_Handler = Callable[[_Folder, Mapping[str, Any], Mapping[str, Any], int], None]
_HANDLERS: dict[str, _Handler] = {
    "actor.added": _Folder._actor,
    "actor.key_registered": _Folder._key,
    "actor.key_revoked": _Folder._key,
    "department.added": _Folder._department,
    "dataset.registered": _Folder._dataset,
    "request.decided": _Folder._decided,
    "dp.budget_change.decided": _Folder._decided,
    "fee_standard.proposed": _Folder._proposed,
    "fee_standard.approved": _Folder._approved,
    "revenue_limit.set": _Folder._limit,
    "fee.charged": _Folder._charged,
    "dp.query_answered": _Folder._answered,
    "dp.configured": _Folder._configured,
    "dp.budget_set": _Folder._set,
    "dp.budget_change.proposed": _Folder._change_proposed,
    "dp.budget_change.rejected": _Folder._change_rejected,
    "dp.budget_change.approved": _Folder._change_approved,
}


def replay(entries: Iterable[Mapping[str, Any]], default_rho: DefaultRho | None = None) -> Replay:
    """The state the entries imply (in index order). ``default_rho`` gives a grade's default
    DP budget for entries that do not carry the budget's starting total (older ledgers)."""
    folder = _Folder(default_rho)
    for entry in entries:
        folder.fold(entry)
    return folder.state
