"""A synthetic Chinese population register: realistic, reproducible, fast.

Every column is drawn with vectorised numpy from embedded public statistics and
stdnum's list of division codes, so 10 million rows take seconds and the same
seed always gives the same table. No real person's data is used.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from custodes.errors import SettingError
from custodes.synth._geography import (
    OLDEST_BIRTH_YEAR,
    REFERENCE_DATE,
    Geography,
    counties,
    pick_geography,
)
from custodes.synth._numbers import mobile_numbers, resident_ids
from custodes.synth._tables import (
    AGE_PYRAMID,
    BENEFITS,
    DIAGNOSES,
    DIAGNOSIS_AGE_BANDS,
    DIAGNOSIS_NONE,
    DIAGNOSIS_NONE_SHARE,
    FEMALE_CHARS,
    HOUSEHOLD_AGE_BANDS,
    HOUSEHOLD_SIZE,
    INCOME_BANDS,
    MALE_CHARS,
    NEUTRAL_CHARS,
    PHONE_PREFIXES,
    ROADS,
    SURNAMES,
)

__all__ = ["REFERENCE_DATE", "population_register"]

_IntArray = npt.NDArray[np.int64]
_FloatArray = npt.NDArray[np.float64]
_BoolArray = npt.NDArray[np.bool_]

_EPOCH = date(1970, 1, 1).toordinal()
_MOVE_WORKING_AGE = 0.19
"""Chance that someone aged 18-59 lives outside their home county."""
_MOVE_OTHERS = 0.08
"""The same chance for children and people aged 60 and over."""
_MOVE_PULL = 1.5
"""Movers pick a county with probability proportional to its size to this power."""

# Income: a latent score by age, place and sex plus noise, cut into the bands.
_INCOME_AGE = (0, 15, 16, 18, 22, 30, 40, 50, 60, 65, 75, 90, 101)
_INCOME_SCORE = (-4.0, -4.0, -2.5, -1.5, -0.3, 0.7, 0.9, 0.7, 0.3, -0.1, -0.4, -0.7, -0.8)
_INCOME_CUTS = (0.0, 1.0, 1.9, 2.7)
_INCOME_PROVINCE = {"11": 0.5, "31": 0.5, "12": 0.25, "32": 0.3, "33": 0.3, "44": 0.25, "35": 0.15}


def _check_count(value: object, name: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingError(f"{what}: {name} must be a whole number >= 0, got {value!r}.")
    return value


def _categorical(rng: np.random.Generator, group: _IntArray, table: _FloatArray) -> _IntArray:
    """For each row, a category index drawn with the weights of its group's row in ``table``."""
    out = np.zeros(len(group), dtype=np.int64)
    for g, weights in enumerate(table):
        rows = np.flatnonzero(group == g)
        if len(rows):
            out[rows] = rng.choice(len(weights), size=len(rows), p=weights / weights.sum())
    return out


def _band(values: _IntArray, lower_bounds: tuple[int, ...]) -> _IntArray:
    """Index of the band (given by its lower bounds, ascending) each value falls in."""
    return np.searchsorted(np.array(lower_bounds[1:]), values, side="right").astype(np.int64)


def _concat(parts: list[pl.Series | str]) -> pl.Series:
    """Row-wise concatenation of string Series and constant strings (nulls are skipped)."""
    columns = {f"_{i}": part for i, part in enumerate(parts) if isinstance(part, pl.Series)}
    exprs = [
        pl.col(f"_{i}") if isinstance(part, pl.Series) else pl.lit(part)
        for i, part in enumerate(parts)
    ]
    return pl.DataFrame(columns).select(pl.concat_str(exprs, ignore_nulls=True)).to_series()


def _birth_dates(rng: np.random.Generator, rows: int) -> tuple[_IntArray, _IntArray, _IntArray]:
    """Birth dates (days since 1970-01-01), ages on REFERENCE_DATE, and dates as YYYYMMDD."""
    ref = REFERENCE_DATE
    bounds = [*range(0, 100, 5), 101]

    def born_on_or_before(age: int) -> int:  # the last birthday of someone aged ``age``
        return date(ref.year - age, ref.month, ref.day).toordinal() - _EPOCH

    latest = np.array([born_on_or_before(a) for a in bounds[:-1]], dtype=np.int64)
    earliest = np.array([born_on_or_before(a) + 1 for a in bounds[1:]], dtype=np.int64)
    pyramid = np.array(AGE_PYRAMID, dtype=np.float64)
    group = rng.choice(len(pyramid), size=rows, p=pyramid / pyramid.sum())
    span = latest[group] - earliest[group] + 1
    days = earliest[group] + (rng.random(rows) * span).astype(np.int64)
    as_date = days.astype("datetime64[D]")
    year = as_date.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = as_date.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (as_date - month_start).astype(np.int64) + 1
    later_in_year = (month > ref.month) | ((month == ref.month) & (day > ref.day))
    age = ref.year - year - later_in_year
    return days, age, year * 10_000 + month * 100 + day


def _residence(
    rng: np.random.Generator, geo: Geography, home: _IntArray, age: _IntArray
) -> _IntArray:
    """Where each person lives (index into geo.home): home, or for movers another county."""
    chance = np.where((age >= 18) & (age < 60), _MOVE_WORKING_AGE, _MOVE_OTHERS)
    moving = np.flatnonzero(rng.random(len(home)) < chance)
    pull = geo.weight**_MOVE_PULL
    target = rng.choice(len(pull), size=len(moving), p=pull / pull.sum())
    for _ in range(3):  # someone who drew their own county draws again
        again = np.flatnonzero(target == home[moving])
        target[again] = rng.choice(len(pull), size=len(again), p=pull / pull.sum())
    residence = home.copy()
    residence[moving] = target
    return residence


def _names(rng: np.random.Generator, male: _BoolArray, birth_year: _IntArray) -> pl.Series:
    rows = len(male)
    surname_weight = np.array([w for _, w in SURNAMES])
    surname = pl.Series([s for s, _ in SURNAMES]).gather(
        rng.choice(len(SURNAMES), size=rows, p=surname_weight / surname_weight.sum())
    )
    chars = MALE_CHARS + FEMALE_CHARS + NEUTRAL_CHARS
    pool = pl.Series(list(chars))
    zipf = [1.0 / (i + 8) ** 0.8 for i in range(max(len(MALE_CHARS), len(FEMALE_CHARS)))]
    neutral = [0.6 / (i + 8) ** 0.8 for i in range(len(NEUTRAL_CHARS))]
    men = np.array(zipf[: len(MALE_CHARS)] + [0.0] * len(FEMALE_CHARS) + neutral)
    women = np.array([0.0] * len(MALE_CHARS) + zipf[: len(FEMALE_CHARS)] + neutral)
    sex = male.astype(np.int64)
    table = np.stack([women, men])
    first = pool.gather(_categorical(rng, sex, table))
    second = pool.gather(_categorical(rng, sex, table))
    # One-character given names were most common for people born 1975-2004.
    two = rng.random(rows) < np.where((birth_year >= 1975) & (birth_year < 2005), 0.6, 0.85)
    second = second.set(pl.Series(~two), None)
    return _concat([surname, first, second])


def _addresses(rng: np.random.Generator, county: _IntArray) -> pl.Series:
    table = counties()
    places = pl.Series(
        [
            prov + (pref if pref != prov else "") + name
            for prov, pref, name in zip(table.province, table.prefecture, table.county, strict=True)
        ]
    )
    rows = len(county)
    number = np.minimum(rng.geometric(1 / 80, size=rows), 999)
    building = rng.integers(1, 31, size=rows)
    unit = rng.choice(6, size=rows, p=[0.35, 0.3, 0.15, 0.1, 0.06, 0.04]) + 1
    room = np.minimum(rng.geometric(1 / 7, size=rows), 33) * 100 + rng.integers(1, 5, size=rows)
    return _concat(
        [
            places.gather(county),
            pl.Series(ROADS).gather(rng.integers(0, len(ROADS), size=rows)),
            pl.Series(number).cast(pl.String),
            "号",
            pl.Series(building).cast(pl.String),
            "栋",
            pl.Series(unit).cast(pl.String),
            "单元",
            pl.Series(room).cast(pl.String),
            "室",
        ]
    )


def _income(
    rng: np.random.Generator, age: _IntArray, male: _BoolArray, county: _IntArray
) -> _IntArray:
    table = counties()
    place = np.array(
        [
            _INCOME_PROVINCE.get(code[:2], 0.0) + (0.35 if district else -0.15)
            for code, district in zip(table.code, table.is_district, strict=True)
        ]
    )
    score = np.interp(age, _INCOME_AGE, _INCOME_SCORE) + place[county] + 0.1 * male
    score = score + rng.normal(0.0, 0.9, size=len(age))
    band: _IntArray = np.searchsorted(np.array(_INCOME_CUTS), score).astype(np.int64)
    return band


def _diagnoses(rng: np.random.Generator, age: _IntArray, male: _BoolArray) -> _IntArray:
    """Index into (none, *chapters) of each person's diagnosis."""
    weights = np.array([w for _, w in DIAGNOSES], dtype=np.float64).T  # bands x chapters
    pregnancy = [label for label, _ in DIAGNOSES].index("O00-O99 妊娠、分娩和产褥期")
    rows = []
    for band, none in enumerate(DIAGNOSIS_NONE_SHARE):
        for is_male in (False, True):
            chapter = weights[band].copy()
            if is_male:
                chapter[pregnancy] = 0.0
            rows.append(np.concatenate([[none], (1 - none) * chapter / chapter.sum()]))
    group = _band(age, DIAGNOSIS_AGE_BANDS) * 2 + male
    return _categorical(rng, group, np.array(rows))


def _benefits(
    rng: np.random.Generator,
    age: _IntArray,
    household: _IntArray,
    income: _IntArray,
    diagnosis: _IntArray,
    district: _BoolArray,
) -> _IntArray:
    """Index into BENEFITS: the one benefit a person mainly receives, if any."""
    labels = [DIAGNOSIS_NONE, *(label for label, _ in DIAGNOSES)]
    disabling = np.isin(diagnosis, [i for i, label in enumerate(labels) if label[0] in "FGQ"]) & (
        age >= 1
    )
    injured = diagnosis == next(i for i, label in enumerate(labels) if label.startswith("S"))
    poor_adult = (income == 0) & (age >= 18)
    support = np.where((age >= 60) & (household == 1) & poor_adult, 0.08, 0.001)
    support = support + np.where(age < 18, 0.002, 0.0)
    low_income = np.where(poor_adult, 0.07, np.where(age < 18, 0.03, 0.003))
    low_income = low_income * np.where(district, 0.7, 1.4)
    disability = 0.01 + 0.1 * disabling + 0.03 * injured + 0.015 * (age >= 65)
    elderly = np.where(age >= 80, 0.7, 0.0)
    cumulative = np.cumsum(np.stack([support, low_income, disability, elderly]), axis=0)
    drawn = (rng.random(len(age)) >= cumulative).sum(axis=0)
    # drawn counts thresholds passed: 0 support, 1 low income, 2 disability, 3 elderly, 4 none
    order = np.array(
        [BENEFITS.index(b) for b in ("特困供养", "低保", "残疾人补贴", "高龄津贴", "无")],
        dtype=np.int64,
    )
    benefit: _IntArray = order[drawn]
    return benefit


def population_register(rows: int = 100_000, *, seed: int = 20261130) -> pl.DataFrame:
    """A synthetic population register of ``rows`` people living in mainland China.

    Nobody in it is real: every value is drawn from embedded public statistics
    (2020 census age pyramid and province populations, surname frequencies,
    ICD-10 chapters) and python-stdnum's list of division codes. The same
    ``rows`` and ``seed`` always give the same table (the counties depend only
    on the seed, but a larger register does not extend a smaller one). On two
    cores 100,000 rows take about 0.4 s, a million 2 s, ten million 25 s and
    about 4.5 GB of memory at the peak. Ages are as of ``REFERENCE_DATE``
    (2026-11-30).

    Columns:

    - ``resident_id`` (str): 18-character resident identity number (GB 11643-1999),
      unique per row, valid under ``stdnum.cn.ric``: region code, birth date
      (``birth_date``), 3-digit sequence number (odd for men, even for women) and
      the ISO 7064 MOD 11-2 check character (``0``-``9`` or ``X``). The region code
      is the person's home county (see ``region_code``) with the code it had in
      the birth year: stdnum only accepts codes in use in the birth year, so
      people born before their county got its current code (Hebei's counties were
      recoded in 1983, for example) carry the county's older code, which loc.dat
      lists as ended; without a same-named predecessor they get another code of
      the same prefecture (else province) valid in that year.
    - ``name`` (str): surname drawn by frequency from the 100 most common, then
      a given name of one or two common characters, chosen by sex; one-character
      given names are more frequent for people born 1975-2004.
    - ``sex`` (str): ``"男"`` or ``"女"``; about 51 % men, fewer among the old.
    - ``birth_date`` (date): ages 0 to 100 on ``REFERENCE_DATE``, shaped like the
      2020 census (five-year groups, uniform within a group).
    - ``region_code`` (str): the 6-digit current county code where the person
      lives. The population comes from about 300 counties spread over the 31
      provinces in proportion to their population, with Zipf weights (1/rank)
      inside each province, so a few counties are large. About 15 % live outside
      their home county (19 % of ages 18-59, 8 % of others), moving to a county
      chosen with probability proportional to size**1.5, so towards large ones.
    - ``province``, ``prefecture`` (str): current names of the residence's
      province and prefecture from stdnum's loc.dat (for Beijing, Tianjin,
      Shanghai and Chongqing the prefecture is the municipality).
    - ``phone`` (str): 11-digit mainland mobile number on a weighted 13x, 15x,
      17x, 18x or 19x prefix; unique per row.
    - ``address`` (str): ``<province><prefecture><county><road><n>号<b>栋<u>单元<room>室``
      in the residence county (the prefecture is left out for municipalities).
    - ``household_size`` (int): 1 to 8, the size of the person's household,
      by age (children never alone, the old often alone or as a couple).
    - ``income_band`` (str): annual personal income, one of ``"<20k"``,
      ``"20-50k"``, ``"50-100k"``, ``"100-200k"``, ``">200k"`` (in this order),
      rising with age to a peak at 30-50 and falling after, higher in urban
      districts and richer provinces; children are ``"<20k"``.
    - ``diagnosis`` (str): main diagnosis as an ICD-10 chapter such as
      ``"J00-J99 呼吸系统疾病"``, or ``"无"`` (about 60 % overall, fewer with
      age); chapters are skewed by age band (respiratory for children,
      circulatory and metabolic for the old), pregnancy only for women 15-49,
      perinatal conditions only under one year.
    - ``benefit_type`` (str): the main social benefit received: ``"无"``,
      ``"低保"`` (minimum living allowance, mostly adults with income <20k,
      more outside urban districts), ``"特困供养"`` (mostly the old, poor and
      living alone), ``"残疾人补贴"`` (mostly mental, nervous-system or
      congenital conditions) or ``"高龄津贴"`` (about 70 % of people aged 80 and
      over, never younger).

    Raises SettingError if ``rows`` or ``seed`` is not a whole number >= 0, or
    if ``rows`` is so large that resident IDs could not stay unique.
    """
    rows = _check_count(rows, "rows", "population_register")
    rng = np.random.default_rng(_check_count(seed, "seed", "population_register"))
    geo = pick_geography(rng)
    table = counties()

    days, age, ymd = _birth_dates(rng, rows)
    birth_year = ymd // 10_000
    male = rng.random(rows) < np.interp(
        age, (0, 60, 70, 80, 90, 100), (0.53, 0.51, 0.49, 0.45, 0.38, 0.3)
    )
    home = rng.choice(len(geo.home), size=rows, p=geo.weight).astype(np.int64)
    residence = geo.home[_residence(rng, geo, home, age)]
    id_region = np.array([int(c) for c in geo.id_codes], dtype=np.int64)[
        geo.id_code[home, birth_year - OLDEST_BIRTH_YEAR]
    ]
    household_table = np.array(HOUSEHOLD_SIZE, dtype=np.float64)
    household = _categorical(rng, _band(age, HOUSEHOLD_AGE_BANDS), household_table) + 1
    income = _income(rng, age, male, residence)
    diagnosis = _diagnoses(rng, age, male)
    benefit = _benefits(rng, age, household, income, diagnosis, table.is_district[residence])

    codes = pl.Series(table.code)
    return pl.DataFrame(
        {
            "resident_id": resident_ids(rng, id_region, ymd, male),
            "name": _names(rng, male, birth_year),
            "sex": pl.Series(["女", "男"]).gather(male.astype(np.int64)),
            "birth_date": pl.Series(days).cast(pl.Date),
            "region_code": codes.gather(residence),
            "province": pl.Series(table.province).gather(residence),
            "prefecture": pl.Series(table.prefecture).gather(residence),
            "phone": mobile_numbers(rng, rows, PHONE_PREFIXES),
            "address": _addresses(rng, residence),
            "household_size": pl.Series(household, dtype=pl.Int64),
            "income_band": pl.Series(INCOME_BANDS).gather(income),
            "diagnosis": pl.Series([DIAGNOSIS_NONE, *(label for label, _ in DIAGNOSES)]).gather(
                diagnosis
            ),
            "benefit_type": pl.Series(BENEFITS).gather(benefit),
        }
    )
