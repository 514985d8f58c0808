"""The interface in Simplified Chinese (the default) and English.

Texts are written in English in the templates and looked up here; numbers,
dates and amounts of money are formatted by Babel for the locale.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

__all__ = ["LOCALES", "Texts", "pick_locale"]

LOCALES = {"zh": "zh_Hans_CN", "en": "en_GB"}
"""The interface languages and the Babel locale each formats with."""

_ZH = {
    "custodes": "custodes 数据守护",
    "Catalog": "数据目录",
    "Requests": "申请",
    "Review queue": "审查队列",
    "DP console": "差分隐私查询",
    "Audit": "审计",
    "Disclosure": "年度公开",
    "Log in": "登录",
    "Log out": "退出",
    "Name": "用户名",
    "Password": "密码",
    "Logged in as": "当前用户",
    "Language": "语言",
    "Departments and datasets": "部门与数据集",
    "Dataset": "数据集",
    "Datasets": "数据集",
    "Department": "部门",
    "Version": "版本",
    "Versions": "版本",
    "Owner": "负责人",
    "Grade": "分级",
    "Rows": "行数",
    "Columns": "字段",
    "Column": "字段",
    "Role": "角色",
    "Reasons": "分级理由",
    "Registered": "登记时间",
    "System": "来源系统",
    "No datasets yet.": "尚无数据集。",
    "Scan": "扫描结果",
    "Risk": "重识别风险",
    "Risk report": "风险报告",
    "Assess the risk": "评估风险",
    "Quasi-identifiers": "准标识符",
    "Class sizes": "等价类大小分布",
    "Records by risk": "记录风险分布",
    "Population uniqueness": "总体唯一性",
    "Generalize first": "优先泛化",
    "Smallest class (k)": "最小等价类 (k)",
    "Highest risk": "最高风险",
    "Average risk": "平均风险",
    "Records at risk": "高风险记录占比",
    "Unique in the sample": "样本唯一",
    "Unique in the population": "总体唯一（估计）",
    "Plan editor": "匿名化方案编辑",
    "Plan": "方案",
    "Write the plan": "生成方案文本",
    "plan written": "方案已生成，可预览",
    "Preview": "预览",
    "Preview the plan": "预览方案",
    "Suppression limit": "最大抑制比例",
    "Privacy models": "隐私模型",
    "Hierarchies": "泛化层级",
    "Utility": "可用性",
    "Result": "结果",
    "New request": "新建申请",
    "File a request": "提交申请",
    "Purpose": "用途类别",
    "Sharing model": "共享方式",
    "Intended use": "具体用途",
    "Term end": "使用期限",
    "Fee standard": "收费标准",
    "Recipient": "接收方",
    "Save": "保存",
    "Submit": "提交",
    "Submit for review": "提交审查",
    "Identify": "识别标识符",
    "Prepare": "生成处理结果",
    "Release": "发布",
    "Terms": "使用条款",
    "Charge": "收费",
    "Quantity": "数量",
    "Unit price": "单价",
    "State": "状态",
    "Requester": "申请人",
    "Decisions": "审查决定",
    "Decision": "决定",
    "Rationale": "理由",
    "Approve": "批准",
    "Reject": "驳回",
    "Send back": "退回修改",
    "Policy gates": "政策门槛",
    "Passed": "通过",
    "Failed": "未通过",
    "Mosaic check": "拼图风险检查",
    "Releases held": "接收方已持有的发布",
    "Sensitive attribute": "敏感属性",
    "k_anonymity": "最小等价类 (k)",
    "highest_risk": "最高风险",
    "average_risk": "平均风险",
    "records_at_risk": "高风险记录占比",
    "loss": "信息损失",
    "suppressed_records": "抑制记录数",
    "rows_out": "输出行数",
    "columns_out": "输出字段",
    "access": "访问方式",
    "rows": "行数",
    "holding_grade": "持有数据分级",
    "people": "人数",
    "k": "k",
    "below_k": "低于 k 的人数",
    "highest_posterior": "最高后验概率",
    "min_l": "最小 l",
    "pinned": "被锁定人数",
    "below_l": "低于 l 的人数",
    "lowered": "因组合降低",
    "k_and_risk": "k 与最高风险达到政策要求",
    "no_raw_identifiers": "无未处理的直接标识符",
    "no_checked_identifiers": "无通过校验位的身份号码",
    "only_requested_columns": "仅含申请的字段",
    "A request is processed only when every gate passes; a refused plan is never stored.": (
        "只有全部门槛通过，申请才会进入“已处理”；未通过的方案不会被保存。"
    ),
    "Nothing waits for review.": "没有待审查的申请。",
    "No requests.": "没有申请。",
    "Query": "查询",
    "Estimate": "预估",
    "Estimate the cost": "预估成本",
    "Computed from the settings alone: the data is not read and nothing is spent.": (
        "仅根据配置计算：不读取数据，也不消耗预算。"
    ),
    "Groups": "分组数",
    "Privacy loss": "隐私损失",
    "Aggregate": "聚合",
    "Mechanism": "机制",
    "Noise scale": "噪声尺度",
    "After": "查询后",
    "Run the query": "执行查询",
    "Budget": "隐私预算",
    "Spent": "已用",
    "Remaining": "剩余",
    "Total": "总额",
    "Cost": "成本",
    "Interval": "95% 区间",
    "Answer": "结果",
    "Ledger": "账本",
    "Ledger verified": "账本验证通过",
    "Ledger problems": "账本问题",
    "Entries": "条目数",
    "Witnessed heads": "见证树头",
    "Audit report": "年度审计报告",
    "Anomalies": "异常",
    "None": "无",
    "Year": "年份",
    "Authorisations": "授权",
    "Fees charged": "已收费用",
    "Products": "数据产品",
    "Fee standards": "收费标准",
    "New fee standard": "新建收费标准",
    "Permitted revenue": "年度收费上限",
    "Currency": "币种",
    "approved": "已批准",
    "under_review": "审查中",
    "draft": "草稿",
    "objectives_set": "已填写用途",
    "identifiers_identified": "已识别标识符",
    "processed": "已处理",
    "rejected": "已驳回",
    "sent_back": "已退回",
    "released": "已发布",
    "monitoring": "监测中",
    "revoked": "已撤销",
    "expired": "已过期",
    "identifying": "直接标识符",
    "quasi_identifying": "准标识符",
    "sensitive": "敏感属性",
    "insensitive": "非敏感",
    "redact": "需脱敏文本",
    "Cap": "上限",
    "Amount": "金额",
    "Released": "发布时间",
    "Annual disclosure": "年度信息公开",
    "This page is public.": "本页面公开，无需登录。",
    "Not found.": "未找到。",
    "Refused": "已拒绝",
    "Done.": "已完成。",
    "filed": "申请已创建",
    "preview": "预览已生成",
    "prepared": "处理结果已生成",
    "submitted": "已提交审查",
    "identified": "标识符已识别",
    "decided": "决定已签名记录",
    "charged": "已按批准标准收费",
    "proposed": "已提出，等待价格主管部门批准",
    "set": "已保存",
    "Actions": "操作",
    "Open": "打开",
    "Show": "查看",
    "Back": "返回",
    "Signed by": "签名者",
    "API tokens": "API 令牌",
    "No values of identifying or sensitive columns are shown.": (
        "页面不显示任何标识或敏感字段的原始值。"
    ),
    "The session ended; log in again.": "会话已结束，请重新登录。",
    "Too many failed logins; wait and try again.": "登录失败次数过多，请稍后再试。",
    "the name or the password is wrong.": "用户名或密码错误。",
}
_ZH.update(
    {
        # the kinds of refusal (the library's message follows, in English)
        "error:custodes_error": "错误",
        "error:invalid_input": "输入无效",
        "error:data_file": "数据文件有误",
        "error:encoding": "文件编码有误",
        "error:malformed_table": "表格格式有误",
        "error:unknown_column": "字段不存在",
        "error:column_role": "字段角色有误",
        "error:setting": "设置有误",
        "error:unsupported": "不支持",
        "error:refused": "已拒绝",
        "error:forbidden": "无权执行",
        "error:tampered": "检测到篡改",
        "error:internal": "内部错误",
        # the values the workflow names
        "public_governance": "公共治理",
        "public_welfare": "公益",
        "research": "科学研究",
        "commercial": "商业",
        "open_publication": "公开发布",
        "file_under_agreement": "协议下提供文件",
        "dp_query": "差分隐私查询",
        "enclave": "数据安全屋",
        "general": "一般数据",
        "important": "重要数据",
        "core": "核心数据",
        "approve": "批准",
        "reject": "驳回",
        "send_back": "退回修改",
        "per_product": "按产品",
        "per_call": "按次调用",
        "per_volume": "按数据量",
        "per_period": "按期限",
    }
)
_EN = {f"error:{code}": code.replace("_", " ") for code in (
    "custodes_error", "invalid_input", "data_file", "encoding", "malformed_table",
    "unknown_column", "column_role", "setting", "unsupported", "refused", "forbidden",
    "tampered", "internal",
)}  # fmt: skip
_TABLES = {"zh": _ZH, "en": _EN}


def pick_locale(asked: str | None) -> str:
    """The interface language: ``asked`` when offered, else Chinese."""
    return asked if asked in LOCALES else "zh"


class Texts:
    """The texts and formats of one language."""

    def __init__(self, lang: str) -> None:
        self.lang = pick_locale(lang)
        self.locale = LOCALES[self.lang]
        self._table = _TABLES[self.lang]

    def __call__(self, text: str | None) -> str:
        """``text`` in this language (the English when no translation is kept; '—' for
        none)."""
        if text is None:
            return "—"
        return self._table.get(text, text)

    def number(self, value: object, digits: int = 3) -> str:
        """A number in this locale's digits and separators ('—' for none)."""
        if value is None or value == "":
            return "—"
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return str(value)
        pattern = "#,##0" if number == number.to_integral_value() else f"#,##0.{'#' * digits}"
        return format_decimal(number, format=pattern, locale=self.locale)

    def percent(self, value: object) -> str:
        """A share in [0, 1] as a percentage."""
        if value is None:
            return "—"
        try:
            return format_percent(float(str(value)), format="#,##0.##%", locale=self.locale)
        except ValueError:
            return str(value)

    def money(self, amount: object, currency: str = "CNY") -> str:
        """An amount of money in ``currency``."""
        try:
            return format_currency(Decimal(str(amount)), currency, locale=self.locale)
        except (InvalidOperation, ValueError):
            return f"{amount} {currency}"

    def date(self, value: object) -> str:
        """A date or an ISO timestamp, as this locale writes dates."""
        if not value:
            return "—"
        text = str(value)
        try:
            if len(text) <= 10:
                return format_date(date.fromisoformat(text), format="medium", locale=self.locale)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return format_datetime(moment, format="medium", locale=self.locale)
        except ValueError:
            return text
