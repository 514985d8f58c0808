"""Word lists the recognizers use: surnames, column-name evidence, address markers."""

from __future__ import annotations

import re

__all__ = [
    "ADDRESS_MARKERS",
    "CATEGORY_HINTS",
    "COMPOUND_SURNAMES",
    "NAME_HINTS",
    "QUASI_HINTS",
    "SURNAMES",
    "name_has",
]

# About 300 single-character surnames covering over 95 % of people in mainland
# China (Ministry of Public Security name reports, the Hundred Family Surnames).
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘"
    "祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟"
    "艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞"
    "姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕"
    "楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣"
    "晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉"
    "银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由赖萧"
)

COMPOUND_SURNAMES = frozenset(
    {
        "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
        "宇文", "司徒", "夏侯", "轩辕", "令狐", "钟离", "端木", "南宫", "西门", "独孤",
        "百里", "呼延", "澹台", "公冶", "太史", "申屠", "闾丘", "万俟", "司空", "拓跋",
    }
)  # fmt: skip

# Characters that mark a street-level address (as opposed to a region name).
ADDRESS_MARKERS = (
    "路", "街", "道", "巷", "弄", "号", "村", "组", "小区", "栋", "幢", "单元", "室", "楼",
    "大厦", "花园", "公寓", "社区", "镇", "乡",
)  # fmt: skip

# Column-name words (lower case) that are evidence for an entity, a role or a
# sensitive category. A name matches a word when it contains it.
NAME_HINTS: dict[str, tuple[str, ...]] = {
    "CN_RESIDENT_ID": (
        "身份证", "证件号", "公民身份", "身份号", "id_card", "idcard", "id_no", "idno",
        "id_number", "resident_id", "identity", "sfz",
    ),
    "CN_USCC": ("信用代码", "统一社会信用", "社会信用", "uscc", "credit_code", "tyshxydm"),
    "PHONE": ("手机", "电话", "联系方式", "移动电话", "phone", "mobile", "tel", "cell", "lxdh"),
    "EMAIL": ("邮箱", "电子邮件", "email", "e-mail", "mail"),
    "BANK_CARD": ("银行卡", "卡号", "银行账号", "账号", "账户", "bank", "card", "account"),
    "CREDIT_CARD": ("信用卡", "credit_card", "creditcard", "card"),
    "IBAN": ("iban", "account"),
    "PASSPORT": ("护照", "passport"),
    "TRAVEL_PERMIT": ("通行证", "回乡证", "台胞证", "permit"),
    "VEHICLE_PLATE": ("车牌", "号牌", "plate", "license", "vehicle"),
    "IP_ADDRESS": ("ip", "地址ip", "ip_addr", "ipaddress", "ip地址"),
    "MAC_ADDRESS": ("mac", "物理地址"),
    "GPS": ("经纬", "坐标", "经度", "纬度", "位置", "轨迹", "gps", "lat", "lng", "lon", "location",
            "coordinate"),
    "DATE_OF_BIRTH": ("出生", "生日", "birth", "dob", "born"),
    "PERSON_NAME": ("姓名", "名字", "联系人", "患者", "户主", "申请人", "法人", "name", "xm",
                    "contact", "patient", "holder"),
    "ADDRESS": ("住址", "地址", "户籍", "居住地", "住所", "address", "addr", "residence",
                "street", "zz", "dz"),
    "US_SSN": ("ssn", "social_security"),
}  # fmt: skip

# Column-name words for roles and categories that values alone cannot show.
QUASI_HINTS = (
    "性别", "年龄", "民族", "职业", "学历", "文化程度", "婚姻", "邮编", "籍贯", "区划", "县",
    "区县", "省", "城市", "国籍", "sex", "gender", "age", "ethnic", "race", "occupation",
    "job", "education", "marital", "postcode", "zip", "postal", "region", "county", "district",
    "province", "prefecture", "city", "nationality", "country", "地区", "地市", "街道", "乡镇",
)  # fmt: skip

CATEGORY_HINTS: dict[str, tuple[str, ...]] = {
    "health": ("诊断", "疾病", "病历", "病史", "病情", "症状", "用药", "药品", "医疗", "健康",
               "体检", "住院", "diagnos", "disease", "icd", "medical", "medication", "health",
               "symptom", "illness", "treatment", "clinical"),
    "financial": ("收入", "工资", "薪", "存款", "余额", "资产", "贷款", "征信", "income", "salary",
                  "wage", "balance", "deposit", "loan", "credit_score", "asset"),
    "biometric": ("指纹", "人脸", "面部", "虹膜", "声纹", "基因", "fingerprint", "face", "iris",
                  "biometric", "voiceprint", "dna", "gene"),
    "religion": ("宗教", "信仰", "religion", "faith"),
    "specific_identity": ("残疾", "低保", "犯罪", "前科", "性取向", "disab", "criminal",
                          "conviction", "sexual_orientation"),
    "credentials": ("密码", "口令", "password", "passwd", "secret", "token"),
    "whereabouts": ("轨迹", "行程", "住宿", "位置", "trajectory", "itinerary", "whereabouts",
                    "location", "gps"),
}  # fmt: skip


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)  # camelCase -> camel_Case
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def name_has(name: str, hints: tuple[str, ...]) -> bool:
    """Whether a column name contains one of ``hints``.

    Chinese hints match anywhere in the name; Latin ones match whole words of
    it (``id_card`` in ``id_card_no``, ``age`` not in ``stage``), or the start
    of a word for hints of five letters or more (``diagnos`` in ``diagnosis``).
    """
    lowered = name.lower()
    words = _tokens(name)
    joined = "_" + "_".join(words) + "_"
    for hint in hints:
        if not hint.isascii():
            if hint in lowered:
                return True
            continue
        parts = _tokens(hint)
        if not parts:
            continue
        if len(parts) > 1 and "_" + "_".join(parts) + "_" in joined:
            return True
        if len(parts) == 1:
            if parts[0] in words:
                return True
            if len(parts[0]) >= 5 and any(w.startswith(parts[0]) for w in words):
                return True
    return False
