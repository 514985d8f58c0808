"""A labelled evaluation corpus for the personal-data recognizers, generated in code.

Positives come from Faker (zh_CN, en_US, en_GB, de_DE) and generators built
on the standards (check digits computed by python-stdnum); labels of
checksummed types are confirmed by stdnum, the reference. Hard negatives are
what real tables are full of: date-prefixed 18-digit order numbers, 13-digit
millisecond timestamps, resident IDs and card numbers with a wrong check
digit, product codes, invoice numbers, 11-digit numbers outside mobile
ranges, and ordinary Chinese words (including ones that start with a surname
character).

Used by the tests (small sizes) and by ``bench/bench_detect.py``.
"""

from __future__ import annotations

import random
import string

import polars as pl
from faker import Faker
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.cn import ric, uscc

from custodes._divisions import loc_dat

NONE = "NONE"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_WORDS = (
    "高血压", "糖尿病", "冠心病", "办公室", "财务部", "人事处", "已审核", "待处理", "正常", "合格",
    "北京市", "上海市", "广东省", "杭州市", "朝阳区", "海淀区", "城镇", "农村", "汉族", "本科",
    "研究生", "高中", "初中", "已婚", "未婚", "离异", "退休", "在职", "学生", "教师", "医生",
    "工程师", "销售", "司机", "农民", "个体户", "无", "是", "否", "男", "女", "低保", "特困",
    "残疾", "优抚", "黄金", "白银", "周末", "周一", "王牌", "李子", "张贴", "刘海", "陈列",
    "杨树", "黄色", "赵州桥", "吴语", "孙子兵法", "马路", "朱红", "胡同", "郭外", "林业",
    "罗盘", "郑重", "梁柱", "宋体", "唐诗", "许可证", "韩语", "冯氏", "邓小平理论", "曹操",
)  # fmt: skip


def _ric(rng: random.Random, fake: Faker) -> str:
    while True:
        value = fake.ssn()
        try:
            if ric.is_valid(value):
                return str(value)
        except KeyError:  # stdnum fails on region codes it does not know
            continue


def _luhn_number(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return body + luhn.calc_check_digit(body)


def _uscc(rng: random.Random) -> str:
    regions = sorted(c for c in loc_dat() if len(c) == 6)
    head = rng.choice(["11", "12", "51", "52", "91", "92", "93", "Y1"]) + rng.choice(regions)
    body = head + "".join(rng.choice(_USCC_ALPHABET) for _ in range(9))
    return body + uscc.calc_check_digit(body + "0")


def _wrong_check(value: str, alphabet: str) -> str:
    wrong = [c for c in alphabet if c != value[-1]]
    return value[:-1] + wrong[sum(map(ord, value)) % len(wrong)]


def corpus(per_type: int = 1_000, seed: int = 0) -> pl.DataFrame:
    """``per_type`` values of every entity type and of hard negatives: (value, label)."""
    rng = random.Random(seed)
    Faker.seed(seed)
    zh, us, gb, de = Faker("zh_CN"), Faker("en_US"), Faker("en_GB"), Faker("de_DE")
    rows: list[tuple[str, str]] = []

    def add(label: str, make: object) -> None:
        assert callable(make)
        rows.extend((str(make()), label) for _ in range(per_type))

    add("CN_RESIDENT_ID", lambda: _ric(rng, zh))
    add("CN_USCC", lambda: _uscc(rng))
    add("PHONE", zh.phone_number)
    add("PHONE", lambda: "+86 " + zh.phone_number())
    add("BANK_CARD", lambda: _luhn_number(rng, "62" + rng.choice("12345678"), rng.choice([16, 19])))
    for card in ("visa16", "mastercard", "amex", "discover"):
        add("CREDIT_CARD", lambda card=card: us.credit_card_number(card_type=card))
    # Faker's JCB numbers start anywhere in 35xx; JCB's range is 3528-3589.
    add("CREDIT_CARD", lambda: _luhn_number(rng, str(rng.randint(3528, 3589)), 16))
    add("IBAN", lambda: rng.choice([gb, de]).iban())
    add("PASSPORT", lambda: "E" + "".join(rng.choice(string.digits) for _ in range(8)))
    add("VEHICLE_PLATE", zh.license_plate)
    add(
        "VEHICLE_PLATE",
        lambda: (
            rng.choice(_PROVINCES)
            + rng.choice("ABCDEFGHJK")
            + "".join(rng.choice(_PLATE.replace("I", "").replace("O", "")) for _ in range(5))
        ),
    )
    add("EMAIL", zh.email)
    add("IP_ADDRESS", zh.ipv4)
    add("IP_ADDRESS", zh.ipv6)
    add("MAC_ADDRESS", zh.mac_address)
    add("US_SSN_FORMATTED", us.ssn)  # dashed SSNs: recognized only with a column name
    add("PERSON_NAME", zh.name)
    add("ADDRESS", zh.address)
    # Hard negatives.
    add(NONE, lambda: "20261130" + "".join(rng.choice(string.digits) for _ in range(10)))
    add(NONE, lambda: str(rng.randint(1_600_000_000_000, 1_800_000_000_000)))
    add(NONE, lambda: _wrong_check(_ric(rng, zh), "0123456789X"))
    add(NONE, lambda: _wrong_check(_luhn_number(rng, "62", 16), string.digits))
    add(NONE, lambda: _wrong_check(_uscc(rng), _USCC_ALPHABET))
    add(NONE, lambda: f"SKU-{rng.randint(2000, 2030)}-{rng.randint(0, 999_999):06d}")
    alnum = string.ascii_uppercase + string.digits
    add(NONE, lambda: "".join(rng.choice(alnum) for _ in range(10)))
    add(NONE, lambda: "".join(rng.choice(string.digits) for _ in range(20)))
    add(NONE, lambda: "1" + rng.choice("012") + "".join(rng.choices(string.digits, k=9)))
    add(NONE, lambda: f"{rng.uniform(0, 99_999):.2f}")
    add(NONE, lambda: rng.choice(_WORDS))
    frame = pl.DataFrame(rows, schema=["value", "label"], orient="row")
    # The IBAN oracle confirms the labels of generated IBANs.
    return frame.with_columns(
        pl.when(
            (pl.col("label") == "IBAN")
            & ~pl.col("value").map_elements(
                lambda v: std_iban.is_valid(v, check_country=False), return_dtype=pl.Boolean
            )
        )
        .then(pl.lit(NONE))
        .otherwise(pl.col("label"))
        .alias("label")
    )


def scores(frame: pl.DataFrame, predicted: pl.Series) -> pl.DataFrame:
    """Precision and recall per entity type of ``predicted`` against the labels."""
    data = frame.with_columns(predicted.fill_null(NONE).alias("predicted"))
    out = []
    for entity in sorted(set(data["label"].to_list()) - {NONE, "US_SSN_FORMATTED"}):
        tp = data.filter((pl.col("label") == entity) & (pl.col("predicted") == entity)).height
        fp = data.filter((pl.col("label") != entity) & (pl.col("predicted") == entity)).height
        positives = data.filter(pl.col("label") == entity).height
        out.append(
            {
                "entity": entity,
                "positives": positives,
                "true_positives": tp,
                "false_positives": fp,
                "precision": tp / (tp + fp) if tp + fp else 1.0,
                "recall": tp / positives if positives else 1.0,
            }
        )
    return pl.DataFrame(out)
