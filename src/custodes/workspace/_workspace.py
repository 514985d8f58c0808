"""The :class:`Workspace` facade.

Module-level functions such as :func:`custodes.assess` use a workspace built
from the default settings.
"""

from __future__ import annotations

import functools
import getpass
import math
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custodes._cache import FileHashes
from custodes._files import StagedFile, text_sha256, write_atomic
from custodes.anonymize._pipeline import Limits, check_aggregations, prepare_release
from custodes.anonymize._result import Anonymization
from custodes.anonymize._spec import AnonymizationSpec
from custodes.engines import Engine, get_engine
from custodes.errors import (
    ColumnRoleError,
    InvalidInputError,
    SettingError,
    UnknownColumnError,
    UnsupportedError,
    unknown_column,
)
from custodes.hierarchy import Hierarchy, read_hierarchy
from custodes.io import TableLike, TableSource, file_sha256, reading
from custodes.io import is_text as _is_text
from custodes.io import open_table as _open_table
from custodes.io import read_table as _read_table
from custodes.ledger import Ledger, open_ledger
from custodes.risk import Assessment, assess_summary, population_size
from custodes.settings import Settings, check_threshold, load_settings
from custodes.store import Store
from custodes.workspace._create import InitResult, init_workspace
from custodes.workspace._roles import ScanRoles, identifiers_from_scan, roles_from_scan

if TYPE_CHECKING:  # detection loads its registries only when a scan runs
    from custodes._doctor import Checkup
    from custodes.detect import GradingPolicy, ScanResult
    from custodes.dp import PrivateQueries
    from custodes.governance import Governance, GovernancePolicy
    from custodes.ledger import SignedHead, Verification
    from custodes.release import ReleaseBook
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


@dataclass(frozen=True)
class Roles:
    """Column roles for privacy work. A column may have one role at most."""

    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...] = ()
    identifying: tuple[str, ...] = ()
    insensitive: tuple[str, ...] = ()

    def validate(self, columns: Sequence[str], where: str) -> None:
        """Every named column exists, none has two roles, and there is a quasi-identifier."""
        if not self.quasi_identifiers:
            raise ColumnRoleError(
                "no quasi-identifiers given: name the columns an attacker could know "
                "(e.g. --qi age,sex,region)."
            )
        seen: dict[str, str] = {}
        for role, names in (
            ("quasi-identifying", self.quasi_identifiers),
            ("sensitive", self.sensitive),
            ("identifying", self.identifying),
            ("insensitive", self.insensitive),
        ):
            for name in names:
                if name not in columns:
                    raise unknown_column(name, columns, where=where)
                if name in seen:
                    if seen[name] == role:
                        raise ColumnRoleError(
                            f"column {name!r} is listed twice as {role}; list it once."
                        )
                    raise ColumnRoleError(
                        f"column {name!r} is given two roles, {seen[name]} and {role}; "
                        "a column has one role: remove it from one of the lists."
                    )
                seen[name] = role


def open_table(table: TableLike, /, **read_options: Any) -> TableSource:
    """:func:`custodes.io.open_table`, judging a doubtful first row as :func:`read_table` does."""
    if isinstance(table, str | os.PathLike):
        return read_table(table, **read_options)
    return _open_table(table, **read_options)


def read_table(source: str | os.PathLike[str], /, **read_options: Any) -> TableSource:
    """Open a file or database table (:func:`custodes.io.read_table`'s options).

    A first row that could be a header or data is judged with what custodes
    knows of column words and personal data
    (:func:`custodes.detect.header_judge`), unless ``has_header`` says.
    """
    if read_options.get("has_header") is None:
        from custodes.detect import header_judge

        return _read_table(source, header_judge=header_judge, **read_options)
    return _read_table(source, **read_options)


def _check_types(engine: Engine, source: TableSource, columns: Sequence[str]) -> None:
    for name, dtype in engine.unsupported_columns(source, columns):
        raise UnsupportedError(
            f"column {name!r} of {source.name} holds {dtype} values; privacy roles need "
            "plain values (text, numbers, dates). Flatten or convert the column first."
        )


def _split(names: str | Iterable[str] | None) -> tuple[str, ...]:
    if names is None:
        return ()
    if isinstance(names, str):
        return tuple(n.strip() for n in names.split(",") if n.strip())
    return tuple(names)


class Workspace:
    """One deployment of custodes: its settings, engine, store and ledger.

    The store and the ledger are opened once, on first use, and closed by
    :meth:`close` (or when the workspace is garbage-collected); a workspace is
    also a context manager.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.engine: Engine = get_engine(self.settings.engine)
        self._ledger: Ledger | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def init(self) -> InitResult:
        """Create (or check) the workspace: folder, store, migrations, signing key."""
        self.close()  # a store opened before may have had an older schema
        return init_workspace(self.settings)

    @property
    def ledger(self) -> Ledger:
        """The workspace's ledger, opened once; every entry is screened for personal data."""
        if self._ledger is None:
            from custodes.detect import personal_data_in

            ledger = open_ledger(self.settings, screen=personal_data_in)
            self._finalizer = weakref.finalize(self, ledger.store.dispose)
            self._ledger = ledger
        return self._ledger

    @property
    def store(self) -> Store:
        """The workspace's store (the ledger's)."""
        return self.ledger.store

    def close(self) -> None:
        """Close the store's connections (the workspace opens them again when needed)."""
        if self._finalizer is not None:
            self._finalizer()
        self._ledger = None
        self._finalizer = None

    @property
    def releases(self) -> ReleaseBook:
        """The book of release records, in the workspace's store."""
        from custodes.release import ReleaseBook

        return ReleaseBook(self.store)

    def governance(self, actor: str, policy: GovernancePolicy | None = None) -> Governance:
        """Governance of this workspace acting as ``actor``."""
        from custodes.governance import Governance

        return Governance(self, actor, policy)

    def queries(self, actor: str) -> PrivateQueries:
        """Differentially private queries of this workspace, asked by ``actor``: through
        governance's checks and ledger, paid from the budgets, computed by the engine."""
        from custodes.dp import BudgetAccount, PrivateQueries
        from custodes.workspace._access import GovernanceAccess

        caches = self._query_caches
        access = GovernanceAccess(self.governance(actor), self._file_hashes)
        return PrivateQueries(access, BudgetAccount(access), self.engine, caches.tables)

    def file_hash(self, path: Path) -> str:
        """The SHA-256 of a file, remembered while its size, inode and time stay the same
        (the workspace remembers a bounded number of files)."""
        return self._file_hashes.of(path)

    @functools.cached_property
    def _file_hashes(self) -> FileHashes:
        from custodes.workspace._access import FILE_HASHES

        return FileHashes(FILE_HASHES)

    @functools.cached_property
    def _query_caches(self) -> QueryCaches:
        """This workspace's caches for DP queries (bounded, never shared with another)."""
        from custodes.workspace._access import QueryCaches

        return QueryCaches()

    @property
    def path(self) -> Path:
        """The workspace folder."""
        return self.settings.workspace

    def assess(
        self,
        table: TableLike,
        *,
        quasi_identifiers: str | Iterable[str],
        sensitive: str | Iterable[str] | None = None,
        identifying: str | Iterable[str] | None = None,
        insensitive: str | Iterable[str] | None = None,
        population: str | int | None = None,
        sampling_fraction: float | None = None,
        population_table: TableLike | None = None,
        threshold: float | None = None,
        hierarchies: Mapping[str, Hierarchy | str | os.PathLike[str]] | None = None,
        recursive_c: float = 4.0,
        combinations: bool = True,
        progress: Callable[[int, int], None] | None = None,
        read_options: Mapping[str, Any] | None = None,
    ) -> Assessment:
        """Measure how identifiable the people in ``table`` are.

        ``population`` is a region name (``"china"``, ``"usa"``...) or a
        population size; or give ``sampling_fraction``; or a
        ``population_table`` the data was sampled from. With none of them the
        table is taken to be the whole population (a register or census), which
        is the conservative choice.
        """
        options = dict(read_options or {})
        wants_encoding = self.settings.encoding != "auto" and "encoding" not in options
        if wants_encoding and _is_text(table, options):
            options["encoding"] = self.settings.encoding
        source = open_table(table, **options)
        roles = Roles(
            _split(quasi_identifiers),
            _split(sensitive),
            _split(identifying),
            _split(insensitive),
        )
        with _names_withheld(source.columns):
            roles.validate(source.columns, source.name)
        _check_types(self.engine, source, [*roles.quasi_identifiers, *roles.sensitive])
        threshold = check_threshold(
            self.settings.risk_threshold if threshold is None else threshold, "threshold"
        )
        if not isinstance(recursive_c, int | float) or not math.isfinite(recursive_c):
            raise SettingError(f"recursive-(c,l) c is {recursive_c!r}; give a number, e.g. 4.")
        if recursive_c <= 0:
            raise SettingError(f"recursive-(c,l) c is {recursive_c}; it must be positive, e.g. 4.")
        loaded = self._hierarchies(hierarchies or {}, roles)

        with reading(source):
            summary = self.engine.summarize(source, roles.quasi_identifiers, roles.sensitive)
        if summary.rows == 0:
            raise InvalidInputError(f"{source.name} has no records: there is nothing to assess.")
        pop_summary = None
        if population_table is not None:
            if population is not None or sampling_fraction is not None:
                raise SettingError(
                    "give one of population, sampling fraction or population table, not several."
                )
            pop_source = open_table(population_table)
            for name in roles.quasi_identifiers:
                if name not in pop_source.columns:
                    raise unknown_column(name, pop_source.columns, where=pop_source.name)
            # Compare values as the sample holds them (an integer 1 is the float 1.0).
            pop_cast = self.engine.cast_like(pop_source, source, roles.quasi_identifiers)
            with reading(pop_source):
                pop_summary = self.engine.summarize(pop_cast, roles.quasi_identifiers)

        size = self._population_size(population, sampling_fraction, summary.rows, pop_summary)
        return assess_summary(
            summary,
            source=source.name,
            population=size,
            threshold=threshold,
            hierarchies=loaded,
            recursive_c=recursive_c,
            max_qi_combinations=self.settings.max_qi_combinations,
            combinations=combinations,
            population_summary=pop_summary,
            progress=progress,
            identifying=roles.identifying,
        )

    def scan(
        self,
        table: TableLike,
        *,
        sample: int = 10_000,
        full: bool = False,
        policy: GradingPolicy | str | os.PathLike[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        read_options: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> ScanResult:
        """Find the columns holding personal data, suggest roles and the table's grade.

        Reads the first ``sample`` rows (every row with ``full``); ``policy``
        is a grading policy or the path of its TOML file (default: the
        ``grading_policy`` setting, else the built-in one,
        :data:`custodes.detect.DEFAULT_POLICY`). ``actor`` is who the ledger
        records as scanning (default: $CUSTODES_ACTOR, else the system user).
        """
        from custodes.detect import DEFAULT_POLICY, load_policy, scan_table

        if policy is None and self.settings.grading_policy:
            policy = self.settings.grading_policy
        if isinstance(policy, str | os.PathLike):
            policy = load_policy(policy)
        source = open_table(table, **dict(read_options or {}))
        result = scan_table(
            source,
            sample=sample,
            full=full,
            policy=policy or DEFAULT_POLICY,
            progress=progress,
        )
        self.record(
            "scan.made",
            self._relative(source.name),
            {
                "input_sha256": _file_hash(table),
                "rows": result.rows,
                "full": result.full,
                "grade": result.grade.level,
                "roles": result.roles(),
                "policy": result.policy.source,
            },
            actor=actor,
        )
        return result

    def anonymize(
        self,
        table: TableLike,
        spec: AnonymizationSpec,
        *,
        output: str | os.PathLike[str] | StagedFile | None = None,
        manifest: str | os.PathLike[str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        read_options: Mapping[str, Any] | None = None,
        record: bool = True,
        columns: Sequence[str] | None = None,
    ) -> Anonymization:
        """Find the optimal generalization meeting ``spec`` and apply it to the table.

        With ``columns`` the release holds only those columns (a governed
        release: what the request asked for); every other column is dropped
        by the pipeline itself, and the quasi-identifiers and sensitive
        attributes the spec assesses must be among them.

        The spec is validated against the table before any work. With
        ``output`` the anonymized table is written there and the manifest
        records its SHA-256. The table is written under a temporary name and
        renamed to ``output`` only after the ``manifest`` file (when given)
        and the ledger entry (when ``record``) exist, so an output never looks
        finished without them. A :class:`~custodes._files.StagedFile` as
        ``output`` is left unrenamed: its caller commits it (a governed
        release renames it in the transaction that records the release).
        """
        source = open_table(table, **dict(read_options or {}))
        with _names_withheld(source.columns):
            spec.validate(source.columns, source.name)
        if columns is not None:
            _check_released_columns(spec, columns, source.columns, source.name)
        path = Path(table) if isinstance(table, str | os.PathLike) else None
        target = output.target if isinstance(output, StagedFile) else output
        if target is not None and path is not None and path.is_file():
            same = Path(target).resolve() == path.resolve()
        else:
            same = False
        if same:
            raise SettingError(
                f"--output {str(target)!r} is the input table; write the release elsewhere "
                "so the original stays intact."
            )
        _check_types(self.engine, source, [*spec.quasi_identifiers, *spec.sensitive])
        with reading(source):
            check_aggregations(self.engine, source, spec.microaggregation)
        release = prepare_release(
            self.engine,
            source,
            spec,
            reading=lambda task: reading(source, task),
            limits=self._limits(),
            columns=columns,
            progress=progress,
        )
        with ExitStack() as stack:
            staged: StagedFile | None = None
            if isinstance(output, StagedFile):
                staged = output  # its caller renames it
            elif output is not None:
                staged = stack.enter_context(StagedFile(output))
            written = sha = None
            if staged is not None:
                with reading(source, "making the release"):
                    self.engine.write(release.table, staged)  # streamed, never held whole
                written, sha = str(staged.target), file_sha256(staged.temp)
            release = replace(
                release, input_sha256=_file_hash(table), output=written, output_sha256=sha
            )
            # The output looks finished (has its name) only once its manifest and ledger
            # entry exist: a process killed before leaves a temporary file, nothing more.
            manifest_written: Path | None = None
            try:
                if manifest is not None:
                    manifest_written = write_atomic(manifest, release.manifest_json())
                if record:
                    self._record_anonymization(release, manifest)
                if staged is not None and staged is not output:
                    staged.commit()
            except BaseException:
                if manifest_written is not None:
                    manifest_written.unlink(missing_ok=True)
                raise
        return release

    def _record_anonymization(
        self, release: Anonymization, manifest: str | os.PathLike[str] | None
    ) -> None:
        before, spec = release.before, release.spec
        payload: dict[str, Any] = {
            "input_sha256": release.input_sha256,
            "output_sha256": release.output_sha256,
            "manifest_sha256": text_sha256(release.manifest_json()),
            "spec_sha256": spec.sha256(),
            "method": spec.method,
            "transformation": release.transformation,
            "suppressed_records": release.suppressed_records,
            "rows_in": before.rows,
            "rows_out": release.rows,
            "privacy_models": [m.describe() for m in spec.models],
            "loss": f"{release.loss:.6f}",
        }
        if manifest is not None and release.output is not None:  # for custodes doctor
            payload["output_path"] = self._relative(release.output, file=True)
            payload["manifest_path"] = self._relative(manifest, file=True)
        self.record("anonymization.made", self._relative(release.output or release.source), payload)

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
        access = self.queries(actor)
        try:
            return access.query(sql, rho=None if rho is None else str(rho), epsilon=epsilon)
        finally:
            access.close()

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

    def initialized(self) -> bool:
        """Whether ``custodes init`` set this workspace up (its signing key exists)."""
        return self.settings.signing_key_path().is_file()

    def _relative(self, name: str | os.PathLike[str], *, file: bool = False) -> str:
        """How the ledger names a file: relative to the workspace folder, never absolutely.
        A name that is neither a ``file`` nor an existing or absolute path (a database
        table's, a frame's) stays as it is."""
        if not file and not os.path.isabs(name) and not Path(name).exists():
            return os.fspath(name)
        return os.path.relpath(Path(name).resolve(), self.path.resolve())

    def record(
        self, event: str, subject: str, payload: Mapping[str, Any], actor: str | None = None
    ) -> int | None:
        """Append an event to the workspace's ledger (None when it has none yet).

        ``actor`` is who acted (default: $CUSTODES_ACTOR, else the system user).
        """
        if not self.initialized():
            return None
        from custodes.detect import hash_personal

        # Column names and other strings that are personal data go to the ledger hashed.
        subject, payload = hash_personal(subject, payload)
        with self.store.transaction() as session:
            return self.ledger.append(session, event, actor or _actor(), subject, payload)

    def _limits(self) -> Limits:
        """This workspace's bounds on the search and the assessment."""
        return Limits(
            risk_threshold=self.settings.risk_threshold,
            search_max_nodes=self.settings.search_max_nodes,
            search_time_limit=self.settings.search_time_limit,
            max_qi_combinations=self.settings.max_qi_combinations,
        )

    @staticmethod
    def _population_size(
        population: str | int | None,
        fraction: float | None,
        rows: int,
        pop_summary: Any,
    ) -> int:
        if pop_summary is not None:
            return int(pop_summary.rows)
        if isinstance(population, str):
            digits = population.strip().replace(",", "").replace("_", "")
            if digits.lstrip("+-").isdigit():
                population = int(digits)
        given = [x is not None for x in (population, fraction)]
        if sum(given) > 1:
            raise SettingError("give either a population (region or size) or a sampling fraction.")
        if isinstance(population, str):
            return population_size(region=population, sample_rows=rows)
        if population is not None:
            return population_size(size=population, sample_rows=rows)
        if fraction is not None:
            return population_size(sampling_fraction=fraction, sample_rows=rows)
        return rows

    @staticmethod
    def _hierarchies(
        given: Mapping[str, Hierarchy | str | os.PathLike[str]], roles: Roles
    ) -> dict[str, Hierarchy]:
        loaded: dict[str, Hierarchy] = {}
        for column, h in given.items():
            if column not in roles.sensitive:
                raise InvalidInputError(
                    f"a hierarchy is given for {column!r}, which is not a sensitive attribute "
                    "here; the assessment uses hierarchies for t-closeness of sensitive "
                    "attributes only."
                )
            loaded[column] = h if isinstance(h, Hierarchy) else read_hierarchy(Path(h))
        return loaded

    # ------------------------------------------------------------ for the faces
    # What the command line and a server need beyond the methods above, so that no
    # face opens a ledger, reads a key or merges roles itself.

    def export_ledger(self, path: str | os.PathLike[str]) -> int:
        """Write every entry and signed head to ``path`` (JSON Lines) for an auditor; its size."""
        return self.ledger.export(path)

    def sign_head(self) -> SignedHead:
        """Sign (and store) a tree head for the ledger as it is now."""
        return self.ledger.sign_head()

    def inclusion_proof(self, entry: int, size: int | None = None) -> dict[str, Any]:
        """A proof that entry ``entry`` is in the signed head of ``size`` (default: newest)."""
        with self._proving() as ledger:
            return ledger.inclusion_proof(entry, size)

    def consistency_proof(self, old: int, new: int | None = None) -> dict[str, Any]:
        """A proof that the signed head of size ``old`` is a prefix of a newer one."""
        with self._proving() as ledger:
            return ledger.consistency_proof(old, new)

    @contextmanager
    def _proving(self) -> Iterator[Ledger]:
        """The ledger for proofs. With the key, a head is signed when none covers the
        entry yet; without it (an auditor's copy of the store), the heads must exist."""
        if self.settings.signing_key_path().exists():
            yield self.ledger
            return
        ledger = open_ledger(self.settings, signing=False)
        try:
            yield ledger
        finally:
            ledger.store.dispose()

    @staticmethod
    def verify_ledger(
        export: str | os.PathLike[str],
        public_key: str | os.PathLike[str],
        trusted_head: str | os.PathLike[str] | None = None,
    ) -> Verification:
        """Verify a ledger export offline with the ledger's public key (no store needed).

        ``trusted_head`` is a signed head saved earlier: the export must extend it.
        """
        from custodes.ledger import load_head, load_public_key, verify_export

        key = load_public_key(Path(public_key))
        trusted = load_head(trusted_head, key) if trusted_head is not None else None
        return verify_export(export, key, trusted)

    def roles_from_scan(
        self,
        scan: str | os.PathLike[str],
        table: TableLike,
        *,
        quasi_identifiers: str | Iterable[str] | None = None,
        sensitive: str | Iterable[str] | None = None,
        identifying: str | Iterable[str] | None = None,
        read_options: Mapping[str, Any] | None = None,
    ) -> ScanRoles:
        """Roles for :meth:`assess`: those given, the rest as a saved scan of ``table``
        suggests (see :func:`custodes.workspace.roles_from_scan`)."""
        columns = open_table(table, **dict(read_options or {})).columns
        return roles_from_scan(
            scan,
            columns,
            quasi_identifiers=quasi_identifiers,
            sensitive=sensitive,
            identifying=identifying,
        )

    def identifiers_from_scan(
        self,
        scan: str | os.PathLike[str],
        table: TableLike,
        *,
        identifying: Sequence[str] = (),
        redacted: Sequence[str] = (),
        read_options: Mapping[str, Any] | None = None,
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Identifying columns and free-text columns to redact, the given ones and a saved
        scan's (see :func:`custodes.workspace.identifiers_from_scan`)."""
        columns = open_table(table, **dict(read_options or {})).columns
        return identifiers_from_scan(scan, columns, identifying=identifying, redacted=redacted)


@contextmanager
def _names_withheld(columns: Sequence[str]) -> Iterator[None]:
    """Column names are data: an error that lists a table's columns withholds those that
    are personal data (a header-less file's first person read as its header)."""
    try:
        yield
    except UnknownColumnError as exc:
        from custodes.detect import personal_data_in

        flagged = [c for c, k in zip(columns, personal_data_in(list(columns)), strict=True) if k]
        if not flagged:
            raise
        message = exc.message
        for name in flagged:
            message = message.replace(repr(name), "(a column whose name is withheld)")
        raise UnknownColumnError(message) from None


def _check_released_columns(
    spec: AnonymizationSpec, columns: Sequence[str], present: Sequence[str], where: str
) -> None:
    """The columns to release exist, and hold what the spec assesses."""
    for name in columns:
        if name not in present:
            raise unknown_column(name, present, where=where)
    for name in [*spec.quasi_identifiers, *spec.sensitive]:
        if name not in columns:
            raise SettingError(
                f"the plan assesses column {name!r}, which the release does not hold (it was "
                "not asked for); remove it from the plan's quasi-identifiers and models, or "
                "have it requested."
            )


def anonymize(table: TableLike, spec: AnonymizationSpec, **options: Any) -> Anonymization:
    """Anonymize ``table`` with default settings (see :meth:`Workspace.anonymize`)."""
    return Workspace().anonymize(table, spec, **options)


def _actor() -> str:
    """Who is acting: $CUSTODES_ACTOR, else the operating-system user."""
    return os.environ.get("CUSTODES_ACTOR") or getpass.getuser()


def _file_hash(table: TableLike) -> str | None:
    if isinstance(table, str | os.PathLike) and Path(table).is_file():
        return file_sha256(table)
    return None


def scan(table: TableLike, **options: Any) -> ScanResult:
    """Scan ``table`` for personal data (see :meth:`Workspace.scan`)."""
    return Workspace().scan(table, **options)


def assess(table: TableLike, **options: Any) -> Assessment:
    """Assess ``table`` with a workspace of default settings (see :meth:`Workspace.assess`)."""
    return Workspace().assess(table, **options)
