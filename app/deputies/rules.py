"""Field rules for deputies: pure functions, shared by the forms and the spreadsheet import.

Each takes what a person typed (or a spreadsheet cell held), returns the normalised value, or raises
``Refusal(msgid, **variables)``: an English msgid translated where it is shown
(``error.text()``). No database, no web: the import checks thousands of rows with these.
"""

from __future__ import annotations

import re

from app.core.errors import Refusal
from app.core.i18n import lazy
from app.deputies.models import DEPUTY_STATUSES, LEVELS

NAME_MAX = 40
TEXT_MAX = {"occupation": 60, "work_unit": 120, "public_contact": 60, "constituency": 120, "note": 500}


NAME_REQUIRED = lazy("Please enter the deputy's name.")
NAME_TOO_LONG = lazy("The name is too long (at most %(max)s characters).")
NAME_BAD = lazy("The name may not contain digits or symbols such as %(char)s.")
MOBILE_BAD = lazy("“%(value)s” is not a mobile number: it needs 11 digits starting with 13 to 19.")
LEVEL_REQUIRED = lazy("Please choose the level (全国, 省, 市, 县 or 乡镇).")
LEVEL_BAD = lazy("“%(value)s” is not a level: use 全国, 省, 市, 县 or 乡镇.")
TERM_REQUIRED = lazy("Please enter the term (届), for example 18 or 第十八届.")
TERM_BAD = lazy("“%(value)s” is not a term: use a number from 1 to 99, for example 18 or 第十八届.")
DIRECT_REQUIRED = lazy("Please say whether the deputy was elected directly or indirectly.")
DIRECT_BAD = lazy("“%(value)s” is not an answer: use 直接 or 间接 (or 是/否).")
STATUS_BAD = lazy("“%(value)s” is not a status: use 在任, 辞职, 去世 or 罢免.")
TEXT_TOO_LONG = lazy("Too long: at most %(max)s characters.")

_SPACES = re.compile(r"\s+")
# Characters a person's name never holds (names may hold · and • for minority names, and Latin letters).
_NAME_FORBIDDEN = re.compile(r"[0-9０-９!-/:-@\[-`{-~！-／：-＠［-｀｛-～、。，；]")


def _clean(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # a spreadsheet's number cell
        value = int(value)
    return _SPACES.sub(" ", str(value)).strip()


def check_name(value: object) -> str:
    name = _clean(value)
    if not name:
        raise Refusal(NAME_REQUIRED)
    if len(name) > NAME_MAX:
        raise Refusal(NAME_TOO_LONG, max=NAME_MAX)
    bad = _NAME_FORBIDDEN.search(name.replace("·", "").replace("•", ""))
    if bad:
        raise Refusal(NAME_BAD, char=bad.group(0))
    return name


def check_mobile(value: object) -> str | None:
    """11 digits starting 1[3-9]; spaces, hyphens and a +86 prefix are dropped; empty: None."""
    raw = _clean(value)
    digits = re.sub(r"[\s\-()（）]", "", raw)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not digits:
        return None
    if not re.fullmatch(r"1[3-9]\d{9}", digits):
        raise Refusal(MOBILE_BAD, value=raw[:30])
    return digits


_LEVEL_WORDS = {
    "national": ("全国", "国家", "全国级"),
    "provincial": ("省", "省级", "自治区", "直辖市"),
    "city": ("市", "市级", "州", "盟", "地级市", "设区的市", "市州"),
    "county": ("县", "县级", "区", "县区", "县市区", "县(市、区)", "旗", "县级市", "市辖区"),
    "township": ("乡", "镇", "乡镇", "乡镇级", "街道", "乡级", "镇级"),
}
_LEVEL_SUFFIXES = ("人民代表大会代表", "人大代表", "代表")
_LEVEL_ALIASES = {word: code for code, words in _LEVEL_WORDS.items() for word in words}
_LEVEL_ALIASES.update({code: code for code in LEVELS})
_LEVEL_ALIASES.update({f"{code} level": code for code in LEVELS})


def check_level(value: object) -> str:
    """A LEVELS code from a code, an English label or Chinese (县, 县级, 县人大代表, 全国人大代表 …)."""
    raw = _clean(value)
    if not raw:
        raise Refusal(LEVEL_REQUIRED)
    text = raw.lower().replace("（", "(").replace("）", ")").replace(" ", "")
    text = text.replace("level", " level") if text.endswith("level") else text
    for suffix in _LEVEL_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    code = _LEVEL_ALIASES.get(text) or _LEVEL_ALIASES.get(text.removesuffix("级"))
    if code is None:
        raise Refusal(LEVEL_BAD, value=raw[:30])
    return code


_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _chinese_number(text: str) -> int | None:
    """一 … 九十九 (the terms a congress has had)."""
    if not text or any(c not in _DIGITS and c != "十" for c in text):
        return None
    if "十" not in text:
        return _DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return None
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[ones] if ones else 0)


def check_term(value: object) -> int:
    """届: a positive number up to 99, from 18, "18", "第18届", "第十八届" or "十八"."""
    if isinstance(value, bool):
        raise Refusal(TERM_BAD, value=str(value))
    raw = _clean(value)
    if not raw:
        raise Refusal(TERM_REQUIRED)
    text = raw.replace(" ", "").removeprefix("第").removesuffix("届")
    number = int(text) if text.isascii() and text.isdigit() else _chinese_number(text)
    if number is None or not 1 <= number <= 99:
        raise Refusal(TERM_BAD, value=raw[:30])
    return number


_DIRECT_TRUE = {"直接", "直选", "直接选举", "直接选举产生", "是", "y", "yes", "true", "1", "direct", "directly"}
_DIRECT_FALSE = {"间接", "间选", "间接选举", "间接选举产生", "否", "n", "no", "false", "0", "indirect", "indirectly"}


def check_direct(value: object) -> bool:
    """直接/间接/是/否 (and yes/no, 1/0) → directly elected or not."""
    if isinstance(value, bool):
        return value
    raw = _clean(value)
    if not raw:
        raise Refusal(DIRECT_REQUIRED)
    text = raw.lower().replace(" ", "")
    if text in _DIRECT_TRUE:
        return True
    if text in _DIRECT_FALSE:
        return False
    raise Refusal(DIRECT_BAD, value=raw[:30])


_STATUS_WORDS = {
    "active": ("在任", "在职", "正常", "现任", "serving"),
    "resigned": ("辞职", "已辞职", "辞去", "resigned"),
    "deceased": ("去世", "已去世", "逝世", "死亡", "deceased"),
    "removed": ("罢免", "已罢免", "被罢免", "终止", "removed"),
}
_STATUS_ALIASES = {word: code for code, words in _STATUS_WORDS.items() for word in words}
_STATUS_ALIASES.update({code: code for code in DEPUTY_STATUSES})


def check_status(value: object) -> str:
    """A DEPUTY_STATUSES code from a code or Chinese; empty means serving (active)."""
    raw = _clean(value)
    if not raw:
        return "active"
    code = _STATUS_ALIASES.get(raw.lower().replace(" ", ""))
    if code is None:
        raise Refusal(STATUS_BAD, value=raw[:30])
    return code


def check_text(value: object, field: str) -> str:
    """An optional free-text field (occupation, work_unit, public_contact, constituency, note)."""
    text = _clean(value)
    limit = TEXT_MAX[field]
    if len(text) > limit:
        raise Refusal(TEXT_TOO_LONG, max=limit)
    return text
