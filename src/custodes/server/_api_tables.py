"""The JSON API's uploads (``/api/v1``): a table registered, scanned or assessed."""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from custodes.errors import SettingError
from custodes.server._api import Srv, Who, shown
from custodes.server._core import Server

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
_UPLOAD_LIMIT = 2 * 1024**3


def _saved_upload(srv: Server, upload: UploadFile, *, keep: bool = True) -> Path:
    """The uploaded file, streamed to the workspace's uploads (mode 0600) within the size
    limit; nothing is left behind when it is refused. A file ``keep`` is named by its
    SHA-256 (a registered source); any other has a name of its own in ``uploads/scratch``,
    for its caller to remove (never a registered file of the same content)."""
    filename = upload.filename or "data.csv"
    suffix = "".join(Path(filename).suffixes)[-20:].lower()
    if not suffix or any(not (c.isalnum() or c == ".") for c in suffix):
        raise SettingError("the uploaded file needs a suffix such as .csv, .xlsx or .parquet.")
    folder = srv.workspace.path / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False) as out:
        os.chmod(out.name, 0o600)
        try:
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > _UPLOAD_LIMIT:
                    raise SettingError(
                        "the upload is larger than 2 GiB; register it from the command line."
                    )
                digest.update(chunk)
                out.write(chunk)
        except BaseException:
            out.close()
            os.unlink(out.name)
            raise
    name = digest.hexdigest() if keep else f"scratch/{secrets.token_hex(16)}"
    path = folder / f"{name}{suffix}"
    path.parent.mkdir(exist_ok=True)
    os.replace(out.name, path)
    return path


@router.post("/catalog/datasets", tags=["catalog"])
def post_dataset(
    who: Who,
    srv: Srv,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    department: Annotated[str, Form(min_length=1, max_length=100)],
    system: Annotated[str, Form(min_length=1, max_length=200)],
    file: Annotated[UploadFile, File(description="The data file (CSV, TSV, Excel, Parquet).")],
    has_header: Annotated[bool | None, Form()] = None,
) -> dict[str, Any]:
    """Register a dataset from an uploaded file (a steward): scanned, graded and hashed."""
    srv.governed(who, lambda g: g.require("steward"))
    path = _saved_upload(srv, file)
    try:
        return shown(
            srv.governed(
                who,
                lambda g: g.register_dataset(
                    name, department=department, system=system, source=path,
                    has_header=has_header,
                ),
            )
        )  # fmt: skip
    except BaseException:  # refused: the file goes unless a registered version is it
        with srv.locked():
            if not any(d["source"] == str(path) for d in srv.governed(who, lambda g: g.datasets())):
                path.unlink(missing_ok=True)
        raise


@router.post("/scan", tags=["tables"])
def post_scan(
    who: Who,
    srv: Srv,
    file: Annotated[UploadFile, File(description="The table to scan (CSV, Excel, ...).")],
    full: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    """Scan an uploaded table for personal data (a steward), as ``custodes scan``: roles,
    entities, the grade and its reasons; recorded on the ledger, the file not kept."""
    srv.governed(who, lambda g: g.require("steward", "admin"))
    path = _saved_upload(srv, file, keep=False)
    try:
        with srv.locked() as ws:
            return ws.scan(path, full=full, actor=who.actor).to_dict()
    finally:
        path.unlink(missing_ok=True)


@router.post("/assess", tags=["tables"])
def post_assess(
    who: Who,
    srv: Srv,
    file: Annotated[UploadFile, File(description="The table to assess.")],
    quasi_identifiers: Annotated[str, Form(min_length=1, max_length=4000)],
    sensitive: Annotated[str, Form(max_length=4000)] = "",
) -> dict[str, Any]:
    """The re-identification risk of an uploaded table (a steward), as ``custodes assess``
    (comma-separated column names); the file is not kept."""
    srv.governed(who, lambda g: g.require("steward", "admin"))
    path = _saved_upload(srv, file, keep=False)
    qis = [c.strip() for c in quasi_identifiers.split(",") if c.strip()]
    given = [c.strip() for c in sensitive.split(",") if c.strip()] or None
    try:
        with srv.locked() as ws:
            return ws.assess(path, quasi_identifiers=qis, sensitive=given).to_dict()
    finally:
        path.unlink(missing_ok=True)
