"""Governance: the catalog, release requests, the review board, fees, as one composition.

:class:`Governance` acts as one actor over a :class:`~custodes.governance._ports.Preparer`
(the workspace, structurally). Its parts are one concept each: actors
(:mod:`._actors`), the catalog (:mod:`._catalog`), the workflow of requests
(:mod:`._requests`, through the transition table of :mod:`._workflow`), their
preparation and release (:mod:`._preparation`, checked by the gates of
:mod:`._gates`) and fees (:mod:`._fees`).
"""

from __future__ import annotations

from custodes.governance._actors import Actors
from custodes.governance._base import FULL_VIEW
from custodes.governance._catalog import Catalog
from custodes.governance._fees import UNITS, Fees
from custodes.governance._preparation import FILE_MODELS, Preparation, recipient_manifest
from custodes.governance._requests import Requests
from custodes.governance._values import RequestView
from custodes.governance._workflow import STATES

__all__ = [
    "FILE_MODELS",
    "FULL_VIEW",
    "STATES",
    "UNITS",
    "Governance",
    "RequestView",
    "recipient_manifest",
]


class Governance(Actors, Requests, Catalog, Preparation, Fees):
    """The governance of one workspace, acting as one actor."""
