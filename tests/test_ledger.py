"""The store and the verifiable ledger: RFC 9162 vectors, proofs, tampering, concurrency.

The store tests run on SQLite and on a real PostgreSQL server (each test gets
a fresh database); PostgreSQL needs CUSTODES_TEST_POSTGRES_URL (set by
``scripts/with-postgres``): without it those tests skip, except under CI.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree

from custodes.errors import InvalidInputError, TamperedError
from custodes.ledger import (
    EMPTY_ROOT,
    Event,
    Ledger,
    MerkleTree,
    canonical,
    leaf_hash,
    load_head,
    load_public_key,
    open_ledger,
    root_of,
    verify_consistency,
    verify_export,
    verify_inclusion,
)
from custodes.ledger._ledger import entry_message
from custodes.settings import Settings, load_settings
from custodes.store import HEAD_REVISION, Store
from custodes.workspace import init_workspace

# ------------------------------------------------------------ RFC 6962 / 9162 vectors

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243")]
LEAVES += [bytes.fromhex("5051525354555657"), bytes.fromhex("606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_tree_hashes_match_the_rfc_vectors() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    tree = MerkleTree(leaf_hash(x) for x in LEAVES)
    for n, expected in enumerate(ROOTS):
        assert tree.root(n).hex() == expected
        assert root_of([leaf_hash(x) for x in LEAVES[:n]]).hex() == expected


def test_proofs_match_the_rfc_vectors() -> None:
    tree = MerkleTree(leaf_hash(x) for x in LEAVES)
    assert [p.hex() for p in tree.inclusion_proof(5, 8)] == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert [p.hex() for p in tree.consistency_proof(2, 5)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]
    assert [p.hex() for p in tree.consistency_proof(3, 8)] == [
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ]


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True))
@settings(max_examples=40, deadline=None)
def test_every_proof_verifies_and_matches_pymerkle(entries: list[bytes]) -> None:
    tree = MerkleTree(leaf_hash(x) for x in entries)
    reference = InmemoryTree(algorithm="sha256")
    for x in entries:
        reference.append_entry(x)
    n = len(entries)
    assert tree.root() == reference.get_root()
    for size in range(1, n + 1):
        root = tree.root(size)
        assert root == reference.get_root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert verify_inclusion(tree.levels[0][index], index, size, proof, root)
            if proof:  # a changed proof, index or size fails
                assert not verify_inclusion(tree.levels[0][index], index, size, proof[:-1], root)
                if size > 1:
                    other = (index + 1) % size
                    assert not verify_inclusion(tree.levels[0][index], other, size, proof, root)
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            assert verify_consistency(old, size, tree.root(old), root, proof)
            if old < size:
                assert not verify_consistency(old, size, root, root, proof)


def test_canonical_json_refuses_floats_and_sorts_keys() -> None:
    assert canonical({"b": 1, "a": ["x", True, None]}) == b'{"a":["x",true,null],"b":1}'
    assert canonical({"名": "值"}) == '{"名":"值"}'.encode()
    with pytest.raises(InvalidInputError, match=r"no floats \(the entry.k is one\)"):
        canonical({"k": 0.5})


# ------------------------------------------------------------ the store, on both databases


def _postgres_base() -> str | None:
    url = os.environ.get("CUSTODES_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail("CUSTODES_TEST_POSTGRES_URL is not set (CI: PostgreSQL tests may not skip)")
    pytest.skip(
        "CUSTODES_TEST_POSTGRES_URL is not set; run the tests through scripts/with-postgres"
    )
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'custodes.db'}"
        Store.dispose_all()
        return
    base = sa.make_url(_postgres_base() or "")
    name = f"custodes_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        Store.dispose_all()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def workspace(store_url: str, tmp_path: Path) -> Settings:
    ws = load_settings(tmp_path / "ws", {"store_url": store_url, "ledger_head_every": 10})
    init_workspace(ws)
    return ws


def _fill(ledger: Ledger, count: int) -> None:
    with ledger.store.transaction() as session:
        ledger.append_many(
            session,
            [Event("test.event", "tester", f"item {i}", {"n": i}) for i in range(count)],
        )


def test_init_twice_is_harmless(workspace: Settings) -> None:
    again = init_workspace(workspace)
    assert not again.created
    assert Store(workspace.database_url()).revision() == HEAD_REVISION
    assert workspace.signing_key_path().stat().st_mode & 0o777 == 0o600
    ledger = open_ledger(workspace)
    assert ledger.size() == 1  # one workspace.initialized entry, not two
    assert ledger.entry(0)["type"] == "workspace.initialized"


def test_a_key_whose_fingerprint_spells_a_card_number_still_initializes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The short fingerprint is 16 hex characters: now and then all digits, and then a tenth
    of the time a Luhn-valid card number, which the ledger refuses. The ledger records the
    key's full SHA-256 instead (with a letter in it but once in ~10^13 keys)."""
    import custodes.workspace._create as create

    monkeypatch.setattr(create, "fingerprint", lambda key: "4111111111111111")
    settings = load_settings(tmp_path / "ws")
    result = init_workspace(settings)
    assert result.fingerprint == "4111111111111111"
    entry = open_ledger(settings).entry(0)
    assert entry["type"] == "workspace.initialized"
    assert len(entry["payload"]["ledger_key_sha256"]) == 64


def test_an_entry_commits_with_its_transaction_or_not_at_all(workspace: Settings) -> None:
    ledger = open_ledger(workspace)

    def failing_change() -> None:
        with ledger.store.transaction() as session:
            ledger.append(session, "test.event", "tester", "s", {"n": 1})
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert ledger.size() == 1
    with ledger.store.transaction() as session:
        assert ledger.append(session, "test.event", "tester", "s", {"n": 2}) == 1
    export = workspace.workspace / "export.jsonl"
    ledger.export(export)
    key = load_public_key(workspace.signing_key_path().with_suffix(".pub"))
    assert verify_export(export, key).size == 2


def test_payloads_never_hold_personal_data(workspace: Settings) -> None:
    ledger = open_ledger(workspace)
    with pytest.raises(InvalidInputError) as caught, ledger.store.transaction() as session:
        ledger.append(session, "test.event", "tester", "s", {"who": {"id": "11010519491231002X"}})
    assert "payload.who.id" in str(caught.value)
    assert "11010519491231002X" not in str(caught.value)
    with pytest.raises(InvalidInputError, match="phone"), ledger.store.transaction() as session:
        ledger.append(session, "test.event", "tester", "s", {"note": "call 13812345678"})
    with pytest.raises(InvalidInputError, match="dotted"), ledger.store.transaction() as session:
        ledger.append(session, "Bad Type", "tester", "s", {})


def _append_in_process(settings_dict: dict[str, str], count: int) -> None:
    overrides = {"store_url": settings_dict["store_url"], "ledger_head_every": 10}
    ws = load_settings(settings_dict["workspace"], overrides)
    ledger = open_ledger(ws)
    for i in range(count):
        with ledger.store.transaction() as session:
            ledger.append(session, "test.event", f"process {os.getpid()}", "s", {"n": i})


def test_concurrent_appenders_never_gap_duplicate_or_fork(workspace: Settings) -> None:
    def worker(count: int) -> None:
        ledger = open_ledger(workspace)  # each thread its own ledger object and connections
        for i in range(count):
            with ledger.store.transaction() as session:
                ledger.append(session, "test.event", "thread", "s", {"n": i})

    threads = [threading.Thread(target=worker, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    context = multiprocessing.get_context("spawn")
    shared = {"workspace": str(workspace.workspace), "store_url": workspace.store_url}
    processes = [context.Process(target=_append_in_process, args=(shared, 25)) for _ in range(2)]
    for p in processes:
        p.start()
    for t in threads:
        t.join()
    for p in processes:
        p.join()
        assert p.exitcode == 0
    ledger = open_ledger(workspace)
    assert ledger.size() == 1 + 4 * 25 + 2 * 25
    export = workspace.workspace / "export.jsonl"
    ledger.export(export)
    key = load_public_key(workspace.signing_key_path().with_suffix(".pub"))
    result = verify_export(export, key)
    assert result.size == 151
    assert result.heads == 16  # one every 10 entries, however they interleaved, and the last


def test_proofs_from_the_store_verify(workspace: Settings) -> None:
    ledger = open_ledger(workspace)
    _fill(ledger, 40)
    proof = ledger.inclusion_proof(17)
    head = proof["head"]["head"]
    assert head["size"] == 40  # the newest signed head (one every 10 entries)
    path = [bytes.fromhex(p) for p in proof["path"]]
    leaf = leaf_hash(proof["entry"].encode("utf-8"))
    assert leaf.hex() == proof["leaf_hash"]
    assert verify_inclusion(leaf, 17, head["size"], path, bytes.fromhex(head["root_hash"]))
    consistency = ledger.consistency_proof(10, 40)
    old, new = consistency["old_head"]["head"], consistency["new_head"]["head"]
    assert verify_consistency(
        10,
        40,
        bytes.fromhex(old["root_hash"]),
        bytes.fromhex(new["root_hash"]),
        [bytes.fromhex(p) for p in consistency["path"]],
    )
    with pytest.raises(InvalidInputError, match="no signed head has size 12"):
        ledger.consistency_proof(12)


# ------------------------------------------------------------ tampering with the database


def _tampered(workspace: Settings, sql: list[str], trusted: bool = False) -> str:
    """Fill the ledger, save a head, run ``sql`` on the database, export, verify: the error."""
    ledger = open_ledger(workspace)
    _fill(ledger, 34)  # 35 entries, heads at 10, 20, 30
    head_file = workspace.workspace / "head.json"
    head_file.write_text(json.dumps(ledger.sign_head().to_dict()))
    engine = sa.create_engine(workspace.database_url())
    Store.dispose_all()  # no other connection while the database is edited
    with engine.begin() as connection:
        for statement in sql:
            connection.exec_driver_sql(statement)
    engine.dispose()
    export = workspace.workspace / "export.jsonl"
    open_ledger(workspace).export(export)
    key = load_public_key(workspace.signing_key_path().with_suffix(".pub"))
    trusted_head = load_head(head_file, key) if trusted else None
    with pytest.raises(TamperedError) as caught:
        verify_export(export, key, trusted_head)
    return str(caught.value)


def test_an_edited_payload_byte_is_named(workspace: Settings) -> None:
    edit = "UPDATE ledger_entries SET entry = REPLACE(entry, '\"n\":16', '\"n\":61') WHERE idx = 17"
    message = _tampered(workspace, [edit])
    assert message.startswith("entry 17 was changed or re-signed")


def test_a_deleted_entry_is_named(workspace: Settings) -> None:
    message = _tampered(workspace, ["DELETE FROM ledger_entries WHERE idx = 12"])
    assert message.startswith("entry 12 is missing")


def test_swapped_entries_are_named(workspace: Settings) -> None:
    swap = [
        "UPDATE ledger_entries SET idx = -1 WHERE idx = 5",
        "UPDATE ledger_entries SET idx = 5 WHERE idx = 8",
        "UPDATE ledger_entries SET idx = 8 WHERE idx = -1",
    ]
    message = _tampered(workspace, swap)
    assert message.startswith("entry 5 is missing (line 7 holds entry 8)")


def test_a_truncated_tail_is_named(workspace: Settings) -> None:
    cut = [
        "DELETE FROM ledger_entries WHERE idx >= 31",
        "DELETE FROM tree_heads WHERE size > 30",
        "UPDATE ledger_state SET size = 31",
    ]
    message = _tampered(workspace, cut, trusted=True)
    assert "fewer than the trusted head's 35: entries from 31 on were removed" in message


def test_a_ledger_re_signed_with_another_key_is_named(workspace: Settings) -> None:
    ledger = open_ledger(workspace)
    _fill(ledger, 5)
    export = workspace.workspace / "export.jsonl"
    ledger.export(export)
    forger = Ledger(Store(workspace.database_url()), Ed25519PrivateKey.generate())
    engine = sa.create_engine(workspace.database_url())
    with engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT idx, leaf_hash FROM ledger_entries")).all()
        for index, leaf in rows:
            assert forger.key is not None
            signature = forger.key.sign(entry_message(bytes(leaf)))
            connection.execute(
                sa.text("UPDATE ledger_entries SET signature = :s WHERE idx = :i"),
                {"s": signature, "i": index},
            )
    engine.dispose()
    ledger.export(export)
    key = load_public_key(workspace.signing_key_path().with_suffix(".pub"))
    with pytest.raises(TamperedError, match=r"^entry 0 was changed or re-signed"):
        verify_export(export, key)


# ------------------------------------------------------------ any byte of an export


@pytest.fixture(scope="module")
def clean_export(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    folder = tmp_path_factory.mktemp("export")
    ws = load_settings(folder / "ws", {"ledger_head_every": 7})
    init_workspace(ws)
    ledger = open_ledger(ws)
    _fill(ledger, 30)
    path = folder / "export.jsonl"
    ledger.export(path)
    return path.read_bytes(), ws.signing_key_path().with_suffix(".pub")


@given(position=st.integers(min_value=0), change=st.integers(min_value=1, max_value=255))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_flipping_any_byte_of_an_export_is_caught(
    clean_export: tuple[bytes, Path], tmp_path: Path, position: int, change: int
) -> None:
    data, public = clean_export
    key = load_public_key(public)
    original = tmp_path / "clean.jsonl"
    original.write_bytes(data)
    assert verify_export(original, key).size == 31
    spot = position % len(data)
    damaged = bytearray(data)
    damaged[spot] ^= change
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(bytes(damaged))
    with pytest.raises((TamperedError, InvalidInputError)):
        verify_export(path, key)


# ------------------------------------------------------------ reordered, thinned or cut exports


@pytest.fixture(scope="module", params=[7, 1000], ids=["heads-every-7", "no-periodic-heads"])
def sealed_export(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[bytes], Path]:
    """The lines of a 31-entry export (periodic heads every 7, or none) and the public key."""
    folder = tmp_path_factory.mktemp("sealed")
    ws = load_settings(folder / "ws", {"ledger_head_every": request.param})
    init_workspace(ws)
    ledger = open_ledger(ws)
    _fill(ledger, 30)
    path = folder / "export.jsonl"
    ledger.export(path)
    Store.dispose_all()
    return path.read_bytes().splitlines(keepends=True), ws.signing_key_path().with_suffix(".pub")


def _entry_lines(lines: list[bytes]) -> list[int]:
    return [i for i, line in enumerate(lines) if line.startswith(b'{"entry":')]


def _verify_lines(lines: list[bytes], public: Path, folder: Path, name: str = "x.jsonl") -> str:
    """Write the lines as an export, verify it: the error message (it must fail)."""
    path = folder / name
    path.write_bytes(b"".join(lines))
    with pytest.raises(TamperedError) as caught:
        verify_export(path, load_public_key(public))
    return str(caught.value)


def _with_size(lines: list[bytes], size: int) -> list[bytes]:
    header = json.loads(lines[0])
    header["size"] = size
    return [canonical(header) + b"\n", *lines[1:]]


def test_an_export_always_ends_in_a_head_over_every_entry(
    sealed_export: tuple[list[bytes], Path], tmp_path: Path
) -> None:
    lines, public = sealed_export
    assert lines[-1].startswith(b'{"head":')
    assert json.loads(lines[-1])["head"]["size"] == 31
    path = tmp_path / "clean.jsonl"
    path.write_bytes(b"".join(lines))
    result = verify_export(path, load_public_key(public))
    assert result.size == 31
    assert not result.truncation_ruled_out
    caveat = result.caveat()
    assert caveat is not None
    assert "newest entries were removed" in caveat
    assert "--trusted-head" in caveat


def test_swapped_entry_lines_name_the_first_bad_entry(
    sealed_export: tuple[list[bytes], Path], tmp_path: Path
) -> None:
    lines, public = sealed_export
    at = _entry_lines(lines)
    for first, second in [(3, 4), (0, 30), (12, 13), (29, 30)]:
        swapped = list(lines)
        swapped[at[first]], swapped[at[second]] = lines[at[second]], lines[at[first]]
        message = _verify_lines(swapped, public, tmp_path)
        assert message.startswith(f"entry {first} is missing (line {at[first] + 1} holds entry "), (
            message
        )


def test_an_entry_replaced_by_its_neighbour_is_named(
    sealed_export: tuple[list[bytes], Path], tmp_path: Path
) -> None:
    lines, public = sealed_export
    at = _entry_lines(lines)
    for index in (1, 14, 30):  # a fee.charged or request.decided vanishes behind a copy
        replaced = list(lines)
        replaced[at[index]] = lines[at[index - 1]]
        message = _verify_lines(replaced, public, tmp_path)
        assert message.startswith(f"entry {index} is out of place: line {at[index] + 1} holds "
                                  f"entry {index - 1} again"), message  # fmt: skip
        replaced = list(lines)
        if index < 30:
            replaced[at[index]] = lines[at[index + 1]]
            message = _verify_lines(replaced, public, tmp_path)
            assert message.startswith(f"entry {index} is missing"), message


def test_a_duplicated_entry_is_named(
    sealed_export: tuple[list[bytes], Path], tmp_path: Path
) -> None:
    lines, public = sealed_export
    at = _entry_lines(lines)
    for index in (0, 9, 30):
        doubled = list(lines)
        doubled.insert(at[index] + 1, lines[at[index]])
        message = _verify_lines(_with_size(doubled, 32), public, tmp_path)
        assert message.startswith(f"entry {index + 1} is out of place"), message


def test_a_cut_tail_fails_whatever_the_declared_size_and_heads(
    sealed_export: tuple[list[bytes], Path], tmp_path: Path
) -> None:
    lines, public = sealed_export
    at = _entry_lines(lines)
    cut = at[27]  # entries 27 to 30 dropped
    kept_head = [*lines[:cut], lines[-1]]  # the final head kept
    for declared in (31, 27):
        message = _verify_lines(_with_size(kept_head, declared), public, tmp_path)
        assert "the signed head of size 31 follows 27 entries: entries 27 to 30 are missing" in (
            message
        )
    message = _verify_lines(lines[:cut], public, tmp_path)
    assert "declares 31 entries but holds 27: entries from 27 on are missing" in message
    message = _verify_lines(_with_size(lines[:cut], 27), public, tmp_path)
    assert "does not end in a signed head over its 27 entries" in message
    assert "entries after entry 26 may have been cut" in message


def test_a_cut_at_a_signed_head_is_caught_only_by_a_trusted_head(tmp_path: Path) -> None:
    ws = load_settings(tmp_path / "ws", {"ledger_head_every": 10})
    init_workspace(ws)
    ledger = open_ledger(ws)
    _fill(ledger, 34)
    head_file = tmp_path / "head.json"
    head_file.write_text(json.dumps(ledger.sign_head().to_dict()))
    path = tmp_path / "export.jsonl"
    ledger.export(path)
    Store.dispose_all()
    key = load_public_key(ws.signing_key_path().with_suffix(".pub"))
    lines = path.read_bytes().splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if b'"size":30,' in line)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(_with_size(lines[: end + 1], 30)))
    result = verify_export(cut, key)  # an export cut at a head verifies on its own ...
    assert result.size == 30
    assert result.caveat() is not None
    with pytest.raises(TamperedError, match="fewer than the trusted head's 35"):
        verify_export(cut, key, load_head(head_file, key))  # ... but not against a saved head
    whole = verify_export(path, key, load_head(head_file, key))
    assert whole.truncation_ruled_out
    assert whole.caveat() is None


def test_an_export_without_the_key_needs_a_head_over_every_entry(tmp_path: Path) -> None:
    from custodes.errors import SettingError

    ws = load_settings(tmp_path / "ws", {"ledger_head_every": 1000})
    init_workspace(ws)
    _fill(open_ledger(ws), 3)
    reader = open_ledger(ws, signing=False)
    with pytest.raises(SettingError, match="covers 0 of its 4 entries"):
        reader.export(tmp_path / "export.jsonl")
    assert not (tmp_path / "export.jsonl").exists()
    open_ledger(ws).sign_head()
    assert reader.export(tmp_path / "export.jsonl") == 4
    Store.dispose_all()


@given(data=st.data())
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_reordering_truncation_or_duplication_fails(
    sealed_export: tuple[list[bytes], Path], tmp_path: Path, data: st.DataObject
) -> None:
    lines, public = sealed_export
    at = _entry_lines(lines)
    entries = [lines[i] for i in at]
    heads = {i: line for i, line in enumerate(lines) if line.startswith(b'{"head":')}
    kind = data.draw(st.sampled_from(["permute", "truncate", "duplicate", "drop"]))
    if kind == "permute":
        order = data.draw(st.permutations(range(len(entries))))
        if list(order) == sorted(order):
            order = [1, 0, *range(2, len(entries))]
        changed = [entries[i] for i in order]
    elif kind == "truncate":
        keep = data.draw(st.integers(min_value=1, max_value=len(entries) - 1))
        changed = entries[:keep]
    elif kind == "duplicate":
        index = data.draw(st.integers(min_value=0, max_value=len(entries) - 1))
        changed = [*entries[: index + 1], entries[index], *entries[index + 1 :]]
    else:
        index = data.draw(st.integers(min_value=0, max_value=len(entries) - 1))
        changed = entries[:index] + entries[index + 1 :]
    # Heads stay after the same number of lines; the declared size may be lowered too.
    rebuilt = [lines[0]]
    for position, line in enumerate(changed):
        rebuilt.append(line)
        original = at[position] if position < len(at) else None
        if original is not None and original + 1 in heads:
            rebuilt.append(heads[original + 1])
    if data.draw(st.booleans()):
        rebuilt = _with_size(rebuilt, len(changed))
    if data.draw(st.booleans()) and not rebuilt[-1].startswith(b'{"head":'):
        rebuilt.append(lines[-1])
    path = tmp_path / "changed.jsonl"
    path.write_bytes(b"".join(rebuilt))
    key = load_public_key(public)
    if kind == "truncate" and rebuilt[-1].startswith(b'{"head":'):
        head = json.loads(rebuilt[-1])["head"]
        if head["size"] == len(changed) and json.loads(rebuilt[0])["size"] == len(changed):
            # Cut exactly at a signed head: only a trusted head catches it.
            assert verify_export(path, key).caveat() is not None
            full = tmp_path / "full.jsonl"
            full.write_bytes(b"".join(lines))
            trusted = verify_export(full, key).newest_head
            with pytest.raises(TamperedError):
                verify_export(path, key, trusted)
            return
    with pytest.raises((TamperedError, InvalidInputError)):
        verify_export(path, key)


# ------------------------------------------------------------ the command line


def test_cli_init_export_prove_and_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from custodes.cli import main

    ws = tmp_path / "ws"
    assert main(["init", "--workspace", str(ws)]) == 0
    assert "created" in capsys.readouterr().out
    assert main(["init", "--workspace", str(ws)]) == 0
    assert "already set up" in capsys.readouterr().out
    head = tmp_path / "head.json"
    assert main(["ledger", "head", "--workspace", str(ws), "--output", str(head)]) == 0
    capsys.readouterr()
    assert main(["ledger", "prove", "--entry", "0", "--workspace", str(ws)]) == 0
    proof = json.loads(capsys.readouterr().out)
    assert proof["index"] == 0
    export = tmp_path / "export.jsonl"
    assert main(["ledger", "export", "--output", str(export), "--workspace", str(ws)]) == 0
    public = ws / "keys" / "ledger.pub"
    argv = ["audit", "verify", "--ledger", str(export), "--public-key", str(public)]
    assert main([*argv, "--trusted-head", str(head)]) == 0
    printed = capsys.readouterr().out
    assert "verified: 1 entries" in printed
    assert "not ruled out" not in printed
    assert main(argv) == 0  # without a trusted head, the output says what it cannot show
    printed = capsys.readouterr().out
    assert "not ruled out: that the newest entries were removed" in printed
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["truncation_ruled_out"] is False
    lines = export.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"workspace.initialized", b"workspace.initialised")
    export.write_bytes(b"".join(lines))
    assert main(argv) == 3
    assert "entry 0 was changed" in capsys.readouterr().err
    assert main(["ledger", "prove", "--workspace", str(ws)]) == 2
    assert "give --entry N" in capsys.readouterr().err


def test_scans_and_releases_are_recorded_once_the_workspace_is_set_up(tmp_path: Path) -> None:
    import polars as pl

    from custodes import AnonymizationSpec, KAnonymity, Workspace
    from custodes.hierarchy import Hierarchy

    settings = load_settings(tmp_path / "ws")
    ws = Workspace(settings)
    frame = pl.DataFrame({"sex": ["F", "M"] * 10, "id_card": ["11010519491231002X"] * 20})
    ws.scan(frame)
    assert not ws.initialized()  # nothing recorded before custodes init
    init_workspace(settings)
    ws.scan(frame)
    spec = AnonymizationSpec(
        quasi_identifiers=("sex",),
        hierarchies={"sex": Hierarchy(rows=(("F", "*"), ("M", "*")))},
        models=(KAnonymity(2),),
        identifying=("id_card",),
    )
    release = ws.anonymize(frame, spec, output=tmp_path / "release.csv")
    ledger = open_ledger(settings)
    assert ledger.size() == 3
    assert ledger.entry(1)["type"] == "scan.made"
    made = ledger.entry(2)
    assert made["type"] == "anonymization.made"
    assert made["payload"]["output_sha256"] == release.output_sha256
    assert made["payload"]["privacy_models"] == ["2-anonymity"]
    assert "11010519491231002X" not in json.dumps(made)
    Store.dispose_all()


# ------------------------------------------------------------ nothing personal in any string


@pytest.mark.parametrize(
    ("where", "event"),
    [
        ("the subject", Event("test.event", "tester", "11010519491231002X", {})),
        ("the actor", Event("test.event", "13812345678", "s", {})),
        ("payload (a key)", Event("test.event", "tester", "s", {"11010519491231002X": 1})),
        ("payload.note", Event("test.event", "tester", "s", {"note": "ID 110105 19491231 002X"})),
        ("payload.note", Event("test.event", "tester", "s", {"note": "no.11010519491231002Xabc"})),
        ("payload.note", Event("test.event", "tester", "s", {"note": "tel 138-1234-5678"})),
        ("payload.cols[1]", Event("test.event", "tester", "s", {"cols": ["a", "x@example.org"]})),
        ("payload.card", Event("test.event", "tester", "s", {"card": "6222 0212 3456 7894"})),
    ],
)
def test_every_string_of_an_entry_is_checked_for_identifiers(
    tmp_path: Path, where: str, event: Event
) -> None:
    ws = load_settings(tmp_path / "ws")
    init_workspace(ws)
    ledger = open_ledger(ws)
    with pytest.raises(InvalidInputError) as caught, ledger.store.transaction() as session:
        ledger.append_many(session, [event])
    message = str(caught.value)
    assert message.startswith(f"ledger entry: {where} holds what looks like"), message
    assert not any(v in message for v in ("1101051949", "1381234", "x@example", "6222"))
    assert ledger.size() == 1
    Store.dispose_all()


def test_decimal_fractions_are_numbers_not_identifiers(tmp_path: Path) -> None:
    """A risk written as a decimal whose fraction digits happen to pass a resident ID's or a
    card's check (``custodes demo --rows 2000`` wrote one) is a parameter, not an identifier;
    the same digits standing alone, or after text, are still refused."""
    ws = load_settings(tmp_path / "ws")
    init_workspace(ws)
    ledger = open_ledger(ws)
    numbers = {"average_risk": "0.110105194912310011", "share": "3.6222021234567894", "n": "12"}
    with ledger.store.transaction() as session:
        ledger.append(session, "test.event", "tester", "s", numbers)
    for text in ("110105194912310011", "ID.110105194912310011", "v1.2, 110105194912310011"):
        with pytest.raises(InvalidInputError), ledger.store.transaction() as session:
            ledger.append(session, "test.event", "tester", "s", {"note": text})
    assert ledger.size() == 2
    Store.dispose_all()


def test_with_the_recognizers_names_and_addresses_are_refused_too(tmp_path: Path) -> None:
    from custodes.detect import personal_data_in

    ws = load_settings(tmp_path / "ws")
    init_workspace(ws)
    plain, screened = open_ledger(ws), open_ledger(ws, screen=personal_data_in)
    for payload in ({"columns": ["张伟", "性别"]}, {"where": "北京市朝阳区建国路88号"}):
        with (
            pytest.raises(InvalidInputError, match="is or holds personal data") as caught,
            screened.store.transaction() as session,
        ):
            screened.append(session, "test.event", "tester", "s", payload)
        assert "张伟" not in str(caught.value)
        assert "建国路" not in str(caught.value)
    with plain.store.transaction() as session:  # the ledger alone knows no names
        plain.append(session, "test.event", "tester", "s", {"columns": ["性别"]})
    Store.dispose_all()


def test_column_names_that_are_personal_data_reach_the_ledger_hashed(tmp_path: Path) -> None:
    """A header-less file read with --header: the first person's data as column names."""
    import hashlib

    import polars as pl

    from custodes import Workspace

    settings = load_settings(tmp_path / "ws")
    init_workspace(settings)
    first = ["王秀英", "北京市朝阳区建国路88号", "11010519491231002X", "女"]
    frame = pl.DataFrame(
        {first[0]: ["李娜", "张伟"] * 10, first[1]: ["上海市徐汇区漕溪北路1号"] * 20,
         first[2]: ["11010519491231002X"] * 20, first[3]: ["男", "女"] * 10}
    )  # fmt: skip
    Workspace(settings).scan(frame)
    export = tmp_path / "export.jsonl"
    open_ledger(settings).export(export)
    text = export.read_text(encoding="utf-8")
    assert not [v for v in first[:3] if v in text]
    for value in first[:3]:
        assert "sha256:" + hashlib.sha256(value.encode()).hexdigest() in text
    Store.dispose_all()


def test_a_signature_with_its_unused_base64_bits_changed_is_caught(
    sealed_export: tuple[list[bytes], Path], tmp_path: Path
) -> None:
    """'...Dg==' and '...Dj==' decode to the same bytes: the export must still differ."""
    import base64

    lines, public = sealed_export
    for index in (_entry_lines(lines)[5], len(lines) - 1):
        line = lines[index]
        cut = line.rindex(b'=="}') if b'=="}' in line else line.rindex(b'="}')
        alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        last = alphabet.index(line[cut - 1 : cut])
        other = alphabet[last ^ 1 : (last ^ 1) + 1]
        changed = line[: cut - 1] + other + line[cut:]
        start = changed.rindex(b'"signature":"') + len(b'"signature":"')
        assert base64.b64decode(changed[start : changed.rindex(b'"')]) == base64.b64decode(
            line[start : line.rindex(b'"')]
        )
        altered = list(lines)
        altered[index] = changed
        assert "canonical" in _verify_lines(altered, public, tmp_path)


@pytest.mark.parametrize(
    "change",
    ["huge_index", "nested_header", "huge_size", "float_in_entry", "repeated_head", "version_true",
     "head_missing_field"],
)  # fmt: skip
def test_hostile_exports_are_tampered_never_internal_errors(
    sealed_export: tuple[list[bytes], Path], tmp_path: Path, change: str
) -> None:
    lines, public = sealed_export
    at = _entry_lines(lines)
    changed = list(lines)
    if change == "huge_index":
        changed[at[1]] = lines[at[1]].replace(b'"index":1,', b'"index":' + b"1" * 5000 + b",")
    elif change == "nested_header":
        changed[0] = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    elif change == "huge_size":
        changed[0] = lines[0].replace(b'"size":31', b'"size":' + b"9" * 5000)
    elif change == "float_in_entry":
        changed[at[3]] = lines[at[3]].replace(b'"n":2}', b'"n":2.0}')
    elif change == "repeated_head":
        changed.append(lines[-1])
    elif change == "version_true":
        changed[0] = lines[0].replace(b'"version":1', b'"version":true')
    else:
        changed[-1] = lines[-1].replace(b'"size":31,', b"")
    _verify_lines(changed, public, tmp_path)  # a TamperedError (exit 3), nothing else


def test_a_folder_or_a_hostile_head_file_is_bad_input(tmp_path: Path) -> None:
    from custodes.errors import DataFileError

    ws = load_settings(tmp_path / "ws")
    init_workspace(ws)
    key = load_public_key(ws.signing_key_path().with_suffix(".pub"))
    with pytest.raises(DataFileError, match="is a folder"):
        verify_export(tmp_path, key)
    with pytest.raises(DataFileError, match="cannot be read"):
        load_head(tmp_path, key)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidInputError):
        load_head(deep, key)
    huge = tmp_path / "huge.json"
    huge.write_text('{"head": {"size": 1e400}, "signature": ""}')
    with pytest.raises(InvalidInputError):
        load_head(huge, key)
    Store.dispose_all()


def test_new_ids_never_read_as_personal_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request id of 12 random hex digits can start with 11 digits that read as a mobile
    number (16148690816a): the ledger would refuse the entry naming it. It is drawn again."""
    import uuid

    from custodes.ledger import _screen, new_id

    drawn = iter([uuid.UUID("16148690816a" + "0" * 20), uuid.UUID("abcdef012345" + "0" * 20)])
    monkeypatch.setattr(_screen.uuid, "uuid4", lambda: next(drawn))
    assert new_id(12) == "abcdef012345"
    assert _screen.redacted("id 16148690816a") == "id [a phone number]a"
