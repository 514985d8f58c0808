"""The :class:`Workspace` facade.

Module-level functions such as :func:`custodes.assess` use a workspace built
from the default settings.
"""

from __future__ import annotations

import getpass
import math
import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from custodes._files import StagedFile, text_sha256, write_atomic
from custodes.anonymize._generalize import (
    Scheme,
    schemes_for,
    suppressed_labels,
    value_mappings,
)
from custodes.anonymize._identifiers import apply_identifier_actions, check_dates
from custodes.anonymize._loss import LossMetric
from custodes.anonymize._microaggregate import microaggregate
from custodes.anonymize._models import TCloseness
from custodes.anonymize._mondrian import LocalRecoding, mondrian
from custodes.anonymize._objectives import Objective
from custodes.anonymize._result import Anonymization
from custodes.anonymize._revealed import check_revealed, kept_parts, revealed_by
from custodes.anonymize._search import SearchResult, optimal_generalization
from custodes.anonymize._spec import AnonymizationSpec
from custodes.anonymize._utility import utility
from custodes.engines import Engine, get_engine
from custodes.errors import (
    ColumnRoleError,
    InvalidInputError,
    SettingError,
    UnknownColumnError,
    unknown_column,
)
from custodes.hierarchy import Hierarchy, build_hierarchy, read_hierarchy
from custodes.io import TableLike, TableSource, file_sha256, reading, write_table
from custodes.io import check_types as _check_types
from custodes.io import is_text as _is_text
from custodes.io import open_table as _open_table
from custodes.io import read_table as _read_table
from custodes.ledger import Ledger, open_ledger
from custodes.report import fold_rare, smallest_shown
from custodes.risk import Assessment, assess_summary, population_size
from custodes.settings import Settings, check_threshold, load_settings
from custodes.store import Store
from custodes.summary import Summary
from custodes.workspace._create import InitResult, init_workspace

if TYPE_CHECKING:  # detection loads its registries only when a scan runs
    from custodes._doctor import Checkup
    from custodes.detect import GradingPolicy, ScanResult
    from custodes.dp import PrivateQueries
    from custodes.governance import Governance, GovernancePolicy

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

    def governance(self, actor: str, policy: GovernancePolicy | None = None) -> Governance:
        """Governance of this workspace acting as ``actor``."""
        from custodes.governance import Governance

        return Governance(self, actor, policy)

    def queries(self, actor: str) -> PrivateQueries:
        """Differentially private queries of this workspace, asked by ``actor``."""
        from custodes.dp import PrivateQueries

        return PrivateQueries(self, actor)

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
        _check_types(source, [*roles.quasi_identifiers, *roles.sensitive])
        threshold = check_threshold(
            self.settings.risk_threshold if threshold is None else threshold, "threshold"
        )
        if not isinstance(recursive_c, int | float) or not math.isfinite(recursive_c):
            raise SettingError(f"recursive-(c,l) c is {recursive_c!r}; give a number, e.g. 4.")
        if recursive_c <= 0:
            raise SettingError(f"recursive-(c,l) c is {recursive_c}; it must be positive, e.g. 4.")
        loaded = self._hierarchies(hierarchies or {}, roles)

        with reading(source):
            summary = self.engine.summarize(source.frame, roles.quasi_identifiers, roles.sensitive)
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
            sample_schema = source.frame.collect_schema()
            pop_frame = pop_source.frame.with_columns(
                pl.col(q).cast(sample_schema[q], strict=False) for q in roles.quasi_identifiers
            )
            with reading(pop_source):
                pop_summary = self.engine.summarize(pop_frame, roles.quasi_identifiers)

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
            source.name,
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
        _check_types(source, [*spec.quasi_identifiers, *spec.sensitive])
        _check_aggregations(source, spec.microaggregation)
        with reading(source):
            check_dates(source.frame, spec.actions(), repr(source.name))
            summary = self.engine.summarize(source.frame, spec.quasi_identifiers, spec.sensitive)
        if summary.rows == 0:
            raise InvalidInputError(f"{source.name} has no records: there is nothing to anonymize.")
        hierarchies = {
            q: (
                build_hierarchy(h, [v or "" for v in summary.category_values(j)])
                if isinstance(h, str)
                else h
            )
            for j, q in enumerate(spec.quasi_identifiers)
            for h in [spec.hierarchies[q]]
        }
        schemes = schemes_for(summary, hierarchies)
        result: SearchResult | None = None
        local: LocalRecoding | None = None
        compared: SearchResult | None = None
        if spec.method == "local":
            if spec.min_levels or spec.max_levels:
                raise SettingError(
                    "level limits apply to the global search only; local recoding chooses "
                    "a node per part. Remove the limits or use the global method."
                )
            local = mondrian(summary, schemes, hierarchies, spec.models, LossMetric(spec.gs_factor))
            try:  # the global optimum under the same policy, for the comparison
                compared = self._search(summary, schemes, spec)
            except InvalidInputError:
                compared = None  # no global transformation meets the policy
            prefix = _free_name("new", spec.quasi_identifiers)
            mapping = summary.values_frame().with_columns(
                pl.Series(f"{prefix}{j}", local.labels[q], dtype=pl.String).gather(
                    local.part_of_class
                )
                for j, q in enumerate(spec.quasi_identifiers)
            )
            with reading(source, "making the release"):
                recoded = self.engine.recode(source.frame, mapping, spec.quasi_identifiers)
                recoded = microaggregate(recoded, spec.microaggregation, spec.quasi_identifiers)
                released = apply_identifier_actions(recoded, spec.actions()).collect(
                    engine="streaming"
                )
        else:
            lows, highs = spec.levels([s.height for s in schemes])
            result = self._search(
                summary,
                schemes,
                spec,
                min_levels=lows,
                max_levels=highs,
                progress=progress,
                objective=Objective(spec.objective, LossMetric(spec.gs_factor)),
            )
            mappings = value_mappings(summary, hierarchies, result.levels)
            suppressed = suppressed_labels(
                summary, hierarchies, result.generalized, result.suppressed_classes
            )
            with reading(source, "making the release"):
                generalized = self.engine.generalize(source.frame, mappings, suppressed)
                generalized = microaggregate(
                    generalized, spec.microaggregation, spec.quasi_identifiers
                )
                released = apply_identifier_actions(generalized, spec.actions()).collect(
                    engine="streaming"
                )
        if columns is not None:  # what was not asked for never leaves
            released = released.select([c for c in released.columns if c in set(columns)])
        hierarchy_of = {
            m.sensitive: m.hierarchy
            for m in spec.models
            if isinstance(m, TCloseness) and m.hierarchy is not None
        }
        options: dict[str, Any] = {
            "quasi_identifiers": spec.quasi_identifiers,
            "sensitive": spec.sensitive,
            "hierarchies": hierarchy_of,
            "combinations": False,
        }
        before = assess_summary(
            summary,
            source=source.name,
            population=summary.rows,
            threshold=self.settings.risk_threshold,
            hierarchies={k: v for k, v in hierarchy_of.items() if k is not None},
            combinations=False,
        )
        after = self.assess(released, **options)
        revealed = revealed_by(released, spec.actions())  # a kept prefix is a quasi-identifier
        counted = tuple(r.column for r in revealed if r.counted)
        if counted:
            without = after.k_anonymity
            options["quasi_identifiers"] = (*spec.quasi_identifiers, *counted)
            after = self.assess(kept_parts(released, revealed), **options)
            needed = max(m.minimal_class_size() for m in spec.models)
            check_revealed(revealed, needed, without, after.k_anonymity)
        with ExitStack() as stack:
            staged: StagedFile | None = None
            if isinstance(output, StagedFile):
                staged = output  # its caller renames it
            elif output is not None:
                staged = stack.enter_context(StagedFile(output))
            written = sha = None
            if staged is not None:
                write_table(released, staged)
                written, sha = str(staged.target), file_sha256(staged.temp)
            input_sha = _file_hash(table)
            n = _free_name("n", spec.quasi_identifiers)
            before_values = summary.values_frame().with_columns(pl.Series(n, summary.counts))
            distributions = {
                q: (
                    _counts(before_values.group_by(q).agg(pl.col(n).sum())),
                    _counts(released.group_by(q).agg(pl.len().alias(n))),
                )
                for q in spec.quasi_identifiers
            }
            # Nothing downstream gets a value rarer than the release's k: it singles people out.
            smallest = smallest_shown(
                {"spec": spec.to_dict(), "risk_after": {"k_anonymity": after.k_anonymity}}
            )
            distributions = {
                q: (fold_rare(b, smallest), fold_rare(a, smallest))
                for q, (b, a) in distributions.items()
            }
            release = Anonymization(
                distributions=distributions,
                table=released,
                spec=spec,
                search=result,
                utility=None
                if result is None
                else utility(summary, schemes, result.generalized, result.suppressed_classes),
                local=local,
                compared=compared,
                before=before,
                after=after,
                revealed=tuple(revealed),
                source=source.name,
                input_sha256=input_sha,
                output=written,
                output_sha256=sha,
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
            "rows_out": release.table.height,
            "privacy_models": [m.describe() for m in spec.models],
            "loss": f"{release.loss:.6f}",
        }
        if manifest is not None and release.output is not None:  # for custodes doctor
            payload["output_path"] = str(Path(release.output).resolve())
            payload["manifest_path"] = str(Path(manifest).resolve())
        self.record("anonymization.made", release.output or release.source, payload)

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
        from custodes.dp import PrivateQueries

        access = PrivateQueries(self, actor)
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

    def _search(
        self,
        summary: Summary,
        schemes: Sequence[Scheme],
        spec: AnonymizationSpec,
        **options: Any,
    ) -> SearchResult:
        """The optimal generalization under the spec's models and this workspace's limits."""
        return optimal_generalization(
            summary,
            schemes,
            spec.models,
            suppression_limit=spec.suppression_limit,
            metric=LossMetric(spec.gs_factor),
            max_nodes=self.settings.search_max_nodes,
            time_limit=self.settings.search_time_limit,
            **options,
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


def _check_aggregations(source: TableSource, functions: Mapping[str, str]) -> None:
    """Mean and median need numbers: refuse columns of dates or text."""
    numeric = [c for c, f in functions.items() if f in ("mean", "median")]
    if not numeric:
        return
    schema = source.frame.collect_schema()
    for column in numeric:
        if schema[column].is_temporal():
            raise SettingError(
                f"column {column!r} holds dates; microaggregate it with mode, or generalize "
                "it as a quasi-identifier."
            )
    with reading(source):
        counts = source.frame.select(
            (
                pl.col(c).cast(pl.Float64, strict=False).is_null().sum() - pl.col(c).is_null().sum()
            ).alias(c)
            for c in numeric
        ).collect(engine="streaming")
    for column in numeric:
        if int(counts[0, column]) > 0:
            raise SettingError(
                f"column {column!r} has {int(counts[0, column]):,} values that are not numbers; "
                f"microaggregate it with mode ({column}:mode) or clean the column."
            )


def _free_name(base: str, taken: Sequence[str]) -> str:
    """A column name starting with ``base`` that no name in ``taken`` starts with."""
    name = f"__{base}"
    while any(t.startswith(name) for t in taken):
        name += "_"
    return name


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


def _counts(frame: pl.DataFrame) -> list[tuple[str, int]]:
    """(value as text, count) pairs of a two-column frame."""
    return [("" if v is None else str(v), int(n)) for v, n in frame.iter_rows()]


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
