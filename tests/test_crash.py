"""Crash safety: killed commands leave nothing that looks finished, and leftovers are found.

Kills are real (SIGKILL to a subprocess at the worst moment) or simulated by
an exception in the middle; then `custodes doctor` and the audit report must
name what was left, and the next run of the same command must clean it up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from custodes import AnonymizationSpec, KAnonymity, Workspace
from custodes._files import StagedFile, stale_temporaries, write_atomic
from custodes.cli import main
from custodes.governance import audit_report
from custodes.hierarchy import Hierarchy
from custodes.ledger import open_ledger
from custodes.settings import Settings, load_settings
from custodes.workspace import init_workspace
from tests.test_governance import COLUMNS, _registered, _through_review, act, office  # noqa: F401
from tests.test_ledger import store_url  # noqa: F401

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kills processes with POSIX signals")

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _python(script: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env)


def _dead_pid() -> int:
    child = _python("pass")
    child.wait()
    return child.pid


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.custodes-*.tmp"))


def test_only_the_leftovers_of_dead_writers_are_stale_and_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    live = _python("import time; time.sleep(60)")
    try:
        left = tmp_path / f".out.csv.custodes-{dead}-abc123.tmp"
        busy = tmp_path / f".out.csv.custodes-{live.pid}-abc123.tmp"
        mine = tmp_path / f".out.csv.custodes-{os.getpid()}-abc123.tmp"
        other = tmp_path / f".other.csv.custodes-{dead}-abc123.tmp"
        for path in (left, busy, mine, other):
            path.write_text("half", encoding="utf-8")
        (tmp_path / ".user.tmp").write_text("not ours", encoding="utf-8")
        assert stale_temporaries(tmp_path) == sorted([left, other])
        write_atomic(tmp_path / "out.csv", "a\n1\n")
        assert not left.exists()  # the dead writer's leftover of the same file
        assert busy.exists()
        assert mine.exists()
        assert other.exists()  # another file's: its own next run removes it
        assert (tmp_path / ".user.tmp").exists()
        assert not [p for p in _temporaries(tmp_path) if p not in (busy, mine, other)]
    finally:
        live.kill()
        live.wait()


def _spec() -> AnonymizationSpec:
    return AnonymizationSpec(
        quasi_identifiers=("sex",),
        hierarchies={"sex": Hierarchy(rows=(("F", "*"), ("M", "*")))},
        models=(KAnonymity(2),),
    )


def _frame() -> pl.DataFrame:
    return pl.DataFrame({"sex": ["F", "M"] * 10, "n": list(range(20))})


@pytest.mark.parametrize("step", ["manifest", "ledger"])
def test_an_output_appears_only_with_its_manifest_and_ledger_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    settings = load_settings(tmp_path / "ws")
    init_workspace(settings)
    ws = Workspace(settings)
    output, manifest = tmp_path / "out" / "release.csv", tmp_path / "out" / "manifest.json"

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as a kill would, in the middle

    if step == "manifest":
        monkeypatch.setattr("custodes.workspace._tables.write_atomic", crash)
    else:
        monkeypatch.setattr(Workspace, "_record_anonymization", crash)
    with pytest.raises(KeyboardInterrupt):
        ws.anonymize(_frame(), _spec(), output=output, manifest=manifest)
    assert not output.exists()
    assert not manifest.exists()
    assert _temporaries(tmp_path) == []
    monkeypatch.undo()
    made = ws.anonymize(_frame(), _spec(), output=output, manifest=manifest)
    assert output.is_file()
    assert manifest.is_file()
    assert json.loads(manifest.read_text(encoding="utf-8"))["output"]["sha256"] == (
        made.output_sha256
    )
    entry = open_ledger(settings).entry(1)
    assert entry["type"] == "anonymization.made"
    assert entry["payload"]["manifest_path"] == os.path.relpath(
        manifest.resolve(), settings.workspace.resolve()
    )
    assert ws.doctor().healthy
    manifest.unlink()  # an output whose manifest is gone is reported
    found = ws.doctor().findings
    assert [(f.kind, f.path) for f in found] == [("missing_manifest", str(output.resolve()))]


_SLOW_ANONYMIZE = """
import sys, time
from pathlib import Path
import custodes.workspace._tables as w
from custodes.cli import main

original = w.file_sha256

def slow(path):
    digest = original(path)
    Path(sys.argv[1]).write_text("written", encoding="utf-8")  # the table is on disk
    time.sleep(120)
    return digest

w.file_sha256 = slow
sys.exit(main(sys.argv[2:]))
"""


def test_a_killed_anonymize_leaves_no_output_and_the_next_run_cleans_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    assert main(["init", "--workspace", str(ws)]) == 0
    data, out = tmp_path / "data.csv", tmp_path / "out"
    _frame().write_csv(data)
    (tmp_path / "sex.csv").write_text("F;*\nM;*\n", encoding="utf-8")
    argv = ["anonymize", str(data), "--output", str(out / "release.csv"), "--qi", "sex",
            "--hierarchy", f"sex={tmp_path / 'sex.csv'}", "--k", "2",
            "--manifest", str(out / "manifest.json"), "--workspace", str(ws)]  # fmt: skip
    marker = tmp_path / "written"
    child = _python(_SLOW_ANONYMIZE, str(marker), *argv)
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the anonymization never reached its write"
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    assert not (out / "release.csv").exists()  # nothing looks finished
    assert not (out / "manifest.json").exists()
    left = _temporaries(out)
    assert len(left) == 1
    assert left[0].name.startswith(f".release.csv.custodes-{child.pid}-")
    capsys.readouterr()
    assert main(["doctor", str(out), "--workspace", str(ws)]) == 1
    assert f"stale_temporary: {left[0]}" in capsys.readouterr().out
    assert main(argv) == 0, capsys.readouterr().err
    assert _temporaries(out) == []
    assert (out / "release.csv").is_file()
    assert (out / "manifest.json").is_file()
    capsys.readouterr()
    assert main(["doctor", str(out), "--workspace", str(ws), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []


def test_doctor_fix_removes_stale_temporaries_and_export_cleans_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    assert main(["init", "--workspace", str(ws)]) == 0
    dead = _dead_pid()
    export = tmp_path / "ledger.jsonl"
    left = tmp_path / f".ledger.jsonl.custodes-{dead}-k1ll3d.tmp"
    left.write_text('{"entry": half', encoding="utf-8")
    assert main(["ledger", "export", "--output", str(export), "--workspace", str(ws)]) == 0
    assert not left.exists()
    assert export.is_file()
    inside = ws / "releases" / "R-1" / f".staged.csv.custodes-{dead}-k1ll3d.tmp"
    inside.parent.mkdir(parents=True)
    inside.write_text("half", encoding="utf-8")
    capsys.readouterr()
    assert main(["doctor", "--workspace", str(ws)]) == 1
    assert str(inside) in capsys.readouterr().out
    assert main(["doctor", "--fix", "--workspace", str(ws)]) == 0
    assert "(removed)" in capsys.readouterr().out
    assert not inside.exists()
    assert main(["doctor", "--workspace", str(ws)]) == 0


_KILLED_STEP = """
import os, signal, sys
from custodes import Workspace
from custodes._files import StagedFile
from custodes.governance import Governance
from custodes.settings import load_settings

settings = load_settings(sys.argv[1], {"store_url": os.environ["TEST_STORE_URL"]})
step, request = sys.argv[2], sys.argv[3]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

steward = Governance(Workspace(settings), "stella")
if step == "release":
    original = StagedFile.commit

    def commit(self):
        original(self)
        die()  # the file is in place; the release is not committed

    StagedFile.commit = commit
    steward.release(request, recipient="Uni", terms="DUA")
else:
    Governance._gates = die  # the prepared file is written, not yet checked nor committed
    steward.prepare(request, sys.argv[4])
"""


def _killed(settings: Settings, *args: str) -> None:
    env_url = settings.database_url()
    os.environ["TEST_STORE_URL"] = env_url
    try:
        child = _python(_KILLED_STEP, str(settings.workspace), *args)
        assert child.wait(timeout=300) == -signal.SIGKILL
    finally:
        del os.environ["TEST_STORE_URL"]


def test_a_release_killed_before_its_commit_is_an_anomaly_until_released_again(
    office: tuple[Settings, Path],  # noqa: F811
) -> None:
    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    act(settings, "pat").decide(request, True, "ok")
    act(settings, "lee").decide(request, True, "ok")
    _killed(settings, "release", request)
    path = settings.workspace / "releases" / request / "release.csv"
    assert path.is_file()
    assert act(settings, "audrey").request(request).state == "approved"
    found = Workspace(settings).doctor().findings
    kinds = sorted((f.kind, Path(f.path).name.split(".custodes-")[0]) for f in found)
    # The file, and the recipient's manifest and the mosaic view still under their
    # temporary names.
    assert kinds == [
        ("stale_temporary", ".manifest.json"),
        ("stale_temporary", ".view.npz"),
        ("unreleased_artifact", "release.csv"),
    ]
    artifact = next(f for f in found if f.kind == "unreleased_artifact")
    assert artifact.path == str(path)
    assert "which is approved, not released" in artifact.detail
    anomalies = audit_report(act(settings, "audrey"), 2026)["anomalies"]
    assert any(str(path) in a and "not released" in a for a in anomalies)
    act(settings, "stella").release(request, recipient="Uni", terms="DUA")
    assert act(settings, "audrey").request(request).state == "released"
    assert Workspace(settings).doctor().healthy
    assert audit_report(act(settings, "audrey"), 2026)["anomalies"] == []


def test_a_release_whose_commit_fails_leaves_no_file(
    office: tuple[Settings, Path],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, folder = office
    _registered(settings, folder)
    request = _through_review(settings, folder)
    act(settings, "pat").decide(request, True, "ok")
    act(settings, "lee").decide(request, True, "ok")
    original = StagedFile.commit

    def commit(self: StagedFile) -> None:
        original(self)
        raise KeyboardInterrupt  # after the rename, before the store commits

    monkeypatch.setattr(StagedFile, "commit", commit)
    with pytest.raises(KeyboardInterrupt):
        act(settings, "stella").release(request, recipient="Uni", terms="DUA")
    releases = settings.workspace / "releases" / request
    assert not (releases / "release.csv").exists()
    assert _temporaries(releases) == []
    assert act(settings, "audrey").request(request).state == "approved"
    assert open_ledger(settings).entry(open_ledger(settings).size() - 1)["type"] != (
        "request.released"
    )
    assert Workspace(settings).doctor().healthy


def test_a_killed_preparation_is_cleaned_up_by_the_next(
    office: tuple[Settings, Path],  # noqa: F811
) -> None:
    settings, folder = office
    _registered(settings, folder)
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request,
        purpose="public_welfare",
        sharing_model="file_under_agreement",
        columns=COLUMNS,
        intended_use="study household sizes by county",
        term_end="2030-12-31",
    )
    act(settings, "stella").identify(request)
    _killed(settings, "prepare", request, str(folder / "plan.toml"))
    releases = settings.workspace / "releases" / request
    left = _temporaries(releases)
    assert len(left) == 1
    assert not (releases / "staged.csv").exists()
    found = Workspace(settings).doctor().findings
    assert [(f.kind, f.path) for f in found] == [("stale_temporary", str(left[0]))]
    act(settings, "stella").prepare(request, folder / "plan.toml")
    assert _temporaries(releases) == []
    assert (releases / "staged.csv").is_file()
    assert act(settings, "audrey").request(request).state == "processed"
    assert Workspace(settings).doctor().healthy


def test_a_preparation_refused_by_the_gates_leaves_no_file(
    office: tuple[Settings, Path],  # noqa: F811
) -> None:
    from custodes.errors import RefusedError
    from custodes.governance import Governance, GovernancePolicy

    settings, folder = office
    _registered(settings, folder)
    request = act(settings, "rita").file_request("register")
    act(settings, "rita").set_objectives(
        request,
        purpose="public_welfare",
        sharing_model="file_under_agreement",
        columns=COLUMNS,
        intended_use="study household sizes by county",
        term_end="2030-12-31",
    )
    act(settings, "stella").identify(request)
    policy = GovernancePolicy(min_k=10**5, sensitive_min_k=10**5)
    strict = Governance(Workspace(settings), "stella", policy)
    with pytest.raises(RefusedError, match="fails the policy's gate"):
        strict.prepare(request, folder / "plan.toml")
    releases = settings.workspace / "releases" / request
    assert not releases.exists() or list(releases.iterdir()) == []
    assert Workspace(settings).doctor().healthy
