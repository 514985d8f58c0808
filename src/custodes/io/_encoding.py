"""Text encodings: detect one from a sample, then validate or transcode a file.

Detection looks at the first 64 KiB: a byte-order mark decides at once; pure
ASCII is read as UTF-8 (with no evidence either way, see below); otherwise
strict UTF-8, then GB18030 (which also reads GBK and GB2312) when most
non-ASCII characters are common Chinese ones (a few bad bytes, such as one
line saved in UTF-8, then fail the read naming their line), then cp1252,
then Latin-1. The two Western encodings are chosen only when they are
plausible: no control characters, and non-ASCII bytes mostly alone between
ASCII ones (accented letters), not in runs (the bytes of multibyte
characters, which Latin-1 would silently garble). Text that fits none of
them fails naming the line of its first byte that is not UTF-8.

polars reads only UTF-8, so a file in any other encoding is transcoded, in
1 MiB chunks with an incremental decoder, to a UTF-8 copy in one temporary
folder per process (honouring ``TMPDIR``), removed when the interpreter exits.
Copies are reused while the file's size and modification time are unchanged.
UTF-8 files are read in place after a fast validation pass. When a sample was
pure ASCII and a later byte is not UTF-8, detection runs again on the bytes
from there, so a long ASCII prefix does not hide a GBK file.
"""

from __future__ import annotations

import atexit
import codecs
import os
import re
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from custodes.errors import DataFileError, EncodingError, SettingError, closest

__all__ = ["SAMPLE_BYTES", "Detected", "detect", "normalize", "open_utf8", "text_sample", "to_utf8"]

SAMPLE_BYTES = 64 * 1024
_CHUNK = 1024 * 1024
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_COMMON = ("utf-8", "gb18030", "cp1252", "latin-1")
_NAMES = (*_COMMON, "utf-8-sig", "utf-16", "gbk", "gb2312", "big5", "shift_jis", "iso8859-15")


@dataclass(frozen=True)
class Detected:
    """The encoding chosen for a file and how it was chosen."""

    encoding: str
    tried: tuple[str, ...]
    evidence: bool = True  # False when the sample was pure ASCII
    forced: bool = False
    plausible: bool = True  # False when no encoding tried fits the text


def normalize(name: str) -> str:
    """The canonical codec name for ``name``, or a :class:`SettingError`."""
    try:
        info = codecs.lookup(name)
        if not getattr(info, "_is_text_encoding", True):
            raise SettingError(
                f"encoding {name!r} is a {info.name} codec, not a text encoding; give one such "
                f"as {', '.join(_COMMON)}."
            )
        return info.name
    except LookupError:
        hint = closest(name, _NAMES)
        suggestion = f" Did you mean {hint!r}?" if hint else ""
        raise SettingError(
            f"encoding {name!r} is not known.{suggestion} Common ones: {', '.join(_COMMON)}."
        ) from None


def is_utf8(encoding: str) -> bool:
    """Whether polars can read text in ``encoding`` directly."""
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def _decodes(sample: bytes, encoding: str, final: bool) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(sample, final)
    except UnicodeDecodeError:
        return None


def _mostly_utf8(sample: bytes) -> bool:
    """Many valid UTF-8 sequences and few bad ones: a UTF-8 file with damage."""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(sample, False)
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good >= 4 and good >= 4 * bad


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _looks_chinese(text: str) -> bool:
    """Most non-ASCII characters are common (GB2312) Chinese characters, none private-use.

    Big5 or Shift-JIS bytes often decode as GB18030 too, but then give
    private-use characters (U+E000 to U+F8FF), which real text does not hold.
    """
    wide = [ch for ch in text if ord(ch) > 127]
    if any("\ue000" <= ch <= "\uf8ff" for ch in wide):
        return False
    return bool(wide) and sum(map(_in_gb2312, wide)) * 2 >= len(wide)


def _mostly_gb18030(sample: bytes) -> bool:
    """Chinese text in GB18030 with a few bytes that are not (a line saved in UTF-8)."""
    text = codecs.getincrementaldecoder("gb18030")("replace").decode(sample, False)
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good >= 4 and good >= 4 * bad and _looks_chinese(text.replace("\ufffd", ""))


_CONTROLS = frozenset(range(32)) - {9, 10, 12, 13}


def _western(sample: bytes) -> bool:
    """Whether a one-byte Western encoding is plausible for ``sample``.

    No control characters, and at most a quarter of the non-ASCII bytes in
    runs of two or more: Western text has accented letters between ASCII
    ones; the bytes of multibyte (e.g. Chinese or Japanese) characters come
    in runs.
    """
    if any(byte in _CONTROLS for byte in sample[:SAMPLE_BYTES]):
        return False
    runs = re.findall(rb"[\x80-\xff]+", sample)
    wide = sum(len(run) for run in runs)
    in_runs = sum(len(run) for run in runs if len(run) > 1)
    return in_runs * 4 <= wide


def detect(sample: bytes, *, at_eof: bool) -> Detected:
    """Choose an encoding for a file whose first bytes are ``sample``."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return Detected(encoding, (encoding,))
    if sample.isascii():
        return Detected("utf-8", ("utf-8",), evidence=False)
    if _decodes(sample, "utf-8", at_eof) is not None or _mostly_utf8(sample):
        return Detected("utf-8", ("utf-8",))
    text = _decodes(sample, "gb18030", at_eof)
    if (text is not None and _looks_chinese(text)) or _mostly_gb18030(sample):
        return Detected("gb18030", ("utf-8", "gb18030"))
    if _western(sample):
        if _decodes(sample, "cp1252", at_eof) is not None:
            return Detected("cp1252", ("utf-8", "gb18030", "cp1252"))
        return Detected("latin-1", _COMMON)
    # Nothing fits: fail at the first byte that is not UTF-8, naming its line.
    return Detected("utf-8", _COMMON, plausible=False)


def _encoding_error(
    shown: str, det: Detected, exc: UnicodeDecodeError, offset: int, line: int
) -> EncodingError:
    untried = [e for e in _COMMON if e not in det.tried]
    other = untried[0] if untried else "latin-1"
    if not det.plausible:
        return EncodingError(
            f"{shown!r} is not text in any encoding tried ({', '.join(det.tried)}): the bytes "
            f"at offset {offset} (line {line}) are not UTF-8, the text is not Chinese in "
            "GB18030, and it has runs of non-ASCII bytes (multibyte characters) that cp1252 "
            "or latin-1 would garble. If you know the file's encoding, force it, e.g. "
            "encoding='big5' or 'shift_jis' (CLI: --encoding NAME); if parts of the file are "
            "in different encodings, convert it to UTF-8 first."
        )
    why = "you asked for it" if det.forced else "it was detected from the first 64 KiB"
    if det.encoding == "gb18030" and not det.forced:
        return EncodingError(
            f"{shown!r} does not decode as gb18030 ({why}): the bytes at offset {offset} "
            f"(line {line}) are invalid ({exc.reason}); that line may be in another encoding "
            "(such as UTF-8) than the rest of the file. Save the whole file in one encoding "
            "(UTF-8 is best); if it is not Chinese text, force its encoding with "
            "encoding='NAME' (CLI: --encoding NAME)."
        )
    return EncodingError(
        f"{shown!r} does not decode as {det.encoding} ({why}): the bytes at offset {offset} "
        f"(line {line}) are invalid ({exc.reason}). Encodings tried: {', '.join(det.tried)}. "
        f"If you know the file's encoding, force it with encoding='{other}' "
        f"(CLI: --encoding {other}); latin-1 reads any bytes but may garble text."
    )


def _pass(path: Path, shown: str, det: Detected, out: Path | None) -> tuple[int, bytes] | None:
    """Decode ``path`` (writing UTF-8 to ``out``); on failure return (offset, bytes after)."""
    decoder = codecs.getincrementaldecoder(det.encoding)("strict")
    offset = 0
    lines = 1
    with open(path, "rb") as src, open(out or os.devnull, "wb") as dst:
        while True:
            chunk = src.read(_CHUNK)
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(chunk, not chunk)
            except UnicodeDecodeError as exc:
                data = pending + chunk
                at = offset - len(pending) + exc.start
                good = codecs.decode(data[: exc.start], det.encoding, "replace")
                if det.evidence or det.forced:
                    raise _encoding_error(shown, det, exc, at, lines + good.count("\n")) from None
                return at, data[exc.start :] + src.read(SAMPLE_BYTES)
            lines += text.count("\n")
            if out is not None:
                dst.write(text.encode("utf-8"))
            if not chunk:
                return None
            offset += len(chunk)


_lock = threading.Lock()
_copies: dict[tuple[str, int, int, str], Path] = {}
_tmp: list[tempfile.TemporaryDirectory[str]] = []


def _temp_dir() -> Path:
    if not _tmp:
        folder = tempfile.TemporaryDirectory(prefix="custodes-io-")
        atexit.register(folder.cleanup)
        _tmp.append(folder)
    return Path(_tmp[0].name)


def _transcode(path: Path, shown: str, det: Detected) -> Path:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, det.encoding)
    with _lock:
        if key in _copies and _copies[key].exists():
            return _copies[key]
        fd, name = tempfile.mkstemp(suffix=".csv", dir=_temp_dir())
    os.close(fd)
    out = Path(name)
    try:
        _pass(path, shown, replace(det, evidence=True), out)
    except EncodingError:
        out.unlink(missing_ok=True)
        raise
    except OSError as exc:
        out.unlink(missing_ok=True)
        raise DataFileError(
            f"cannot write a UTF-8 copy of {shown!r} to {out.parent}: "
            f"{exc.strerror or exc}. Set TMPDIR to a folder with more space."
        ) from None
    with _lock:
        _copies[key] = out
    return out


def to_utf8(path: Path, shown: str, det: Detected) -> tuple[Path, Detected]:
    """A UTF-8 file with the text of ``path`` (itself, or a transcoded copy)."""
    if not is_utf8(det.encoding):
        return _transcode(path, shown, det), det
    failure = _pass(path, shown, det, None)
    if failure is None:
        return path, det
    # A pure-ASCII sample said nothing; detect again where the ASCII ends.
    _, rest = failure
    again = detect(rest, at_eof=False)
    tried = (*det.tried, *(e for e in again.tried if e not in det.tried))
    det = replace(again, tried=tried)
    if is_utf8(det.encoding):
        _pass(path, shown, det, None)  # raises the error at the bad byte
        return path, det
    return _transcode(path, shown, det), det


def text_sample(path: Path) -> tuple[str, bool]:
    """The first 64 KiB of a UTF-8 file (at least one whole line), and whether more follows."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        text = file.read(SAMPLE_BYTES)
        while "\n" not in text and (more := file.read(SAMPLE_BYTES)):
            text += more
        return text, bool(file.read(1))


def open_utf8(path: Path, shown: str, encoding: str | None) -> tuple[Path, Detected]:
    """Detect (or take) the encoding of ``path`` and give a UTF-8 file to read."""
    with open(path, "rb") as file:
        sample = file.read(SAMPLE_BYTES)
        at_eof = not file.read(1)
    if encoding is None:
        return to_utf8(path, shown, detect(sample, at_eof=at_eof))
    name = normalize(encoding)
    return to_utf8(path, shown, Detected(name, (name,), forced=True))
