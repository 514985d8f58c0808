"""The conformance suite: every registered engine must give the same answers.

Each test takes the ``engine`` fixture, parametrized over
:data:`custodes.engines.ENGINES`; registering a second engine runs the whole
suite on it. An engine that cannot do an operation declares it in
``DECLARED_GAPS`` (engine name -> operation names) and the test is marked
expected-to-fail with the reason, never silently skipped.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from custodes.engines import ENGINES, Engine, get_engine

DECLARED_GAPS: dict[str, dict[str, str]] = {}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each registered engine in turn."""
    name: str = request.param
    gaps = DECLARED_GAPS.get(name, {})
    operation = request.node.get_closest_marker("operation")
    if operation is not None and operation.args[0] in gaps:
        request.applymarker(pytest.mark.xfail(reason=gaps[operation.args[0]], strict=True))
    return get_engine(name)


@pytest.fixture(scope="session")
def adult_table(adult_dir: Path) -> pa.Table:
    """The Adult table (every column text) as Arrow, which every engine reads."""
    frame = pl.read_csv(adult_dir / "adult.csv", separator=";", infer_schema=False)
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())
