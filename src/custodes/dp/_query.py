"""The query dialect: a small SQL parsed with sqlglot.

``SELECT g1, g2, COUNT(*), SUM(x), AVG(x), MEDIAN(x), QUANTILE(x, 0.9) FROM
dataset [WHERE ...] [GROUP BY g1, g2]``. WHERE takes comparisons (``=``,
``<>``, ``<``, ``<=``, ``>``, ``>=``), ``IN (...)``, ``BETWEEN``, ``IS [NOT]
NULL``, ``AND``, ``OR``, ``NOT`` and parentheses over columns and literals.
A histogram is a ``COUNT(*)`` grouped by a column. Anything else (joins,
subqueries, HAVING, ORDER BY, LIMIT, DISTINCT, other functions) is refused
with a message naming the construct.

Limits keep hostile queries from exhausting the process: at most
``MAX_QUERY_CHARS`` characters, parentheses nested at most ``MAX_NESTING``
deep, at most ``MAX_CONDITIONS`` comparisons and boolean operators in WHERE,
at most ``MAX_IN_VALUES`` values in one ``IN (...)`` list, and at most
``MAX_SELECTED`` items in the SELECT list. Each is named
in the message of the query that passes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from custodes.engines._dp import (
    And,
    Between,
    Compare,
    Condition,
    InSet,
    IsNull,
    Not,
    Or,
)
from custodes.errors import InvalidInputError

__all__ = ["MAX_CONDITIONS", "MAX_IN_VALUES", "MAX_NESTING", "MAX_QUERY_CHARS", "MAX_SELECTED",
           "Aggregate", "Query", "parse_query"]  # fmt: skip

MAX_QUERY_CHARS = 20_000
"""The longest query text accepted, in characters."""
MAX_NESTING = 32
"""The deepest nesting of parentheses accepted."""
MAX_CONDITIONS = 256
"""The most comparisons, IN, BETWEEN, IS NULL, AND, OR and NOT in one WHERE clause."""
MAX_IN_VALUES = 1_000
"""The most values of one IN (...) list."""
MAX_SELECTED = 64
"""The most groups and aggregates in the SELECT list (each aggregate is a release)."""
_CONDITION_NODES = (exp.Connector, exp.Not, exp.Binary, exp.In, exp.Between, exp.Is)


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
    where: Condition | None
    """The WHERE clause, engine-neutral (None: every row)."""
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
        value = _literal(node.this)
        if isinstance(value, str):
            raise _refuse(f"'{node.sql()}' where a literal value belongs")
        return -value
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        try:
            return float(node.this)
        except ValueError:
            raise _refuse(f"'{node.sql()}' where a literal value belongs") from None
    if isinstance(node, exp.Boolean):
        return node.this
    raise _refuse(f"'{node.sql()}' where a literal value belongs")


def _numeric(value: Any) -> bool:
    return isinstance(value, float)


def _operand(value: Any) -> float | str:
    """A literal as compared: a number stays a number, anything else is compared as text."""
    return value if _numeric(value) else _text(value)


_COMPARE: dict[type[exp.Expression], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
}


def _condition(node: exp.Expression, columns: set[str]) -> Condition:
    """The engine-neutral condition of a WHERE clause's node (a column read is noted)."""
    if isinstance(node, exp.Paren):
        return _condition(node.this, columns)
    if isinstance(node, exp.And):
        return And(_condition(node.this, columns), _condition(node.expression, columns))
    if isinstance(node, exp.Or):
        return Or(_condition(node.this, columns), _condition(node.expression, columns))
    if isinstance(node, exp.Not):
        return Not(_condition(node.this, columns))
    for kind, op in _COMPARE.items():
        if isinstance(node, kind):
            column = _column(node.this, columns)
            return Compare(column, op, _operand(_literal(node.expression)))
    if isinstance(node, exp.In):
        if node.args.get("query") is not None:
            raise _refuse("a subquery")
        column = _column(node.this, columns)
        if len(node.expressions) > MAX_IN_VALUES:
            raise _limit(
                f"an IN list of {len(node.expressions)} values", f"at most {MAX_IN_VALUES} values"
            )
        values = [_literal(v) for v in node.expressions]
        if values and all(_numeric(v) for v in values):
            return InSet(column, tuple(float(v) for v in values), numeric=True)
        return InSet(column, tuple(_text(v) for v in values), numeric=False)
    if isinstance(node, exp.Between):
        column = _column(node.this, columns)
        low, high = _literal(node.args["low"]), _literal(node.args["high"])
        if _numeric(low) != _numeric(high):
            raise _refuse("BETWEEN a number and a text")
        return Between(column, _operand(low), _operand(high))
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return IsNull(_column(node.this, columns))
    raise _refuse(f"the condition '{node.sql()}'")


def _text(value: Any) -> str:
    """A literal compared with a text column, as the text it would be written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
        if not _numeric(q) or not 0 <= q <= 1:
            raise InvalidInputError("QUANTILE(column, q) needs q between 0 and 1, e.g. 0.9.")
        return Aggregate("quantile", _column(node.this, columns), float(q))
    if isinstance(node, exp.Func):
        raise _refuse(f"the function {node.sql_name()}")
    raise _refuse(f"'{node.sql()}' in the SELECT list")


def _limit(what: str, allowed: str) -> InvalidInputError:
    return InvalidInputError(
        f"the query has {what}; the DP dialect takes {allowed} (a limit that keeps hostile "
        "queries from exhausting the service): split it into simpler queries."
    )


def _nesting(text: str) -> int:
    """How deep parentheses nest outside string literals and quoted names."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def parse_query(text: str) -> Query:
    """Parse a query of the dialect; raise naming the construct it does not allow."""
    if len(text) > MAX_QUERY_CHARS:
        raise _limit(f"{len(text)} characters", f"at most {MAX_QUERY_CHARS} characters")
    depth = _nesting(text)
    if depth > MAX_NESTING:
        raise _limit(
            f"parentheses nested {depth} deep", f"a nesting depth of at most {MAX_NESTING}"
        )
    try:
        statements = sqlglot.parse(text)
    except ParseError as exc:
        raise InvalidInputError(f"the query is not valid SQL: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise _limit(
            "operators nested too deeply for the parser (e.g. a long chain of NOT)",
            f"a nesting depth of at most {MAX_NESTING}",
        ) from None
    except (SqlglotError, ValueError, TypeError, IndexError, KeyError, AttributeError):
        raise InvalidInputError(
            "the query is not valid SQL (the parser could not read it); write "
            "SELECT ... FROM dataset [WHERE ...] [GROUP BY ...]."
        ) from None
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
    if len(tree.expressions) > MAX_SELECTED:
        raise _limit(
            f"{len(tree.expressions)} items in SELECT",
            f"at most {MAX_SELECTED} groups and aggregates",
        )
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
    condition = None
    if where is not None:
        size = sum(1 for node in where.this.walk() if isinstance(node, _CONDITION_NODES))
        if size > MAX_CONDITIONS:
            raise _limit(
                f"{size} conditions in WHERE", f"at most {MAX_CONDITIONS} conditions and operators"
            )
        condition = _condition(where.this, columns)
    return Query(
        dataset=source.this.name,
        groups=tuple(groups),
        aggregates=tuple(aggregates),
        where=condition,
        columns=frozenset(columns),
        text=text.strip(),
    )
