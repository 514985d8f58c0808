"""Witnessed tree heads, on SQLite and PostgreSQL: an auditor countersigns a head, and a
truncated, rebuilt or re-keyed history fails every later verification, naming the size."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes import Workspace
from custodes.errors import ForbiddenError, InvalidInputError, TamperedError
from custodes.governance import (
    audit_report,
    audit_report_from_export,
    disclosure_report,
    record_witnessed_head,
)
from custodes.ledger import (
    Event,
    Ledger,
    WitnessedHead,
    fingerprint,
    leaf_hash,
    load_public_key,
    load_witnessed,
    open_ledger,
    public_key_text,
    verify_export,
)
from custodes.ledger._ledger import entry_message
from custodes.report import render_disclosure_html
from custodes.settings import Settings, load_settings
from custodes.store import Store
from custodes.workspace import init_workspace
from tests.test_ledger import store_url  # noqa: F401 (the SQLite / PostgreSQL fixture)


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture
def office(
    store_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Settings, Path]]:
    """A workspace with an admin, a steward and an auditor, 20 events on its ledger, and
    the auditor's witness key outside the workspace."""
    monkeypatch.setenv("CUSTODES_STORE_URL", store_url)  # for the command line too
    monkeypatch.setenv("CUSTODES_LEDGER_HEAD_EVERY", "10")
    settings = load_settings(tmp_path / "ws")
    init_workspace(settings)
    with Workspace(settings) as ws:
        gov = ws.governance("root")
        gov.add_actor("root", ["admin"], organisation="Data office", credential="ID-0001")
        gov.add_actor("stella", ["steward"], organisation="Data office", credential="ID-s")
        gov.add_actor("audrey", ["auditor"], organisation="Audit office", credential="ID-a")
        _fill(ws.ledger, 16, "early")
    (tmp_path / "witness.key").write_bytes(_pem(Ed25519PrivateKey.generate()))
    yield settings, tmp_path
    Store.dispose_all()


def _fill(ledger: Ledger, count: int, tag: str) -> None:
    with ledger.store.transaction() as session:
        ledger.append_many(
            session, [Event("scan.made", "tester", f"{tag} {i}", {"n": i}) for i in range(count)]
        )


def _witness(settings: Settings, folder: Path, who: str = "audrey") -> tuple[Path, int]:
    """Countersign the newest head as ``who``; the file and the witnessed size."""
    path = folder / f"witnessed-{who}.json"
    with Workspace(settings) as ws:
        witnessed = ws.witness_head(who, folder / "witness.key", path)
    return path, witnessed.size


def _sql(settings: Settings, *statements: str, **params: object) -> None:
    Store.dispose_all()  # no other connection while the database is edited
    engine = sa.create_engine(settings.database_url())
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement), params)
    engine.dispose()


def _export(settings: Settings, folder: Path) -> Path:
    export = folder / "export.jsonl"
    with Workspace(settings) as ws:
        ws.export_ledger(export)
    return export


def _public(settings: Settings) -> Path:
    return settings.signing_key_path().with_suffix(".pub")


def test_a_countersigned_head_verifies_and_is_published(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    path, size = _witness(settings, folder)
    assert size == 20  # 1 init + 3 actors + 16 events, a head signed over all of them
    witnessed = load_witnessed(path)
    assert witnessed.witness == "audrey"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"head", "signature", "witness"}
    assert data["witness"]["public_key"] == witnessed.witness_key
    with Workspace(settings) as ws:
        _fill(ws.ledger, 5, "later")
        kept = ws.witnessed_heads()
        assert kept == [witnessed]
        assert ws.check_ledger([path]) == []
        entry = ws.ledger.entry(20)
        assert (entry["type"], entry["actor"], entry["subject"]) == (
            "head.witnessed",
            "audrey",
            "head-20",
        )
        assert entry["payload"]["size"] == 20
        disclosure = disclosure_report(ws.governance("audrey"), 2026)
        html = render_disclosure_html(disclosure)
        assert "Witnessed ledger head" in html
        assert witnessed.head.root_hash.hex() in html
        published = disclosure["witnessed_head"]
        assert published == {
            "size": 20,
            "root_hash": witnessed.head.root_hash.hex(),
            "timestamp": witnessed.head.timestamp,
            "witness": "audrey",
        }
        report = audit_report(ws.governance("audrey"), 2026, witnessed=[witnessed])
        assert report["anomalies"] == []
    export = _export(settings, folder)
    verified = Workspace.verify_ledger(export, _public(settings), witnessed=[path])
    assert verified.size == 26
    assert verified.witnessed == (witnessed,)
    assert verified.witnessed_in_export == 1
    assert not verified.truncation_ruled_out  # entries after the witnessed head
    assert verified.to_dict()["witnessed_heads"] == [{"size": 20, "witness": "audrey"}]


def test_a_tampered_countersignature_is_refused(office: tuple[Settings, Path]) -> None:
    settings, folder = office
    path, _ = _witness(settings, folder)
    export = _export(settings, folder)
    data = json.loads(path.read_text(encoding="utf-8"))
    signature = bytearray(base64.b64decode(data["witness"]["signature"]))
    signature[5] ^= 1
    data["witness"]["signature"] = base64.b64encode(bytes(signature)).decode("ascii")
    forged = folder / "forged.json"
    forged.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TamperedError, match="the head of size 20 witnessed by audrey has a"):
        Workspace.verify_ledger(export, _public(settings), witnessed=[forged])
    # A witnessed head moved to another root: the countersignature no longer covers it.
    data = json.loads(path.read_text(encoding="utf-8"))
    data["head"]["root_hash"] = "00" * 32
    forged.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TamperedError, match="countersignature its witness's key did not make"):
        load_witnessed(forged)
    # Straight to the library: a head whose countersignature is not the witness's.
    witnessed = load_witnessed(path)
    bad = WitnessedHead(witnessed.head, "audrey", witnessed.witness_key, bytes(64))
    with pytest.raises(TamperedError, match="size 20 witnessed by audrey"):
        verify_export(export, load_public_key(_public(settings)), witnessed=[bad])
    with Workspace(settings) as ws, pytest.raises(TamperedError, match="countersignature"):
        record_witnessed_head(ws.governance("audrey"), bad)


def test_a_truncated_ledger_fails_naming_the_witnessed_size(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    path, size = _witness(settings, folder)
    with Workspace(settings) as ws:
        _fill(ws.ledger, 8, "later")
    # The newest entries and their heads deleted behind custodes' back, a head re-signed.
    _sql(
        settings,
        "DELETE FROM ledger_entries WHERE idx >= 17",
        "DELETE FROM tree_heads WHERE size > 17",
        "UPDATE ledger_state SET size = 17",
    )
    export = _export(settings, folder)  # the workspace key signs a head over the 17 left
    public = _public(settings)
    assert Workspace.verify_ledger(export, public).size == 17  # alone, it verifies
    with pytest.raises(TamperedError) as caught:
        Workspace.verify_ledger(export, public, witnessed=[path])
    assert str(caught.value) == (
        "the ledger has 17 entries, fewer than the head of size 20 witnessed by audrey: "
        "entries from 17 on were removed."
    )
    with Workspace(settings) as ws:
        problems = ws.check_ledger([path])
    assert problems == [
        f"the head of size {size} witnessed by audrey: the ledger's newest signed head covers "
        "17 entries, fewer than the 20 witnessed: the history was truncated or rebuilt"
    ]


def _rebuild_with_a_new_key(settings: Settings, *, keep_entries: bool) -> Ed25519PrivateKey:
    """The workspace key replaced by a new one and the ledger re-signed with it: every
    entry (or, without ``keep_entries``, the ledger replayed from scratch: 16 events)."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    old_ring = Workspace(settings).keyring_folder()
    settings.signing_key_path().write_bytes(_pem(key))
    _public(settings).write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    _sql(
        settings,
        "DELETE FROM tree_heads",
        "UPDATE meta SET value = :f WHERE key = 'ledger_key_fingerprint'",
        "UPDATE meta SET value = :p WHERE key = 'ledger_public_key'",
        f=fingerprint(public),
        p=public_key_text(public),
    )
    # The actors keep their personal keys: the keyring follows the new workspace key.
    shutil.copytree(old_ring, settings.keyring_path() / fingerprint(public))
    ledger = Ledger(Store(settings.database_url()), key, head_every=10)
    if keep_entries:
        with ledger.store.transaction() as session:
            rows = session.execute(sa.text("SELECT idx, leaf_hash FROM ledger_entries")).all()
            for index, leaf in rows:
                session.execute(
                    sa.text("UPDATE ledger_entries SET signature = :s WHERE idx = :i"),
                    {"s": key.sign(entry_message(bytes(leaf))), "i": index},
                )
    else:
        _sql(settings, "DELETE FROM ledger_entries", "UPDATE ledger_state SET size = 0")
        ledger = Ledger(Store(settings.database_url()), key, head_every=10)
        _fill(ledger, 20, "replayed")
    ledger.sign_head()
    Store.dispose_all()
    return key


def test_a_ledger_rebuilt_from_scratch_with_a_new_key_fails_naming_the_witnessed_size(
    office: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    settings, folder = office
    path, _ = _witness(settings, folder)
    (folder / "old.pub").write_bytes(_public(settings).read_bytes())
    _rebuild_with_a_new_key(settings, keep_entries=False)
    export = _export(settings, folder)
    public = _public(settings)  # the new key, as the office now hands it out
    assert Workspace.verify_ledger(export, public).size == 20  # alone, it verifies
    with pytest.raises(TamperedError, match=r"^the head of size 20 witnessed by audrey is not"):
        Workspace.verify_ledger(export, public, witnessed=[path])
    argv = ["ledger", "verify", str(export), "--public-key", str(public), "--witnessed", str(path)]
    assert main(argv) == 3
    assert "the head of size 20 witnessed by audrey" in capsys.readouterr().err
    # In the workspace: the rebuilt ledger keeps no witnessed head; the auditor's file does.
    ws_argv = ["ledger", "verify", "--workspace", str(settings.workspace)]
    assert main(ws_argv) == 0
    capsys.readouterr()
    assert main([*ws_argv, "--witnessed", str(path)]) == 3
    assert "the head of size 20 witnessed by audrey: it is not signed by the ledger's key" in (
        capsys.readouterr().err
    )
    # The auditor's report from the export alone names it too.
    with pytest.raises(TamperedError, match="the head of size 20 witnessed by audrey"):
        audit_report_from_export(export, public, 2026, witnessed=[load_witnessed(path)])
    report = ["audit", "report", "--ledger", str(export), "--public-key", str(public)]
    assert main([*report, "--witnessed", str(path)]) == 3
    assert "the head of size 20 witnessed by audrey" in capsys.readouterr().err
    # Nobody acts on the rebuilt ledger: the actors' keys are no longer registered on it.
    with Workspace(settings) as ws, pytest.raises(ForbiddenError, match="not the one the ledger"):
        audit_report(ws.governance("audrey"), 2026, witnessed=[load_witnessed(path)])
    argv = ["audit", "report", "--as", "audrey", "--workspace", str(settings.workspace)]
    assert main([*argv, "--witnessed", str(path)]) == 4
    assert "not the one the ledger registered" in capsys.readouterr().err
    # With the public key the auditor kept, the export names the re-keying too.
    with pytest.raises(TamperedError, match="size 20 witnessed by audrey was signed with"):
        Workspace.verify_ledger(export, folder / "old.pub", witnessed=[path])


def test_a_re_keyed_ledger_is_an_anomaly_of_the_audit_report(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    _witness(settings, folder)
    _rebuild_with_a_new_key(settings, keep_entries=True)  # head.witnessed (entry 20) stays
    with Workspace(settings) as ws:
        anomalies = audit_report(ws.governance("audrey"), 2026)["anomalies"]
    assert (
        "the head of size 20 witnessed by audrey: it is not signed by the ledger's key: the "
        "ledger was re-keyed (rebuilt under a new key) since it was witnessed"
    ) in anomalies
    # The export holds the head.witnessed entry: it names the entry and the size.
    export = _export(settings, folder)
    kept = r"entry 20 \(head.witnessed\) keeps the head of size 20 witnessed by audrey"
    with pytest.raises(TamperedError, match=kept):
        Workspace.verify_ledger(export, _public(settings))


def test_a_history_rewritten_with_the_same_key_fails_naming_the_witnessed_size(
    office: tuple[Settings, Path],
) -> None:
    settings, folder = office
    path, _ = _witness(settings, folder)
    # An early entry rewritten, its signature and every head re-signed with the workspace key.
    ledger = open_ledger(settings)
    key = ledger.key
    assert key is not None
    with ledger.store.transaction() as session:
        text = session.execute(sa.text("SELECT entry FROM ledger_entries WHERE idx = 8")).scalar()
        assert isinstance(text, str)
        changed = text.replace('"n":4', '"n":40')
        assert changed != text
    leaf = leaf_hash(changed.encode("utf-8"))
    _sql(
        settings,
        "UPDATE ledger_entries SET entry = :e, leaf_hash = :l, signature = :s WHERE idx = 8",
        "DELETE FROM tree_heads",
        e=changed,
        l=leaf,
        s=key.sign(entry_message(leaf)),
    )
    open_ledger(settings).sign_head()
    Store.dispose_all()
    export = _export(settings, folder)
    with pytest.raises(TamperedError) as caught:
        Workspace.verify_ledger(export, _public(settings), witnessed=[path])
    assert "size 20 witnessed by audrey" in str(caught.value)
    with Workspace(settings) as ws:
        problems = ws.check_ledger([path])
    assert len(problems) == 2  # the export (its head.witnessed entry), the head (kept, given)
    assert all("size 20 witnessed by audrey" in p for p in problems)
    assert problems[1].endswith("the history was rewritten")


def test_only_an_auditor_records_a_witnessed_head(
    office: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    settings, folder = office
    with pytest.raises(ForbiddenError, match="needs the role 'auditor'"):
        _witness(settings, folder, who="stella")
    assert not (folder / "witnessed-stella.json").exists()
    output = folder / "w.json"
    argv = [
        "audit",
        "witness",
        "--witness-key",
        str(folder / "witness.key"),
        "--output",
        str(output),
    ]
    argv += ["--workspace", str(settings.workspace)]
    assert main([*argv, "--as", "stella"]) == 4
    assert "needs the role 'auditor'" in capsys.readouterr().err
    assert not output.exists()
    assert main([*argv, "--as", "audrey", "--size", "7"]) == 2  # heads: 10, 20
    assert "--size 7: no signed head has that size (sizes: 10, 20)" in capsys.readouterr().err
    assert main([*argv, "--as", "audrey"]) == 0
    assert "witnessed: the head of size 20 witnessed by audrey" in capsys.readouterr().out
    assert load_witnessed(output).size == 20
    # A witnessed head recorded as someone else than its witness is refused.
    with Workspace(settings) as ws:
        root = ws.governance("root")
        root.add_actor("otto", ["auditor"], organisation="Audit office", credential="ID-o")
        with pytest.raises(ForbiddenError, match="a witness records their own"):
            record_witnessed_head(ws.governance("otto"), load_witnessed(output))
        assert len(ws.witnessed_heads()) == 1
    assert main(["ledger", "heads", "--witnessed", "--workspace", str(settings.workspace)]) == 0
    published = json.loads(capsys.readouterr().out)
    assert [h["head"]["size"] for h in published] == [20]
    assert WitnessedHead.from_dict(published[0], "published") == load_witnessed(output)


def test_an_auditor_witnesses_with_their_personal_key_by_default(
    office: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main
    from custodes.governance import key_hex

    settings, folder = office
    output = folder / "own.json"
    argv = ["audit", "witness", "--output", str(output), "--as", "audrey"]
    assert main([*argv, "--workspace", str(settings.workspace)]) == 0
    capsys.readouterr()
    with Workspace(settings) as ws:
        own = key_hex(ws.actor_key("audrey"))
    witnessed = load_witnessed(output)
    assert base64.b64decode(witnessed.witness_key).hex() == own
    # Another actor's key file proves nothing: the entry is signed by the acting actor.
    stella = ws.actor_key_path("stella")
    assert main([*argv, "--key", str(stella), "--workspace", str(settings.workspace)]) == 4
    assert "is not 'audrey''s registered key" in capsys.readouterr().err


def test_malformed_witness_files_and_keys_are_bad_input(
    office: tuple[Settings, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    settings, folder = office
    path, _ = _witness(settings, folder)
    export = _export(settings, folder)
    argv = ["ledger", "verify", str(export), "--public-key", str(_public(settings))]
    bad = folder / "bad.json"
    cases = {
        "{not json": f"{bad} is not JSON",
        "[]": f"{bad} is not a witnessed tree head",
        json.dumps({**json.loads(path.read_text()), "witness": {"name": "x"}}): (
            f"{bad} is not a witnessed tree head"
        ),
        json.dumps(
            {
                **json.loads(path.read_text()),
                "head": {**json.loads(path.read_text())["head"], "size": "20"},
            }
        ): f"{bad} is not a witnessed tree head",
        json.dumps(
            {
                **json.loads(path.read_text()),
                "witness": {"name": "x", "public_key": "AAAA", "signature": ""},
            }
        ): "public key: base64 of 32 bytes",
    }
    for text, message in cases.items():
        bad.write_text(text, encoding="utf-8")
        assert main([*argv, "--witnessed", str(bad)]) == 2, text
        assert message in capsys.readouterr().err
        with pytest.raises(InvalidInputError, match="witnessed"):
            load_witnessed(bad)
    assert main([*argv, "--witnessed", str(folder / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*argv, "--witnessed", str(path)]) == 0
    assert "consistent with the head of size 20 witnessed by audrey" in capsys.readouterr().out
    witness = ["audit", "witness", "--output", str(folder / "o.json"), "--as", "audrey"]
    witness += ["--workspace", str(settings.workspace)]
    assert main([*witness, "--witness-key", str(folder / "nope.key")]) == 2
    assert "witness key" in capsys.readouterr().err
    assert main(["ledger", "verify", str(export)]) == 2
    assert "give --public-key KEY" in capsys.readouterr().err
