"""The Polars engine: one lazy (streaming) scan builds the summary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from custodes.summary import SensitiveHistogram, Summary, natural_order

_COUNT = "__count"


def _encode(frame: pl.DataFrame, column: str) -> tuple[pl.Series, pl.Series]:
    """Integer codes (natural order, nulls last) and the category list of a column."""
    values = frame.get_column(column).cast(pl.String)
    categories = natural_order(values.unique())
    non_null = categories.drop_nulls()
    codes = values.cast(pl.Enum(non_null.to_list())).to_physical().cast(pl.Int64)
    if categories.null_count():
        codes = codes.fill_null(len(non_null))
    return codes, categories


class PolarsEngine:
    """Summaries computed by Polars, streaming when the data exceeds memory."""

    name = "polars"

    def summarize(
        self,
        frame: pl.LazyFrame,
        quasi_identifiers: Sequence[str],
        sensitive: Sequence[str] = (),
    ) -> Summary:
        """Group by the quasi-identifiers (and each sensitive attribute) in one pass."""
        qis = list(quasi_identifiers)
        queries = [frame.group_by(qis).agg(pl.len().alias(_COUNT))]
        queries += [frame.group_by([*qis, s]).agg(pl.len().alias(_COUNT)) for s in sensitive]
        classes, *detail = pl.collect_all(queries, engine="streaming")

        qi_codes = []
        categories = []
        for name in qis:
            codes, cats = _encode(classes, name)
            qi_codes.append(codes)
            categories.append(cats)
        code_cols = [f"__q{j}" for j in range(len(qis))]
        keyed = pl.DataFrame(dict(zip(code_cols, qi_codes, strict=True))).with_columns(
            classes.get_column(_COUNT)
        )
        # A stable class order (by codes) makes results reproducible across engines.
        keyed = keyed.sort(code_cols).with_row_index("__class")
        code_matrix = (
            keyed.select(code_cols).to_numpy().astype(np.int32).reshape(len(keyed), len(qis))
        )

        histograms: dict[str, SensitiveHistogram] = {}
        lookups = dict(zip(qis, categories, strict=True))
        for s, table in zip(sensitive, detail, strict=True):
            histograms[s] = self._histogram(s, table, qis, lookups, keyed, code_cols)

        return Summary(
            quasi_identifiers=tuple(qis),
            codes=code_matrix,
            categories=tuple(categories),
            counts=keyed.get_column(_COUNT).to_numpy().astype(np.int64),
            sensitive=histograms,
        )

    @staticmethod
    def _histogram(
        name: str,
        table: pl.DataFrame,
        qis: list[str],
        lookups: dict[str, pl.Series],
        keyed: pl.DataFrame,
        code_cols: list[str],
    ) -> SensitiveHistogram:
        columns: dict[str, pl.Series] = {}
        for j, q in enumerate(qis):
            cats = lookups[q]
            non_null = cats.drop_nulls()
            codes = (
                table.get_column(q).cast(pl.String).cast(pl.Enum(non_null.to_list())).to_physical()
            )
            columns[code_cols[j]] = codes.cast(pl.Int64).fill_null(len(non_null))
        s_codes, s_values = _encode(table, name)
        detail = pl.DataFrame(columns).with_columns(
            s_codes.alias("__value"), table.get_column(_COUNT)
        )
        joined = detail.join(keyed.select(["__class", *code_cols]), on=code_cols, how="left")
        joined = joined.sort(["__class", "__value"])
        return SensitiveHistogram(
            name=name,
            values=s_values,
            class_index=joined.get_column("__class").to_numpy().astype(np.int64),
            value_code=joined.get_column("__value").to_numpy().astype(np.int64),
            count=joined.get_column(_COUNT).to_numpy().astype(np.int64),
        )
