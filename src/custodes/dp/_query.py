"""The query dialect: a small SQL parsed with sqlglot.

``SELECT g1, g2, COUNT(*), SUM(x), AVG(x), MEDIAN(x), QUANTILE(x, 0.9) FROM
dataset [WHERE ...] [GROUP BY g1, g2]``. WHERE takes comparisons (``=``,
``<>``, ``<``, ``<=``, ``>``, ``>=``), ``IN (...)``, ``BETWEEN``, ``IS [NOT]
NULL``, ``AND``, ``OR``, ``NOT`` and parentheses over columns and literals.
A histogram is a ``COUNT(*)`` grouped by a column. Anything else (joins,
subqueries, HAVING, ORDER BY, LIMIT, DISTINCT, other functions) is refused
with a message naming the construct.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from custodes.errors import InvalidInputError

__all__ = ["Aggregate", "Query", "parse_query"]


@dataclass(frozen=True)
class Aggregate:
    """One aggregate of the SELECT list."""

    kind: str
    """``count``, ``sum``, ``avg`` or ``quantile`` (MEDIAN is the 0.5 quantile)."""
    column: str | None
    """None for COUNT(*)."""
    quantile: float | None = None

    @property
    def label(self) -> str:
        """How the answer names it, e.g. ``sum(income)``."""
        if self.kind == "count":
            return "count" if self.column is None else f"count({self.column})"
        if self.kind == "quantile":
            return f"quantile({self.column}, {self.quantile:g})"
        return f"{self.kind}({self.column})"


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    dataset: str
    groups: tuple[str, ...]
    aggregates: tuple[Aggregate, ...]
    where: pl.Expr | None
    columns: frozenset[str]
    """Every column the query reads."""
    text: str


def _refuse(what: str) -> InvalidInputError:
    return InvalidInputError(
        f"the query uses {what}, which the DP dialect does not allow; use SELECT groups and "
        "COUNT/SUM/AVG/MEDIAN/QUANTILE FROM the dataset, with WHERE and GROUP BY."
    )


def _column(node: exp.Expression, columns: set[str]) -> str:
    if not isinstance(node, exp.Column) or node.table:
        raise _refuse(f"'{node.sql()}' where a column name belongs")
    columns.add(node.name)
    return node.name


def _literal(node: exp.Expression) -> Any:
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -_literal(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(node, exp.Boolean):
        return node.this
    raise _refuse(f"'{node.sql()}' where a literal value belongs")


_COMPARE: dict[type[exp.Expression], Callable[[pl.Expr, Any], pl.Expr]] = {
    exp.EQ: lambda c, v: c == v,
    exp.NEQ: lambda c, v: c != v,
    exp.LT: lambda c, v: c < v,
    exp.LTE: lambda c, v: c <= v,
    exp.GT: lambda c, v: c > v,
    exp.GTE: lambda c, v: c >= v,
}


def _condition(node: exp.Expression, columns: set[str]) -> pl.Expr:
    if isinstance(node, exp.Paren):
        return _condition(node.this, columns)
    if isinstance(node, exp.And):
        return _condition(node.this, columns) & _condition(node.expression, columns)
    if isinstance(node, exp.Or):
        return _condition(node.this, columns) | _condition(node.expression, columns)
    if isinstance(node, exp.Not):
        return ~_condition(node.this, columns)
    for kind, make in _COMPARE.items():
        if isinstance(node, kind):
            column = _column(node.this, columns)
            compared: pl.Expr = make(_typed(column, node.expression), _literal(node.expression))
            return compared
    if isinstance(node, exp.In):
        if node.args.get("query") is not None:
            raise _refuse("a subquery")
        column = _column(node.this, columns)
        values = [_literal(v) for v in node.expressions]
        return _typed(column, node.expressions[0]).is_in(values)
    if isinstance(node, exp.Between):
        column = _column(node.this, columns)
        low, high = _literal(node.args["low"]), _literal(node.args["high"])
        return _typed(column, node.args["low"]).is_between(low, high)
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return pl.col(_column(node.this, columns)).is_null()
    raise _refuse(f"the condition '{node.sql()}'")


def _typed(column: str, literal: exp.Expression) -> pl.Expr:
    """The column as text, or as a number when compared with a number."""
    value = literal.this if isinstance(literal, exp.Neg) else literal
    if isinstance(value, exp.Literal) and not value.is_string:
        return pl.col(column).cast(pl.Float64, strict=False)
    return pl.col(column).cast(pl.String)


def _aggregate(node: exp.Expression, columns: set[str]) -> Aggregate:
    if isinstance(node, exp.Alias):
        node = node.this
    if isinstance(node, exp.Count):
        if node.args.get("distinct") or isinstance(node.this, exp.Distinct):
            raise _refuse("COUNT(DISTINCT ...)")
        if isinstance(node.this, exp.Star):
            return Aggregate("count", None)
        return Aggregate("count", _column(node.this, columns))
    if isinstance(node, exp.Sum):
        return Aggregate("sum", _column(node.this, columns))
    if isinstance(node, exp.Avg):
        return Aggregate("avg", _column(node.this, columns))
    if isinstance(node, exp.Median):
        return Aggregate("quantile", _column(node.this, columns), 0.5)
    if isinstance(node, exp.Quantile):
        q = _literal(node.args["quantile"])
        if not isinstance(q, int | float) or not 0 <= q <= 1:
            raise InvalidInputError("QUANTILE(column, q) needs q between 0 and 1, e.g. 0.9.")
        return Aggregate("quantile", _column(node.this, columns), float(q))
    if isinstance(node, exp.Func):
        raise _refuse(f"the function {node.sql_name()}")
    raise _refuse(f"'{node.sql()}' in the SELECT list")


def parse_query(text: str) -> Query:
    """Parse a query of the dialect; raise naming the construct it does not allow."""
    try:
        statements = sqlglot.parse(text)
    except ParseError as exc:
        raise InvalidInputError(f"the query is not valid SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1 or statements[0] is None:
        raise InvalidInputError("give exactly one SELECT statement.")
    tree = statements[0]
    if not isinstance(tree, exp.Select):
        raise _refuse(f"a {type(tree).__name__.upper()} statement")
    for key, what in (
        ("joins", "a JOIN"),
        ("having", "HAVING"),
        ("order", "ORDER BY"),
        ("limit", "LIMIT"),
        ("offset", "OFFSET"),
        ("distinct", "SELECT DISTINCT"),
        ("with_", "WITH"),
        ("windows", "a WINDOW"),
    ):
        if tree.args.get(key):
            raise _refuse(what)
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None or not isinstance(source.this, exp.Table):
        raise _refuse("a FROM that is not a dataset name")
    if any(isinstance(n, exp.Subquery | exp.Select) and n is not tree for n in tree.walk()):
        raise _refuse("a subquery")
    columns: set[str] = set()
    groups = []
    group = tree.args.get("group")
    if group is not None:
        groups = [_column(g, columns) for g in group.expressions]
    aggregates = []
    for item in tree.expressions:
        inner = item.this if isinstance(item, exp.Alias) else item
        if isinstance(inner, exp.Column):
            if inner.name not in groups:
                raise InvalidInputError(
                    f"column {inner.name!r} is selected but not grouped by; add it to GROUP BY "
                    "or aggregate it."
                )
            continue
        aggregates.append(_aggregate(item, columns))
    if not aggregates:
        raise InvalidInputError("the query aggregates nothing: add COUNT(*), SUM(...), ...")
    where = tree.args.get("where")
    condition = _condition(where.this, columns) if where is not None else None
    return Query(
        dataset=source.this.name,
        groups=tuple(groups),
        aggregates=tuple(aggregates),
        where=condition,
        columns=frozenset(columns),
        text=text.strip(),
    )
