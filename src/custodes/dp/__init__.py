"""Differential-privacy query access with per-recipient and global budgets.

- :func:`parse_query`: the SQL dialect (sqlglot).
- :class:`PrivateQueries`: configure a dataset, set budgets, answer queries
  (noise from OpenDP; budgets in rho-zCDP, reserved atomically, on the ledger).
"""

from custodes.dp._mechanisms import epsilon_of, rho_of_epsilon
from custodes.dp._query import Aggregate, Query, parse_query
from custodes.dp._service import GLOBAL, PrivateQueries, answer_query, parse_rho

__all__ = [
    "GLOBAL",
    "Aggregate",
    "PrivateQueries",
    "Query",
    "answer_query",
    "epsilon_of",
    "parse_query",
    "parse_rho",
    "rho_of_epsilon",
]
