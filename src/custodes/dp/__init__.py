"""Differential-privacy query access with per-recipient and global budgets.

- :func:`parse_query`: the SQL dialect (sqlglot), compiled to an engine-neutral condition.
- :class:`Budget`: an exact privacy loss (rho-zCDP as a fraction) and its arithmetic.
- :func:`plan_query`: a query's :class:`Plan`, from the DP settings alone: the
  rho it is charged, each aggregate's mechanism, noise scales and interval
  half-width (what an estimate shows and an answer is computed through).
- :class:`PrivateQueries`: configure a dataset, set budgets, estimate and answer
  queries (noise from OpenDP; exact aggregates from the engine; budgets in rho-zCDP,
  paid atomically with the answer's hash on the ledger; raised only through
  the review board's approval of a budget change). It works through an
  :class:`Access` (governance's checks and ledger) and a
  :class:`BudgetAccount`; ``Workspace.queries(actor)`` builds one.
"""

from custodes._cache import LRU
from custodes.dp._access import Access, Catalogued, Member
from custodes.dp._account import GLOBAL, BudgetAccount, Payment, Quote
from custodes.dp._answer import BOUNDED_TABLES, Bounded, answer_query, bounded
from custodes.dp._budget import Budget, parse_rho, query_spend
from custodes.dp._mechanisms import epsilon_of, rho_of_epsilon
from custodes.dp._plan import Plan, Planned, plan_query
from custodes.dp._query import Aggregate, Query, parse_query
from custodes.dp._service import PrivateQueries

__all__ = [
    "BOUNDED_TABLES",
    "GLOBAL",
    "LRU",
    "Access",
    "Aggregate",
    "Bounded",
    "Budget",
    "BudgetAccount",
    "Catalogued",
    "Member",
    "Payment",
    "Plan",
    "Planned",
    "PrivateQueries",
    "Query",
    "Quote",
    "answer_query",
    "bounded",
    "epsilon_of",
    "parse_query",
    "parse_rho",
    "plan_query",
    "query_spend",
    "rho_of_epsilon",
]
