"""Tables: assess, scan and anonymize a table, and the roles a saved scan suggests."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custodes._files import StagedFile, text_sha256, write_atomic
from custodes.anonymize._mosaic import MosaicCheck
from custodes.anonymize._pipeline import Limits, check_aggregations, prepare_release
from custodes.anonymize._result import Anonymization
from custodes.anonymize._spec import AnonymizationSpec
from custodes.engines import Engine
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
from custodes.risk import Assessment, assess_summary, population_size
from custodes.settings import check_threshold
from custodes.workspace._core import WorkspaceCore
from custodes.workspace._roles import ScanRoles, identifiers_from_scan, roles_from_scan

if TYPE_CHECKING:  # detection loads its registries only when a scan runs
    from custodes.detect import GradingPolicy, ScanResult

__all__ = ["Roles", "TableLike", "TablesFace", "open_table", "read_table"]


class TablesFace(WorkspaceCore):
    """Assessing, scanning and anonymizing tables with the workspace's engine and settings;
    each step is recorded on the ledger."""

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
        if self.initialized():  # hash the input only for a ledger to record it in
            self.record(
                "scan.made",
                self._relative(source.name),
                {
                    "input_sha256": _input_hash(self, table),
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
        mosaic: MosaicCheck | None = None,
        mosaic_safe: bool = False,
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
            mosaic=mosaic,
            mosaic_safe=mosaic_safe,
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
                release, input_sha256=_input_hash(self, table), output=written, output_sha256=sha
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

    def _limits(self) -> Limits:
        """This workspace's bounds on the search and the assessment."""
        return Limits(
            risk_threshold=self.settings.risk_threshold,
            search_max_nodes=self.settings.search_max_nodes,
            search_time_limit=self.settings.search_time_limit,
            max_qi_combinations=self.settings.max_qi_combinations,
            memory_limit=self.settings.memory_limit_bytes(),
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
        return _read_table(source, header_judge=_judge_header, **read_options)
    return _read_table(source, **read_options)


def _judge_header(fields: Sequence[str], fits: Sequence[bool]) -> bool:
    """:func:`custodes.detect.header_judge`, the detector (its recognizers, a third of a
    second) imported only when a first row is in doubt: never for Parquet."""
    from custodes.detect import header_judge

    return header_judge(fields, fits)


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


def _input_hash(ws: WorkspaceCore, table: TableLike) -> str | None:
    """The SHA-256 of a table given as a file (the workspace remembers it while unchanged:
    governance has hashed a registered source already), else None."""
    if isinstance(table, str | os.PathLike) and Path(table).is_file():
        return ws.file_hash(Path(table))
    return None
