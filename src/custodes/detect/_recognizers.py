r"""The recognizer registry: what a value of each kind of personal data looks like.

A :class:`Recognizer` is a regular expression a whole cell must match (after
one of a few normalisations), an optional vectorised validator (check digits,
real dates, registries), the confidence a validated value earns, and the
evidence a column name can add. Recognizers with a ``span`` pattern are also
searched inside free text (and masked there by the ``redact`` action).

Validators are exact where a standard defines a check (resident ID, credit
code, Luhn, IBAN, SSN, phone number ranges from libphonenumber's metadata);
types without one (passports, plates, names) rely on shape and column context
and carry lower confidence.

Span patterns take whole runs (all the digits in a row, all the letters and
digits): a phone number's digits inside an 18-digit order number are not a
phone number, because the run they are in is not one.

Recognizers are data: the engine evaluates the shapes and span patterns (its
regular expressions: ``\d`` and ``\s`` are Unicode-aware) and the validators
run on what it finds, as ``pyarrow`` arrays (their own patterns are RE2, with
``\p{Nd}`` where the engine's patterns say ``\d``).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from custodes._divisions import loc_dat
from custodes.detect._lexicon import ADDRESS_MARKERS, COMPOUND_SURNAMES, SURNAMES
from custodes.detect._validate import (
    DIGIT,
    NOT_DIGIT,
    SPACE,
    Strings,
    booleans,
    byte_lengths,
    bytes_matrix,
    chunks,
    contains,
    decimals,
    groups,
    iban_pattern,
    iban_valid,
    integers,
    is_in,
    judged,
    luhn_valid,
    plain,
    ric15_valid,
    ric18_valid,
    ssn_valid,
    take,
    uscc_plausible,
    valid_dates,
)
from custodes.engines._detect import DetectOps, Matches, Shape, SpanSearch, Variant

__all__ = [
    "RECOGNIZERS",
    "Recognizer",
    "Role",
    "Variant",
    "local_engine",
    "recognizer",
    "validated",
    "validated_hits",
]

BoolArray = npt.NDArray[np.bool_]
Role = Literal["identifying", "quasi_identifying", "sensitive"]


@dataclass(frozen=True)
class Recognizer:
    """One kind of personal data."""

    name: str
    entity: str
    description: str
    pattern: str
    """A regular expression the whole normalised cell must match."""
    role: Role
    confidence: float
    """Confidence in a value that matches (and passes ``validate``)."""
    variant: Variant = "compact"
    """How a cell is normalised before matching (see :data:`Variant`)."""
    validate: Callable[[Strings], BoolArray] | None = field(default=None, repr=False)
    """Takes the normalised values that match ``pattern`` (strings, no nulls)."""
    shape_confidence: float | None = None
    """Confidence in a value of the right shape that fails ``validate``; None: not reported."""
    shape_pattern: str | None = None
    """What a failing value must also match to be reported as shape-only (None: ``pattern``)."""
    span: str | None = None
    """A regular expression for candidates inside free text (None: not searched there)."""
    categories: tuple[str, ...] = ()
    """Sensitive personal information categories (GB/T 35273 Appendix B, PIPL Art. 28)."""
    needs_hint: bool = False
    """Reported only when the column name supports it (the shape alone is too common)."""
    contains_any: tuple[tuple[str, ...], ...] = field(default=(), repr=False)
    """Word lists: a matching cell must also contain a word of each (see :class:`Shape`)."""
    chunked: bool = True
    """``validate`` may judge the values a chunk at a time (:func:`judged`); False for a
    validator that parses each distinct value once and so wants them all together."""

    @property
    def shape(self) -> Shape:
        """The shape an engine looks for (the validator runs on what it finds)."""
        return Shape(self.variant, self.pattern, self.contains_any)

    def judge(self, values: Strings) -> tuple[BoolArray, pa.ChunkedArray]:
        """Whether each value (normalised, of the right shape) passes ``validate``, and the
        values as ``large_string`` (see :func:`judged`)."""
        if self.validate is None:
            whole = pa.chunked_array(list(chunks(values)), type=pa.large_string())
            return np.ones(len(values), dtype=bool), whole
        if not self.chunked:
            whole = plain(values)
            return np.asarray(self.validate(whole), dtype=bool), pa.chunked_array([whole])
        return judged(self.validate, values)


@functools.cache
def local_engine() -> DetectOps:
    """The engine that searches values already in memory (samples, short lists of strings)."""
    from custodes.engines import get_engine

    return get_engine()


def validated(r: Recognizer, found: Matches) -> Matches:
    """The matches of ``r``'s shape that pass its validator."""
    if r.validate is None or len(found.values) == 0:
        return found
    ok, values = r.judge(found.values)
    return Matches(found.rows[ok], values.filter(pa.array(ok, type=pa.bool_())))


def validated_hits(
    values: Strings,
    chosen: Sequence[Recognizer],
    search: Callable[[Recognizer], SpanSearch],
    engine: DetectOps | None = None,
) -> list[Matches]:
    """Per recognizer of ``chosen``, every candidate of ``values`` (the position of its value
    and its normalised form) that has its shape and passes its validator.

    ``search(r)`` says what the candidates of ``r`` are in each value (the runs of ``r``'s
    span pattern in a text, the whole value, ...). The engine runs the searches in parallel.
    """
    engine = engine or local_engine()
    found = engine.span_matches(values, [search(r) for r in chosen])
    return [validated(r, hits) for r, hits in zip(chosen, found, strict=True)]


# ---------------------------------------------------------------- validators


def _phone_pattern(kind: str) -> str:
    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert meta is not None
    desc = meta.mobile if kind == "mobile" else meta.fixed_line
    assert desc is not None
    assert desc.national_number_pattern is not None
    return desc.national_number_pattern


@functools.cache
def _cn_mobile() -> str:
    return rf"^(?:\+?86|0086)?(?:{_phone_pattern('mobile')})$"


@functools.cache
def _cn_landline() -> str:
    national = _phone_pattern("fixed")
    return rf"^(?:(?:\+?86|0086)(?:{national})|0(?:{national}))$"


def _parsed_ok(values: Strings, ok: Callable[[str], bool]) -> BoolArray:
    """``ok`` of each value, each distinct value judged once."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    good = pa.array([v for v in pc.unique(values).to_pylist() if ok(v)], type=values.type)
    return booleans(pc.is_in(values, value_set=good))


def _international_phone(values: Strings) -> BoolArray:
    """E.164 numbers valid under libphonenumber (each distinct value parsed once)."""

    def ok(text: str) -> bool:
        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(text, None))
        except phonenumbers.NumberParseException:
            return False

    return _parsed_ok(values, ok)


def _bank_card(values: Strings) -> BoolArray:
    """Luhn, and not an 18-digit resident ID with a typo (a real date and region inside)."""
    ok = luhn_valid(values)
    eighteen = byte_lengths(values) == 18
    if eighteen.any():
        rows = np.flatnonzero(eighteen)
        m = take(values, rows)

        def number(start: int, stop: int) -> npt.NDArray[np.int64]:
            part = pc.cast(pc.utf8_slice_codeunits(m, start, stop), pa.int64())
            return np.asarray(part.to_numpy(zero_copy_only=False), dtype=np.int64)

        year, month, day = number(6, 10), number(10, 12), number(12, 14)
        dated = valid_dates(year, month, day) & (year >= 1900) & (year <= date.today().year)
        region = is_in(pc.utf8_slice_codeunits(m, 0, 6), _county_codes())
        ok[rows[dated & region]] = False
    return ok


@functools.cache
def _county_codes() -> frozenset[str]:
    return frozenset(c for c in loc_dat() if len(c) == 6)


def _ipv6(values: Strings) -> BoolArray:
    def ok(text: str) -> bool:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            return False
        return True

    return _parsed_ok(values, ok)


_DATE = (
    rf"^(?P<year>{DIGIT}{{4}}){NOT_DIGIT}?(?P<month>{DIGIT}{{1,2}}){NOT_DIGIT}?"
    rf"(?P<day>{DIGIT}{{1,2}})"
)
"""Year, month and day at the start of a text (RE2)."""


_FIXED_DATES = {10: ([0, 1, 2, 3], [5, 6], [8, 9]), 8: ([0, 1, 2, 3], [4, 5], [6, 7])}
"""Byte positions of year, month and day in ``1990-05-06`` (any one-byte separators) and
``19900506``: what :data:`_DATE` takes out of them."""


def _gaps(width: int) -> npt.NDArray[np.bool_]:
    """The separator positions of :data:`_FIXED_DATES`' form of ``width`` bytes."""
    gaps = np.zeros(width, dtype=bool)
    if width == 10:
        gaps[[4, 7]] = True
    return gaps


def _digits(chars: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    out = np.zeros(len(chars), dtype=np.int64)
    for j in range(chars.shape[1]):
        out = out * 10 + (chars[:, j].astype(np.int64) - 48)
    return out


def date_parts(values: Strings, whole: bool = True) -> tuple[BoolArray, npt.NDArray[np.int64]]:
    """Whether each value is a real date from 1900 to today, and its year (0: none).

    With ``whole``, nothing but one separator may follow the day."""
    year, month, day = (np.zeros(len(values), dtype=np.int64) for _ in range(3))
    rest = np.ones(len(values), dtype=bool)
    lengths = byte_lengths(values)
    for width, (y, m, d) in _FIXED_DATES.items():  # 1990-05-06, 19900506: no regex needed
        rows = np.flatnonzero(lengths == width)
        if not len(rows):
            continue
        chars = bytes_matrix(take(values, rows), width)
        digit = (chars >= 48) & (chars <= 57)
        fits = digit[:, [*y, *m, *d]].all(axis=1) & ~digit.any(axis=1, where=_gaps(width))
        rows, chars = rows[fits], chars[fits]
        year[rows], month[rows], day[rows] = (_digits(chars[:, p]) for p in (y, m, d))
        rest[rows] = False
    if rest.any():
        rows = np.flatnonzero(rest)
        pattern = _DATE + (f"{NOT_DIGIT}?$" if whole else "")
        parts = groups(take(values, rows), pattern)
        year[rows], month[rows], day[rows] = (integers(part) for part in parts)
    ok = valid_dates(year, month, day)
    today = date.today()
    ordinal = year * 10_000 + month * 100 + day
    recent = ordinal <= today.year * 10_000 + today.month * 100 + today.day
    return np.asarray(ok & (year >= 1900) & recent), year


def _birth_date(values: Strings) -> BoolArray:
    return date_parts(values)[0]


_DECIMAL = rf"-?{DIGIT}{{1,3}}\.{DIGIT}+"
_GPS = rf"^(?P<a>{_DECIMAL})[,\x{{FF0C}};{SPACE}]+(?P<b>{_DECIMAL})$"
"""Latitude and longitude (or the reverse) in decimal degrees (RE2)."""


def _gps(values: Strings) -> BoolArray:
    a, b = groups(values, _GPS)
    lat, lon = decimals(a, 999.0), decimals(b, 999.0)
    latlon = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    lonlat = (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    return np.asarray(latlon | lonlat)


# Places end in the name of their level: 朝阳区 and 高县 are not people, though 朝 and 高
# are surnames.
PLACE_SUFFIX = r"(?:省|市|区|县|旗|盟|州|自治州|街道|镇|乡|苏木|社区|村|居委会|村委会|嘎查)$"


def _person_name(values: Strings) -> BoolArray:
    first = pc.utf8_slice_codeunits(values, 0, 1)
    first_two = pc.utf8_slice_codeunits(values, 0, 2)
    long = np.asarray(pc.utf8_length(values).to_numpy(zero_copy_only=False)) >= 3
    surname = is_in(first, SURNAMES) | (is_in(first_two, COMPOUND_SURNAMES) & long)
    return np.asarray(surname & ~contains(values, PLACE_SUFFIX))


def _place(values: Strings) -> BoolArray:
    """A place by its level's suffix (县, 街道, 村 ...) or a division name of the registry."""
    return np.asarray(contains(values, PLACE_SUFFIX) | is_in(values, _division_names()))


@functools.cache
def _division_names() -> tuple[str, ...]:
    """Names of provinces, prefectures and counties (current and former), 2+ characters."""
    names = {e.name for entries in loc_dat().values() for e in entries}
    generic = ("市辖区", "县", "省直辖县级行政区划")
    return tuple(sorted(n for n in names if len(n) >= 2 and n not in generic))


# ---------------------------------------------------------------- the registry

_ALNUM = "A-HJ-NP-Z0-9"
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"

RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer(
        "cn_resident_id",
        "CN_RESIDENT_ID",
        "PRC resident identity number (GB 11643-1999, 18 characters, MOD 11-2)",
        r"^\d{17}[0-9X]$",
        "identifying",
        0.99,
        validate=ric18_valid,
        span=r"\d+[Xx]?",  # whole digit runs: an ID inside a longer number is not one
        categories=("identity_document",),
    ),
    Recognizer(
        "cn_resident_id_15",
        "CN_RESIDENT_ID",
        "PRC first-generation resident identity number (15 digits, no check digit)",
        r"^\d{15}$",
        "identifying",
        0.6,
        validate=ric15_valid,
        categories=("identity_document",),
    ),
    Recognizer(
        "cn_uscc",
        "CN_USCC",
        "unified social credit code (GB 32100-2015: mod 31, authority and type, region)",
        r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
        "identifying",
        0.98,
        validate=uscc_plausible,
        shape_confidence=0.6,
        shape_pattern=r"^.{8,16}[A-HJ-NPQRTUWXY]",  # a letter in the organisation part
        span=r"[0-9A-Z]+",
    ),
    Recognizer(
        "cn_mobile",
        "PHONE",
        "mainland mobile number (libphonenumber ranges; +86 / 0086 forms)",
        _cn_mobile(),
        "identifying",
        0.95,
        variant="phone",
        span=r"(?:\+86|0086)?[ -]?1[3-9]\d[ -]\d{4}[ -]\d{4}|\+?\d+[Xx]?",
    ),
    Recognizer(
        "cn_landline",
        "PHONE",
        "mainland landline number with area code (libphonenumber ranges)",
        _cn_landline(),
        "identifying",
        0.85,
        variant="phone",
        span=r"(?:\+86[ -]?|0)\d{2,3}-\d{7,8}",
    ),
    Recognizer(
        "e164_phone",
        "PHONE",
        "international phone number in E.164 form (libphonenumber)",
        r"^\+[1-9]\d{6,14}$",
        "identifying",
        0.9,
        variant="phone",
        validate=_international_phone,
        chunked=False,
    ),
    Recognizer(
        "cn_bank_card",
        "BANK_CARD",
        "UnionPay bank card number (62 prefix, 16-19 digits, Luhn)",
        r"^62\d{14,17}$",
        "identifying",
        0.95,
        validate=_bank_card,
        span=r"\d+[Xx]?",
        categories=("financial_account",),
    ),
    Recognizer(
        "credit_card",
        "CREDIT_CARD",
        "payment card number (Visa, Mastercard, Amex, Discover, JCB, Diners; Luhn)",
        r"^(?:4\d{12}(?:\d{3}|\d{6})?|5[1-5]\d{14}|2(?:2[2-9]\d|[3-6]\d\d|7[01]\d|720)\d{12}"
        r"|3[47]\d{13}|6(?:011|5\d\d)\d{12}|35(?:2[89]|[3-8]\d)\d{12,15}|3(?:0[0-5]|[68]\d)\d{11})$",
        "identifying",
        0.95,
        validate=luhn_valid,
        span=r"\d+[Xx]?",
        categories=("financial_account",),
    ),
    Recognizer(
        "iban",
        "IBAN",
        "international bank account number (ISO 13616, mod 97)",
        iban_pattern(),
        "identifying",
        0.98,
        validate=iban_valid,
        span=r"[A-Z0-9]+",
        categories=("financial_account",),
    ),
    Recognizer(
        "cn_passport",
        "PASSPORT",
        "PRC passport (E + 8 digits, E + letter + 7 digits; G, D, S, P + 8 digits)",
        r"^(?:E\d{8}|E[A-HJ-NP-Z]\d{7}|[GDSP]\d{8})$",
        "identifying",
        0.85,
        span=r"[A-Z0-9]+",
        categories=("identity_document",),
    ),
    Recognizer(
        "cn_travel_permit",
        "TRAVEL_PERMIT",
        "Hong Kong / Macao / Taiwan travel permit (C, W, H, M, L, T prefixes)",
        r"^(?:C[A-HJ-NP-Z0-9]\d{7}|W\d{8}|[HM]\d{8}(?:\d{2})?|[LT]\d{8})$",
        "identifying",
        0.8,
        categories=("identity_document",),
    ),
    Recognizer(
        "cn_vehicle_plate",
        "VEHICLE_PLATE",
        "mainland vehicle plate (province, letter, 5 characters; new-energy 6)",
        rf"^[{_PROVINCES}][A-HJ-NP-Z][-·・ ]?(?:[{_ALNUM}]{{4}}[{_ALNUM}挂学警港澳]"
        rf"|[DF][{_ALNUM}]{{5}}|[{_ALNUM}]{{5}}[DF])$",
        "identifying",
        0.9,
        variant="text",
        span=rf"[{_PROVINCES}][A-HJ-NP-Z][-·・ ]?[{_ALNUM}]{{5,6}}",
    ),
    Recognizer(
        "email",
        "EMAIL",
        "e-mail address",
        r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$",
        "identifying",
        0.95,
        variant="text",
        span=r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    ),
    Recognizer(
        "ipv4",
        "IP_ADDRESS",
        "IPv4 address",
        r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$",
        "identifying",
        0.8,
        variant="text",
        span=r"[0-9.]*\d",
    ),
    Recognizer(
        "ipv6",
        "IP_ADDRESS",
        "IPv6 address",
        r"^[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$",
        "identifying",
        0.9,
        variant="text",
        validate=_ipv6,
        chunked=False,
    ),
    Recognizer(
        "mac_address",
        "MAC_ADDRESS",
        "MAC address (colon, dash or dotted form)",
        r"(?i)^(?:[0-9A-F]{2}(?::[0-9A-F]{2}){5}|[0-9A-F]{2}(?:-[0-9A-F]{2}){5}"
        r"|[0-9A-F]{4}\.[0-9A-F]{4}\.[0-9A-F]{4})$",
        "identifying",
        0.9,
        variant="text",
        span=r"[0-9A-Fa-f]{2}(?:[:\-][0-9A-Fa-f]{2}){5}",
    ),
    Recognizer(
        "gps",
        "GPS",
        "latitude, longitude pair in decimal degrees",
        r"^-?\d{1,3}\.\d{3,}[,\x{FF0C};\s]+-?\d{1,3}\.\d{3,}$",
        "quasi_identifying",
        0.85,
        variant="text",
        validate=_gps,
        categories=("whereabouts",),
    ),
    Recognizer(
        "us_ssn",
        "US_SSN",
        "US social security number",
        r"^\d{9}$",
        "identifying",
        0.7,
        validate=ssn_valid,
        needs_hint=True,
        categories=("identity_document",),
    ),
    Recognizer(
        "date_of_birth",
        "DATE_OF_BIRTH",
        "a date from 1900 to today (a date of birth when the column name says so)",
        r"^\d{4}(?:-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2}|\.\d{1,2}\.\d{1,2}|年\d{1,2}月\d{1,2}日?|\d{4})$",
        "quasi_identifying",
        0.7,
        variant="text",
        validate=_birth_date,
    ),
    Recognizer(
        "cn_place",
        "PLACE",
        "Chinese place: a division (省, 市, 区, 县 ...), a township or street (镇, 乡, 街道) or "
        "a community or village (社区, 村)",
        r"^[\u4e00-\u9fff]{2,20}$",
        "quasi_identifying",
        0.7,
        variant="text",
        validate=_place,
    ),
    Recognizer(
        "cn_person_name",
        "PERSON_NAME",
        "Chinese personal name (a known surname and one to three more characters)",
        r"^[\u4e00-\u9fff]{2,4}$|^[\u4e00-\u9fff]{1,4}·[\u4e00-\u9fff]{1,8}$",
        "identifying",
        0.6,
        variant="text",
        validate=_person_name,
    ),
    Recognizer(
        "cn_address",
        "ADDRESS",
        "mainland address (a division name and a street-level marker)",
        r"^.*[\u4e00-\u9fff].*$",
        "identifying",
        0.75,
        variant="text",
        categories=(),
        # an address names a division and a street-level place (Aho-Corasick in the engine)
        contains_any=(_division_names(), tuple(ADDRESS_MARKERS)),
    ),
)


def recognizer(name: str) -> Recognizer:
    """The recognizer called ``name``."""
    for r in RECOGNIZERS:
        if r.name == name:
            return r
    raise KeyError(name)
