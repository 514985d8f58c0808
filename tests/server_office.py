"""The office the server tests share: the demo's workspace (a synthetic register, its
actors with their own keys, releases, DP budgets), each actor with a web login."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from custodes.demo import run_demo
from custodes.server import create_app, set_password
from custodes.settings import Settings, load_settings
from custodes.workspace import Workspace

PASSWORD = "a long web password 1"
ACTORS = ("admin", "steward", "researcher", "counsel", "privacy-officer", "pricing-office")
ACTORS += ("auditor",)
SECOND_REQUESTER = "rachel"


@dataclass(frozen=True)
class Office:
    """The demo's workspace, its settings and the register the demo made."""

    settings: Settings
    register: Path

    def app(self, **options: object) -> FastAPI:
        """A new server over the office (its own sessions and login limits)."""
        return create_app(self.settings, **options)  # type: ignore[arg-type]

    def raw_values(self, columns: tuple[str, ...], limit: int = 200) -> set[str]:
        """Values of ``columns`` in the register (what no page or answer may show)."""
        found: set[str] = set()
        with self.register.open(encoding="gb18030", newline="") as source:
            for i, row in enumerate(csv.DictReader(source)):
                if i >= limit:
                    break
                found.update(row[c] for c in columns if len(row[c]) >= 6)
        return found


def make_office(folder: Path, rows: int = 3000) -> Office:
    """Run the demo into ``folder`` and give every actor (and a second requester) a login."""
    os.environ.setdefault("XDG_CONFIG_HOME", str(folder / "config"))
    settings = load_settings(folder / "ws")
    with Workspace(settings) as ws:
        made = run_demo(ws, rows=rows)
        ws.governance("admin").add_actor(
            SECOND_REQUESTER, ["requester"], organisation="Another firm", credential="ID-77"
        )
        for actor in (*ACTORS, SECOND_REQUESTER):
            set_password(ws.store, actor, ws.actor_key(actor), PASSWORD)
        # the researcher's DP budget raised by the board, for queries beyond the demo's
        steward = ws.queries("steward")
        change = steward.propose_budget_change(
            "population-register", "10", recipient="researcher", reason="the tests' queries"
        )
        for reviewer in ("counsel", "privacy-officer"):
            ws.queries(reviewer).decide_budget_change(change, True, "for the tests")
    return Office(settings, made.data_path)
