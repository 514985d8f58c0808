"""Opening the ledger of a workspace whose store is set up."""

from __future__ import annotations

from custodes.ledger._keys import load_private_key
from custodes.ledger._ledger import Ledger, Screen
from custodes.settings import Settings
from custodes.store import Store

__all__ = ["open_ledger"]


def open_ledger(
    settings: Settings, *, signing: bool = True, screen: Screen | None = None
) -> Ledger:
    """The workspace's ledger (its store checked to be set up and current).

    ``screen`` judges the strings of every entry for personal data (the
    workspace passes :func:`custodes.detect.personal_data_in`).
    """
    store = Store(settings.database_url())
    store.check()
    key = load_private_key(settings.signing_key_path()) if signing else None
    return Ledger(store, key, head_every=settings.ledger_head_every, screen=screen)
