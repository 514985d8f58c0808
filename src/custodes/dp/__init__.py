"""Differential-privacy query access with per-recipient and global budgets.

- :func:`parse_query`: the SQL dialect (sqlglot).
- :class:`PrivateQueries`: configure a dataset, set budgets, answer queries
  (noise from OpenDP; budgets in rho-zCDP, paid atomically with the answer's hash on the
  ledger; raised only through the review board's approval of a budget change).
"""

from custodes.dp._budgets import GLOBAL, parse_rho, query_spend
from custodes.dp._mechanisms import epsilon_of, rho_of_epsilon
from custodes.dp._query import Aggregate, Query, parse_query
from custodes.dp._service import PrivateQueries, answer_query

__all__ = [
    "GLOBAL",
    "Aggregate",
    "PrivateQueries",
    "Query",
    "answer_query",
    "epsilon_of",
    "parse_query",
    "parse_rho",
    "query_spend",
    "rho_of_epsilon",
]
