"""custodes.synth: the synthetic population register and the Adult scale-up."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from stdnum import numdb
from stdnum.cn import ric

from custodes.errors import InvalidInputError, SettingError, UnknownColumnError
from custodes.synth import REFERENCE_DATE, adult_like, population_register

ADULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult" / "adult.csv"
ROWS = 20_000
COLUMNS = [
    "resident_id",
    "name",
    "sex",
    "birth_date",
    "region_code",
    "province",
    "prefecture",
    "phone",
    "address",
    "household_size",
    "income_band",
    "diagnosis",
    "benefit_type",
]
PHONE = re.compile(r"^1(3\d|5[0-35-9]|7[0135-8]|8\d|9[0-35-9])\d{8}$")
ENDED = re.compile(r"^\[\d*-\d+\]")


@pytest.fixture(scope="module")
def register() -> pl.DataFrame:
    return population_register(ROWS, seed=7)


@pytest.fixture(scope="module")
def people(register: pl.DataFrame) -> pl.DataFrame:
    """The register with each person's age on REFERENCE_DATE."""
    born = pl.col("birth_date")
    later = (born.dt.month() > REFERENCE_DATE.month) | (
        (born.dt.month() == REFERENCE_DATE.month) & (born.dt.day() > REFERENCE_DATE.day)
    )
    age = pl.lit(REFERENCE_DATE.year) - born.dt.year() - later.cast(pl.Int32)
    return register.with_columns(age.alias("age"))


def _county(code: str) -> str | None:
    """The county entry of a 6-digit code in stdnum's loc.dat, or None."""
    info = numdb.get("cn/loc").info(code)
    parts = [part for part, _ in info]
    if "".join(parts) != code:
        return None
    county: str | None = info[-1][1].get("county")
    return county


def test_columns_and_types(register: pl.DataFrame) -> None:
    assert register.columns == COLUMNS
    assert register.height == ROWS
    assert register.schema["birth_date"] == pl.Date
    assert register.schema["household_size"] == pl.Int64
    assert register.null_count().sum_horizontal().item() == 0


def test_every_resident_id_validates_with_stdnum(register: pl.DataFrame) -> None:
    invalid = [n for n in register["resident_id"] if not ric.is_valid(n)]
    assert invalid == []


def test_resident_ids_are_unique_and_match_birth_date_and_sex(register: pl.DataFrame) -> None:
    assert register["resident_id"].n_unique() == ROWS
    checked = register.select(
        date=pl.col("resident_id").str.slice(6, 8) == pl.col("birth_date").dt.strftime("%Y%m%d"),
        sex=(pl.col("resident_id").str.slice(16, 1).cast(pl.Int64) % 2 == 1)
        == (pl.col("sex") == "男"),
    )
    assert checked["date"].all()
    assert checked["sex"].all()


def test_region_codes_exist_in_loc_dat(register: pl.DataFrame) -> None:
    for code in register["region_code"].unique():
        county = _county(code)
        assert county is not None, code
        # the residence is a current county: one entry has no end year
        assert any(not ENDED.match(entry) for entry in county.split(",")), code
    for code in register["resident_id"].str.slice(0, 6).unique():
        assert _county(code) is not None, code


def test_province_prefecture_and_address_follow_the_region(register: pl.DataFrame) -> None:
    for row in register.head(500).iter_rows(named=True):
        info = ric.get_birth_place(row["region_code"] + "20250101001X")
        assert info["province"] == row["province"]
        assert row["address"].startswith(row["province"])
        assert row["prefecture"] in row["address"]
    pattern = r"^\w+?(路|街|大道)\d{1,3}号\d+栋\d单元\d{3,4}室$"
    assert register["address"].str.contains(pattern).all()


def test_most_people_live_where_their_id_was_issued(register: pl.DataFrame) -> None:
    current = register.filter(
        pl.col("resident_id").str.slice(0, 6).is_in(register["region_code"].unique().implode())
    )
    stayed = (current["resident_id"].str.slice(0, 6) == current["region_code"]).mean()
    assert isinstance(stayed, float)
    assert 0.75 < stayed < 0.95


def test_phones_are_mobile_numbers_and_unique(register: pl.DataFrame) -> None:
    assert register["phone"].str.contains(PHONE.pattern).all()
    assert register["phone"].n_unique() == ROWS


def test_names(register: pl.DataFrame) -> None:
    lengths = register["name"].str.len_chars()
    assert lengths.is_between(2, 3).all()
    surnames = register["name"].str.slice(0, 1).value_counts(sort=True)
    assert set(surnames["name"].head(3)) == {"王", "李", "张"}
    assert surnames.height <= 100


def test_distributions_are_plausible(people: pl.DataFrame) -> None:
    men = (people["sex"] == "男").mean()
    assert isinstance(men, float)
    assert 0.47 <= men <= 0.55
    assert people["region_code"].n_unique() >= 200
    assert people["age"].min() == 0
    assert people["age"].max() == 100
    old = (people["age"] >= 80).mean()
    young = (people["age"] < 20).mean()
    assert isinstance(old, float)
    assert isinstance(young, float)
    assert old < 0.05 < young
    assert set(people["household_size"].unique()) <= set(range(1, 9))
    assert set(people["income_band"].unique()) == {"<20k", "20-50k", "50-100k", "100-200k", ">200k"}
    none = (people["diagnosis"] == "无").mean()
    assert isinstance(none, float)
    assert 0.4 < none < 0.8
    assert people["diagnosis"].str.contains(r"^(无|[A-Z]\d\d-[A-Z]\d\d \S+)$").all()


def test_columns_are_correlated_sensibly(people: pl.DataFrame) -> None:
    allowance = people.filter(pl.col("benefit_type") == "高龄津贴")
    assert allowance.height > 0
    assert (allowance["age"] >= 80).all()
    children = people.filter(pl.col("age") < 16)
    assert (children["household_size"] >= 2).all()
    assert (children["income_band"] == "<20k").mean() > 0.95  # type: ignore[operator]
    pregnant = people.filter(pl.col("diagnosis").str.starts_with("O00"))
    assert (pregnant["sex"] == "女").all()
    assert pregnant["age"].is_between(15, 49).all()
    none_by_age = people.group_by(pl.col("age") >= 65).agg((pl.col("diagnosis") == "无").mean())
    rates = dict(none_by_age.iter_rows())
    assert rates[True] < rates[False]
    assert set(people["benefit_type"].unique()) == {
        "无",
        "低保",
        "特困供养",
        "残疾人补贴",
        "高龄津贴",
    }


def test_same_seed_same_register_other_seed_other_register() -> None:
    first = population_register(3_000, seed=11)
    assert first.equals(population_register(3_000, seed=11))
    assert not first.equals(population_register(3_000, seed=12))


def test_empty_register_and_bad_rows() -> None:
    empty = population_register(0)
    assert empty.columns == COLUMNS
    assert empty.height == 0
    with pytest.raises(SettingError, match="rows must be a whole number >= 0, got -1"):
        population_register(-1)
    with pytest.raises(SettingError, match=r"seed must be a whole number >= 0, got 1\.5"):
        population_register(10, seed=1.5)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def adult() -> pl.DataFrame:
    if not ADULT.exists():
        pytest.skip(f"the UCI Adult table is not at {ADULT}")
    return pl.read_csv(ADULT, separator=";", infer_schema=False)


def test_adult_like_keeps_columns_and_marginals(adult: pl.DataFrame) -> None:
    scaled = adult_like(50_000, seed=3, source=adult)
    assert scaled.height == 50_000
    assert scaled.schema == adult.schema
    share = (adult["sex"] == "Male").mean()
    scaled_share = (scaled["sex"] == "Male").mean()
    assert isinstance(share, float)
    assert isinstance(scaled_share, float)
    assert abs(share - scaled_share) < 0.02
    ages = adult["age"].cast(pl.Int64)
    scaled_ages = scaled["age"].cast(pl.Int64)
    assert ages.min() == scaled_ages.min()
    assert ages.max() == scaled_ages.max()
    assert scaled_ages.mean() == pytest.approx(ages.mean(), abs=0.5)


def test_adult_like_grows_distinct_combinations(adult: pl.DataFrame) -> None:
    scaled = adult_like(4 * adult.height, seed=1, source=adult)
    assert scaled.n_unique() > adult.n_unique()


def test_adult_like_is_deterministic_and_keeps_integer_age(adult: pl.DataFrame) -> None:
    typed = adult.with_columns(pl.col("age").cast(pl.Int64))
    first = adult_like(1_000, seed=5, source=typed)
    assert first.schema["age"] == pl.Int64
    assert first.equals(adult_like(1_000, seed=5, source=typed))


def test_adult_like_needs_a_source_with_age() -> None:
    with pytest.raises(SettingError, match="pass the UCI Adult table"):
        adult_like(10)
    with pytest.raises(UnknownColumnError, match="column 'age' is not in the source table"):
        adult_like(10, source=pl.DataFrame({"Age": ["39"]}))
    with pytest.raises(InvalidInputError, match="column 'age' of the source table must hold"):
        adult_like(10, source=pl.DataFrame({"age": ["39", "forty"]}))
    with pytest.raises(SettingError, match="the source table has no rows"):
        adult_like(10, source=pl.DataFrame({"age": []}, schema={"age": pl.String}))
