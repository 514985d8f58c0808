"""Personal keys: only an actor's own private key acts as that actor, on SQLite and
PostgreSQL; a forged approval is refused by the library and the command line, and one
written behind custodes' back (with the workspace key) fails the offline verification."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes import Workspace
from custodes.cli import main
from custodes.errors import DataFileError, ForbiddenError, SettingError, TamperedError
from custodes.governance import key_hex
from custodes.ledger import load_actor_key, load_private_key, open_ledger, write_actor_key
from custodes.settings import Settings
from custodes.store import Store
from tests.test_governance import _registered, _through_review, act
from tests.test_governance import office as office
from tests.test_ledger import store_url  # noqa: F401 (the SQLite / PostgreSQL fixture)

Office = tuple[Settings, Path]


def _key_of(settings: Settings, who: str) -> Ed25519PrivateKey:
    return Workspace(settings).actor_key(who)


def _export(settings: Settings, folder: Path) -> Path:
    export = folder / "ledger.jsonl"
    open_ledger(settings).export(export)
    return export


def _verify(settings: Settings, export: Path) -> None:
    Workspace.verify_ledger(export, settings.signing_key_path().with_suffix(".pub"))


def test_every_step_is_signed_by_its_actor_and_verifies(office: Office) -> None:
    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    for reviewer in ("lee", "pat"):
        act(settings, reviewer).decide(request, True, "proportionate")
    export = _export(settings, folder)
    lines = export.read_text(encoding="utf-8").splitlines()[1:]
    signed = [json.loads(line) for line in lines if line.startswith('{"actor_signature"')]
    kinds = {e["entry"]["type"] for e in signed}
    assert {"actor.added", "request.decided", "request.approved", "dataset.registered"} <= kinds
    _verify(settings, export)


def test_a_steward_cannot_approve_as_a_reviewer(
    office: Office,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The steward has the workspace folder, the database and the workspace key, not lee's
    private key: the library, the command line and direct SQL all fail."""
    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    stella = _key_of(settings, "stella")
    # The library: acting as lee with the steward's key, or with no key of lee's at all.
    with pytest.raises(ForbiddenError, match=r"not 'lee'.s registered key"):
        Workspace(settings).governance("lee", key=stella).decide(request, True, "looks fine")
    lee_file = Workspace(settings).actor_key_path("lee")
    hidden = lee_file.with_suffix(".away")
    lee_file.rename(hidden)
    with pytest.raises(ForbiddenError, match="does not exist"):
        act(settings, "lee").decide(request, True, "looks fine")
    # The command line: --as names the actor, only the key proves it (exit 4).
    stella_file = Workspace(settings).actor_key_path("stella")
    os.environ["CUSTODES_STORE_URL"] = settings.store_url
    try:
        code = main(
            ["request", "review", request, "--approve", "--rationale", "ok", "--as", "lee",
             "--key", str(stella_file), "--workspace", str(settings.workspace)]
        )  # fmt: skip
    finally:
        os.environ.pop("CUSTODES_STORE_URL")
    assert code == 4
    assert "not 'lee''s registered key" in capsys.readouterr().err
    hidden.rename(lee_file)
    # The store: lee's registered key swapped for the steward's is refused too.
    store = Store(settings.database_url())
    with store.transaction() as session:
        session.execute(
            sa.text("UPDATE actors SET public_key = :k WHERE name = 'lee'"), {"k": key_hex(stella)}
        )
    with pytest.raises(ForbiddenError, match="not the one the ledger registered"):
        Workspace(settings).governance("lee", key=stella).decide(request, True, "looks fine")
    # Direct SQL with the workspace key: an approval entry signed by the steward's key as lee.
    ledger = open_ledger(settings)
    with ledger.store.transaction() as session:
        forged = ledger.append(
            session, "request.decided", "lee", request,
            {"decision": "approve", "board_role": "legal"}, signer=stella,
        )  # fmt: skip
    with pytest.raises(TamperedError, match=f"entry {forged} is not signed by its actor"):
        _verify(settings, _export(settings, folder))


def test_an_entry_without_its_actors_signature_or_role_fails(office: Office) -> None:
    settings, folder = office
    _registered(settings, folder)
    ledger = open_ledger(settings)
    rita = _key_of(settings, "rita")
    with ledger.store.transaction() as session:
        unsigned = ledger.append(session, "fee_standard.approved", "priya", "F-1", {})
    with pytest.raises(TamperedError, match=f"entry {unsigned} .* carries no signature"):
        _verify(settings, _export(settings, folder))
    with ledger.store.transaction() as session:
        session.execute(sa.text("DELETE FROM ledger_entries WHERE idx = :i"), {"i": unsigned})
        session.execute(sa.text("DELETE FROM tree_heads WHERE size > :i"), {"i": unsigned})
        session.execute(sa.text("UPDATE ledger_state SET size = :i"), {"i": unsigned})
    ledger = open_ledger(settings)
    with ledger.store.transaction() as session:
        wrong = ledger.append(session, "fee_standard.approved", "rita", "F-1", {}, signer=rita)
    with pytest.raises(TamperedError, match=f"entry {wrong} .* did not hold the role"):
        _verify(settings, _export(settings, folder))


def test_revoked_keys_sign_nothing_and_rotation_brings_the_actor_back(
    office: Office,
) -> None:
    settings, folder = office
    old = _key_of(settings, "stella")
    act(settings, "root").revoke_key("stella")
    with pytest.raises(ForbiddenError, match="no registered key"):
        act(settings, "stella").add_department("civil", "Civil Affairs Bureau")
    written = act(settings, "root").register_key("stella")
    assert written is not None
    assert written.stat().st_mode & 0o777 == 0o600
    assert key_hex(_key_of(settings, "stella")) != key_hex(old)
    act(settings, "stella").add_department("civil", "Civil Affairs Bureau")
    with pytest.raises(ForbiddenError, match=r"not 'stella'.s registered key"):
        Workspace(settings).governance("stella", key=old).add_department("x", "X")
    # The old key, used on the ledger behind custodes' back after its revocation, fails.
    ledger = open_ledger(settings)
    with ledger.store.transaction() as session:
        late = ledger.append(session, "department.added", "stella", "y", {"name": "Y"}, signer=old)
    with pytest.raises(TamperedError, match=f"entry {late} is not signed"):
        _verify(settings, _export(settings, folder))


def test_an_admin_cannot_take_over_a_reviewers_live_key(
    office: Office, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An admin holds every role check but one: it may not replace the key an actor holds
    (only the actor rotates its own). Revoking first is possible, and shows on the ledger
    and in the audit report."""
    settings, folder = office
    _registered(settings, folder)
    lee = key_hex(_key_of(settings, "lee"))
    with pytest.raises(ForbiddenError, match="'lee' holds a key"):
        act(settings, "root").register_key("lee")
    monkeypatch.setenv("CUSTODES_STORE_URL", settings.store_url)
    argv = ["actor", "key", "lee", "--as", "root", "--workspace", str(settings.workspace)]
    assert main(argv) == 4
    assert "'lee' holds a key" in capsys.readouterr().err
    assert key_hex(_key_of(settings, "lee")) == lee
    act(settings, "lee").register_key("lee")  # the actor itself rotates
    # Written behind custodes' back with the admin's key, the take-over fails verification.
    ledger = open_ledger(settings)
    mine = Ed25519PrivateKey.generate()
    with ledger.store.transaction() as session:
        taken = ledger.append(
            session, "actor.key_registered", "root", "lee",
            {"public_key": key_hex(mine), "replaces": None}, signer=_key_of(settings, "root"),
        )  # fmt: skip
    with pytest.raises(
        TamperedError, match=f"entry {taken}: 'root' registered a key for 'lee', who held one"
    ):
        _verify(settings, _export(settings, folder))


def test_encrypted_keys_need_their_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "me.key"
    key = write_actor_key(path, "correct horse battery staple")
    assert path.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" not in path.read_bytes()
    assert key_hex(load_actor_key(path, "correct horse battery staple")) == key_hex(key)
    with pytest.raises(ForbiddenError, match="passphrase does not open"):
        load_actor_key(path, "wrong")
    with pytest.raises(ForbiddenError, match="CUSTODES_KEY_PASSPHRASE"):
        load_actor_key(path)
    with pytest.raises(SettingError, match="never overwritten"):
        write_actor_key(path)
    plain = write_actor_key(tmp_path / "plain.key")
    assert key_hex(load_actor_key(tmp_path / "plain.key")) == key_hex(plain)
    assert key_hex(load_private_key(tmp_path / "plain.key")) == key_hex(plain)


def test_the_command_line_acts_with_a_given_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTODES_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("CUSTODES_KEYRING", str(tmp_path / "ring"))
    assert main(["init"]) == 0
    own = tmp_path / "admin.key"
    write_actor_key(own)
    add = ["actor", "add", "--roles", "admin", "--organisation", "O", "--credential", "c"]
    assert main([*add[:2], "ada", *add[2:], "--key", str(own)]) == 0
    add = ["actor", "add", "sam", "--roles", "steward", "--organisation", "O", "--credential"]
    assert main([*add, "c2", "--as", "ada", "--key", str(own)]) == 0
    assert "private key written to" in capsys.readouterr().out
    assert main(["actor", "list", "--as", "sam"]) == 0
    capsys.readouterr()
    assert main(["actor", "list", "--as", "ada"]) == 4  # ada's key is only in --key's file
    assert "does not exist" in capsys.readouterr().err
    assert main(["actor", "list", "--as", "ada", "--key", str(own)]) == 0


def _signed_rows(settings: Settings) -> list[tuple[int, str, bytes, bytes]]:
    """(index, actor, leaf hash, actor signature) of every entry an actor signed."""
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT idx, entry, leaf_hash, actor_signature FROM ledger_entries "
                "WHERE actor_signature IS NOT NULL ORDER BY idx"
            )
        ).all()
    engine.dispose()
    return [(i, json.loads(e)["actor"], bytes(leaf), bytes(s)) for i, e, leaf, s in rows]


def test_one_signature_per_actor_key_is_checked_unless_one_fails(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each actor signs its chain (every entry and signature it made before): the verifier
    checks the last signature of each actor's key, and only when one fails every one, to
    name the first bad entry: here a middle entry of stella's, its signature swapped."""
    from custodes.governance import _authority

    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    act(settings, "lee").decide(request, True, "proportionate")
    act(settings, "root").revoke_key("pat")
    act(settings, "root").register_key("pat")
    act(settings, "pat").decide(request, True, "risk is low")
    checked: list[int] = []
    real = _authority._check

    def counting(batch: list[Any], strict: bool) -> int | None:
        checked.extend(b[0] for b in batch)
        return real(batch, strict)

    monkeypatch.setattr(_authority, "_check", counting)
    export = _export(settings, folder)
    _verify(settings, export)
    rows = _signed_rows(settings)
    actors = {actor for _, actor, _, _ in rows}
    assert len(checked) == len(actors) + 1  # pat signed with two keys
    assert len(rows) > 2 * len(checked)
    # A middle entry of stella's gets another of her signatures: the second pass names it.
    stella = [(i, s) for i, a, _, s in rows if a == "stella"]
    (middle, _), (_, other) = stella[1], stella[2]
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE ledger_entries SET actor_signature = :s WHERE idx = :i"),
            {"s": other, "i": middle},
        )
    engine.dispose()
    Store.dispose_all()
    checked.clear()
    with pytest.raises(TamperedError, match=f"^entry {middle} is not signed by its actor"):
        _verify(settings, _export(settings, folder))
    assert len(checked) > len(rows)  # the first pass, then every signature


def test_a_ledger_signed_entry_by_entry_migrates_verifies_and_chains_on(office: Office) -> None:
    """A 0008 ledger (each actor signature over its leaf alone, no chains) is upgraded:
    the chains are computed from it, it verifies, and actors chain on from there."""
    from importlib import resources

    from alembic import command
    from alembic.config import Config

    from custodes.ledger import legacy_actor_message

    settings, folder = office
    _registered(settings, folder)
    keys = {a: _key_of(settings, a) for a in ("root", "stella", "rita", "lee", "pat")}
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as connection:
        for index, actor, leaf, _ in _signed_rows(settings):
            signature = keys[actor].sign(legacy_actor_message(leaf))
            connection.execute(
                sa.text("UPDATE ledger_entries SET actor_signature = :s WHERE idx = :i"),
                {"s": signature, "i": index},
            )
        connection.execute(sa.text("DROP INDEX ix_ledger_entries_actor"))
        connection.execute(sa.text("ALTER TABLE ledger_entries DROP COLUMN actor_chain"))
        connection.execute(sa.text("ALTER TABLE ledger_entries DROP COLUMN actor"))
        connection.execute(sa.text("ALTER TABLE releases DROP COLUMN view_sha256"))  # 0010
        connection.execute(sa.text("DROP TABLE web_tokens"))  # 0011
        connection.execute(sa.text("DROP TABLE web_accounts"))
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0008'"))
    engine.dispose()
    Store.dispose_all()
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("custodes.store").joinpath("migrations"))
    )
    store = Store(settings.store_url)
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    store.dispose()
    Store.dispose_all()
    _verify(settings, _export(settings, folder))  # entry by entry: the leaf alone
    request = _through_review(settings, folder)  # stella and rita chain on
    act(settings, "lee").decide(request, True, "proportionate")
    _verify(settings, _export(settings, folder))
    # A legacy signature moved onto another entry of the same actor still fails.
    rows = [r for r in _signed_rows(settings) if r[1] == "stella"]
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE ledger_entries SET actor_signature = :s WHERE idx = :i"),
            {"s": rows[0][3], "i": rows[1][0]},
        )
    engine.dispose()
    Store.dispose_all()
    with pytest.raises(TamperedError, match=f"^entry {rows[1][0]} is not signed"):
        _verify(settings, _export(settings, folder))


def test_a_decision_with_a_key_an_admin_reissued_is_an_anomaly(office: Office) -> None:
    """An admin may revoke a reviewer's key and register a new one (a lost key): it may then
    hold it. A decision signed with such a key is named in the audit report, in the
    workspace and from the export alone, until the reviewer rotates the key itself."""
    from custodes.governance import audit_report, audit_report_from_export

    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    act(settings, "root").revoke_key("lee")
    act(settings, "root").register_key("lee")
    act(settings, "lee").decide(request, True, "proportionate")
    entry = open_ledger(settings).size() - 1
    year = date.today().year
    expected = (
        f"the decision of lee on {request} (ledger entry {entry}) was signed with a key root "
        f"registered for lee (entry {entry - 1}) after lee's own was revoked, or one rotated "
        "from it: confirm it with lee"
    )
    report = audit_report(act(settings, "audrey"), year)
    assert expected in report["anomalies"]
    keys = {a["actor"]: a for a in report["actor_keys"]}
    assert keys["lee"]["registered_by"] == "root"
    assert keys["lee"]["ledger_entry"] == entry - 1
    assert keys["lee"]["made_by_registrar"]  # custodes made the pair where root acted
    assert keys["root"]["registered_by"] == "root"
    assert not keys["root"]["made_by_registrar"]  # its own
    public = settings.signing_key_path().with_suffix(".pub")
    alone = audit_report_from_export(_export(settings, folder), public, year)["anomalies"]
    assert expected in alone
    # Whoever holds the re-issued key can rotate it "as lee": that launders nothing.
    act(settings, "lee").register_key("lee")
    second = _through_review(settings, folder)
    act(settings, "lee").decide(second, True, "proportionate")
    named = [a for a in audit_report(act(settings, "audrey"), year)["anomalies"] if "lee" in a]
    assert named[0] == expected
    assert named[1].startswith(f"the decision of lee on {second}")


def _drop_from(settings: Settings, index: int) -> None:
    """Remove entries from ``index`` on (and the heads over them): undo a forgery."""
    ledger = open_ledger(settings)
    with ledger.store.transaction() as session:
        session.execute(sa.text("DELETE FROM ledger_entries WHERE idx >= :i"), {"i": index})
        session.execute(sa.text("DELETE FROM tree_heads WHERE size > :i"), {"i": index})
        session.execute(sa.text("UPDATE ledger_state SET size = :i"), {"i": index})
    Store.dispose_all()


def test_forged_key_events_and_steps_fail_the_chain_of_authority(
    office: Office, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An insider with the workspace key and their own key writes entries behind custodes'
    back: each fails the offline check, naming the entry (the workspace's `ledger verify`
    and the audit report too)."""
    settings, folder = office
    _registered(settings, folder)
    stella, lee, root = (_key_of(settings, a) for a in ("stella", "lee", "root"))
    mine = Ed25519PrivateKey.generate()
    forgeries = [
        # a steward revokes a reviewer's key and registers its own for it
        (
            [("actor.key_revoked", "stella", "lee", {"public_key": key_hex(lee)}, stella)],
            r"\(actor.key_revoked\) was made by 'stella', who did not hold the role it needs "
            r"\(admin\)",
        ),
        # an admin adds an actor that exists, with a new key
        (
            [
                (
                    "actor.added",
                    "root",
                    "lee",
                    {"roles": ["reviewer"], "board_role": "legal", "public_key": key_hex(mine)},
                    root,
                )
            ],
            "adds 'lee', who was added before",
        ),
        # a reviewer decides in a board role that is not its own
        (
            [
                (
                    "request.decided",
                    "lee",
                    "r-1",
                    {"decision": "approve", "board_role": "leadership"},
                    lee,
                )
            ],
            "'lee' decided as board role 'leadership', not its registered 'legal'",
        ),
        # a budget raised with no proposal nor decisions
        (
            [
                (
                    "dp.budget_change.approved",
                    "lee",
                    "budget-1",
                    {
                        "dataset": "register",
                        "recipient": "rita",
                        "rho": [10, 1],
                        "approvals": ["lee"],
                    },
                    lee,
                )
            ],
            "approves budget change budget-1, never proposed",
        ),
        # a step custodes never records
        (
            [("dp.budget_raised", "stella", "register", {"rho": [10, 1]}, stella)],
            r"\(dp.budget_raised\) is no step custodes records",
        ),
    ]
    monkeypatch.setenv("CUSTODES_STORE_URL", settings.store_url)
    for entries, message in forgeries:
        ledger = open_ledger(settings)
        start = ledger.size()
        with ledger.store.transaction() as session:
            for kind, actor, subject, payload, key in entries:
                ledger.append(session, kind, actor, subject, payload, signer=key)
        with pytest.raises(TamperedError, match=f"^entry {start}.*{message}"):
            _verify(settings, _export(settings, folder))
        problems = Workspace(settings).check_ledger()
        assert len(problems) == 1
        assert re.search(message, problems[0])
        assert main(["ledger", "verify", "--workspace", str(settings.workspace)]) == 3
        assert re.search(message, " ".join(capsys.readouterr().err.split()))
        _drop_from(settings, start)
    _verify(settings, _export(settings, folder))


def test_hostile_names_and_key_files_are_bad_input(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _ = office
    for name in ("13812345678", "110101199003074514", "a@b.com", "", " ", "nul\x01ctl",
                 "x" * 5000, "\uff23\uff2f\uff35\uff2e\uff33\uff25\uff2c", " counsel"):  # fmt: skip
        with pytest.raises(SettingError, match=r"actor name|personal data"):
            act(settings, "root").add_actor(name, ["steward"], organisation="O", credential="c")
        assert not list(Workspace(settings).keyring_folder().glob("*1381*"))
    act(settings, "root").add_actor("张 伟-2", ["steward"], organisation="O", credential="c")
    # Key files: bounded reads, damaged encrypted files named, never a traceback.
    big = tmp_path / "big.key"
    big.write_bytes(b"-" * 70_000)
    with pytest.raises(DataFileError, match="not a key file"):
        load_actor_key(big)
    zero = tmp_path / "zero.key"
    zero.symlink_to("/dev/zero")
    with pytest.raises(DataFileError, match="not a key file"):
        load_actor_key(zero)
    sealed = tmp_path / "sealed.key"
    write_actor_key(sealed, "pass")
    record = json.loads(sealed.read_text())
    for field, value in (("nonce", "AAAA"), ("nonce", ""), ("sealed", "AAAA")):
        damaged = tmp_path / f"damaged-{field}-{len(value)}.key"
        damaged.write_text(json.dumps({**record, field: value}))
        with pytest.raises((SettingError, ForbiddenError)):
            load_actor_key(damaged, "pass")
    heavy = tmp_path / "heavy.key"
    heavy.write_text(json.dumps({**record, "kdf": {**record["kdf"], "n": 2**40}}))
    with pytest.raises(SettingError, match="not a custodes encrypted key file"):
        load_actor_key(heavy, "pass")


def test_a_changed_chain_column_stops_the_actor_before_it_signs(office: Office) -> None:
    """The store's actor_chain of lee's last entry is edited: lee's next step is refused
    (tampered), not signed over a wrong chain and blamed on lee afterwards."""
    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    last = max(i for i, a, _, _ in _signed_rows(settings) if a == "stella")
    engine = sa.create_engine(settings.store_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE ledger_entries SET actor_chain = :c WHERE idx = :i"),
            {"c": bytes(32), "i": last},
        )
    engine.dispose()
    Store.dispose_all()
    with pytest.raises(TamperedError, match=f"'stella''s entries at entry {last} is not"):
        act(settings, "stella").add_department("x", "X")
    act(settings, "lee").decide(request, True, "proportionate")  # others act on
