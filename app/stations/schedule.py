"""Reception days (接待日) as staff write them, stored as a small normalised rule.

Staff type the station's fixed days in Chinese: "每月15日", "每月第一个星期五", "每月最后一个星期三",
"每周二", several at once separated by 、 ， ; 和 ("每月5日、20日", "每周二、四"). ``parse_rule`` turns that
into a rule string; ``describe_rule`` writes it back for people; ``next_reception_days`` lists the dates
it gives; ``receptions`` puts them on China's working calendar (a reception on a statutory holiday moves to
the next working day or is cancelled, as the station chose). Pure functions: no database, no web.

The stored rule is ``;``-separated items, sorted and without duplicates:
  ``day:15``        the 15th of each month (31 in a 30-day month: that month's last day)
  ``day:last``      the last day of each month
  ``nth:1:fri``     the first Friday of each month (1–4)
  ``nth:last:wed``  the last Wednesday of each month
  ``week:tue``      every Tuesday
An empty text is an empty rule (no fixed days): parse "" → "", describe "" → "", no dates.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

from app.core.calendar import WorkingCalendar
from app.core.errors import Refusal
from app.core.i18n import lazy

MAX_ITEMS = 7
MAX_RULE_CHARS = 100  # stations.reception_rule

UNREADABLE = lazy(
    "We could not read “%(part)s”. Write reception days like 每月15日, 每月第一个星期五, "
    "每月最后一个星期三 or 每周二, separated by 、"
)
BAD_DAY = lazy("There is no day %(day)s in a month: write a day from 1 to 31.")
BAD_NTH = lazy("A month has only four full weeks: write 第一个 to 第四个, or 最后一个.")
TOO_MANY = lazy("Too many reception days: at most %(max)s.")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ZH_WEEKDAY = ("一", "二", "三", "四", "五", "六", "日")
_EN_WEEKDAY = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTH = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
_ZH_ORDINAL = {1: "第一个", 2: "第二个", 3: "第三个", 4: "第四个", -1: "最后一个"}
_EN_ORDINAL = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_WEEKDAY_CHARS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6,
                  "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}

_INNER_SPACE = re.compile(r"\s+(?=[日号个])|(?<=[第个])\s+")
_SEPARATORS = re.compile(r"(?:以及|[、,;/\s和及与。.])+")
_NUM = r"(\d{1,3}|[〇零一二两三四五六七八九十]{1,3})"
_WEEK_WORD = r"(?:星期|周|礼拜)"
_WD = r"([一二三四五六日天七1-7])"
_MONTH_PREFIX = re.compile(r"^(?:每个?月(?:的)?|每月份)")
_WEEK_PREFIX = re.compile(r"^每个?(?:星期|周|礼拜)(?:的)?")
_DAY = re.compile(rf"^{_NUM}(?:日|号)?$")
_LAST_DAY = re.compile(r"^(?:最后一天|月底|月末|最后1天)$")
_NTH = re.compile(rf"^第?{_NUM}个?{_WEEK_WORD}{_WD}$")
_NTH_ALONE = re.compile(rf"^第{_NUM}个?$")
_LAST = re.compile(rf"^(?:最后|末|倒数第一|倒数第1)[一1]?个?{_WEEK_WORD}{_WD}$")
_WEEKLY = re.compile(rf"^{_WEEK_WORD}?{_WD}$")


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        if len(tens) > 1 or len(ones) > 1 or "十" in ones:
            return None
        t = _CN_DIGITS.get(tens) if tens else 1
        o = _CN_DIGITS.get(ones) if ones else 0
        if t is None or o is None:
            return None
        return t * 10 + o
    if len(text) == 1 and text in _CN_DIGITS:
        return _CN_DIGITS[text]
    return None


def _day_item(text: str, original: str) -> str:
    day = _number(text)
    if day is None:
        raise Refusal(UNREADABLE, part=original)
    if not 1 <= day <= 31:
        raise Refusal(BAD_DAY, day=day)
    return f"day:{day}"


def _nth_item(n_text: str, weekday_char: str, original: str) -> str:
    n = _number(n_text)
    if n is None:
        raise Refusal(UNREADABLE, part=original)
    if not 1 <= n <= 4:
        raise Refusal(BAD_NTH)
    return f"nth:{n}:{WEEKDAYS[_WEEKDAY_CHARS[weekday_char]]}"


def _monthly(piece: str, original: str, pending: list[str]) -> list[str]:
    """Items for a piece read as "of each month"; ``pending`` holds bare "第一" waiting for a weekday
    ("每月第一、三个星期五")."""
    if m := _NTH_ALONE.match(piece):
        pending.append(m.group(1))
        return []
    if m := _NTH.match(piece):
        items = [_nth_item(n, m.group(2), original) for n in pending]
        pending.clear()
        return items + [_nth_item(m.group(1), m.group(2), original)]
    if m := _LAST.match(piece):
        items = [_nth_item(n, m.group(1), original) for n in pending]
        pending.clear()
        return items + [f"nth:last:{WEEKDAYS[_WEEKDAY_CHARS[m.group(1)]]}"]
    if pending:
        raise Refusal(UNREADABLE, part=original)
    if _LAST_DAY.match(piece):
        return ["day:last"]
    if m := _DAY.match(piece):
        return [_day_item(m.group(1), original)]
    raise Refusal(UNREADABLE, part=original)


def _weekly(piece: str, original: str) -> list[str]:
    if m := _WEEKLY.match(piece):
        return [f"week:{WEEKDAYS[_WEEKDAY_CHARS[m.group(1)]]}"]
    raise Refusal(UNREADABLE, part=original)


def _sort_key(item: str) -> tuple:
    parts = item.split(":")
    if parts[0] == "day":
        return (0, 32 if parts[1] == "last" else int(parts[1]), 0)
    if parts[0] == "nth":
        return (1, 5 if parts[1] == "last" else int(parts[1]), WEEKDAYS.index(parts[2]))
    return (2, WEEKDAYS.index(parts[1]), 0)


def parse_rule(text: str) -> str:
    """The normalised rule for what staff wrote, or Refusal with a message saying what is wrong."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    # spaces inside one day ("15 日", "第一个 星期五") are not separators
    text = _INNER_SPACE.sub("", text)
    if not text:
        return ""
    items: list[str] = []
    pending: list[str] = []
    context: str | None = None  # "month" or "week": a piece without its own prefix continues the last one
    for original in _SEPARATORS.split(text):
        if not original:
            continue
        piece = original.replace("的", "") if original.startswith("每") else original
        if m := _MONTH_PREFIX.match(piece):
            context, piece = "month", piece[m.end():]
        elif m := _WEEK_PREFIX.match(piece):
            context, piece = "week", piece[m.end():]
        elif piece.startswith("每"):
            raise Refusal(UNREADABLE, part=original)
        if not piece:  # "每月 15日": the prefix alone, the day follows
            continue
        kind = context
        if kind is None:  # no prefix yet: the form tells ("15日" monthly, "周二" weekly)
            kind = "week" if _WEEKLY.match(piece) and not piece.isdigit() else "month"
        if kind == "week" and context == "week" and (_NTH.match(piece) or _DAY.match(piece)) \
                and not _WEEKLY.match(piece):
            kind = "month"  # "每周二、15日": the second piece is a day of the month
        if kind == "month" and context == "month" and _WEEKLY.match(piece) and not _DAY.match(piece):
            # "每月15日、周二" is ambiguous: a weekly day written after monthly ones must say 每周
            raise Refusal(UNREADABLE, part=original)
        items += _monthly(piece, original, pending) if kind == "month" else _weekly(piece, original)
    if pending or not items:
        raise Refusal(UNREADABLE, part=text)
    unique = sorted(set(items), key=_sort_key)
    if len(unique) > MAX_ITEMS:
        raise Refusal(TOO_MANY, max=MAX_ITEMS)
    rule = ";".join(unique)
    assert len(rule) <= MAX_RULE_CHARS
    return rule


_ITEM = re.compile(r"^(?:day:(?:[1-9]|[12]\d|3[01]|last)|nth:(?:[1-4]|last):(?:mon|tue|wed|thu|fri|sat|sun)"
                   r"|week:(?:mon|tue|wed|thu|fri|sat|sun))$")


def _items(rule: str) -> list[str]:
    """The items of a stored rule. Text that is not a normalised rule (older free text) is parsed as
    staff would have typed it; what cannot be read raises Refusal."""
    rule = (rule or "").strip()
    if not rule:
        return []
    items = rule.split(";")
    if all(_ITEM.match(i) for i in items):
        return items
    parsed = parse_rule(rule)
    return parsed.split(";") if parsed else []


def _describe_item(item: str, english: bool) -> str:
    parts = item.split(":")
    if parts[0] == "day":
        if parts[1] == "last":
            return "the last day of each month" if english else "每月最后一天"
        day = int(parts[1])
        return f"the {_en_ordinal_number(day)} of each month" if english else f"每月{day}日"
    if parts[0] == "nth":
        n = -1 if parts[1] == "last" else int(parts[1])
        wd = WEEKDAYS.index(parts[2])
        if english:
            return f"the {_EN_ORDINAL[n]} {_EN_WEEKDAY[wd]} of each month"
        return f"每月{_ZH_ORDINAL[n]}星期{_ZH_WEEKDAY[wd]}"
    wd = WEEKDAYS.index(parts[1])
    return f"every {_EN_WEEKDAY[wd]}" if english else f"每周{_ZH_WEEKDAY[wd]}"


def _en_ordinal_number(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def describe_rule(rule: str, locale: str) -> str:
    """The rule for people: "每月15日、每月第一个星期五" (zh_Hans) or "the 15th of each month, the first
    Friday of each month" (en)."""
    english = (locale or "").startswith("en")
    described = [_describe_item(i, english) for i in _items(rule)]
    return (", " if english else "、").join(described)


def _dates_in_month(item: str, year: int, month: int) -> list[date]:
    last = calendar.monthrange(year, month)[1]
    parts = item.split(":")
    if parts[0] == "day":
        day = last if parts[1] == "last" else min(int(parts[1]), last)
        return [date(year, month, day)]
    if parts[0] == "nth":
        wd = WEEKDAYS.index(parts[2])
        if parts[1] == "last":
            d = date(year, month, last)
            return [d - timedelta(days=(d.weekday() - wd) % 7)]
        first = date(year, month, 1)
        first_match = first + timedelta(days=(wd - first.weekday()) % 7)
        return [first_match + timedelta(weeks=int(parts[1]) - 1)]
    wd = WEEKDAYS.index(parts[1])
    first = date(year, month, 1)
    d = first + timedelta(days=(wd - first.weekday()) % 7)
    out = []
    while d.month == month:
        out.append(d)
        d += timedelta(weeks=1)
    return out


def next_reception_days(rule: str, start: date, n: int) -> list[date]:
    """The next ``n`` reception days from ``start`` (inclusive), sorted, without duplicates."""
    items = _items(rule)
    if not items or n <= 0:
        return []
    found: set[date] = set()
    year, month = start.year, start.month
    # every item gives at least one date a month, so n months always suffice
    for _ in range(n + 1):
        for item in items:
            found.update(d for d in _dates_in_month(item, year, month) if d >= start)
        if len(found) >= n:  # later months only give later dates
            break
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(found)[:n]


def format_day(d: date, locale: str) -> str:
    """A reception day for a page or a poster: "2026年3月15日 星期日" / "Sunday 15 March 2026"."""
    if (locale or "").startswith("en"):
        return f"{_EN_WEEKDAY[d.weekday()]} {d.day} {_EN_MONTH[d.month]} {d.year}"
    return f"{d.year}年{d.month}月{d.day}日 星期{_ZH_WEEKDAY[d.weekday()]}"


# --- reception days on China's working calendar ----------------------------------------------------

HOLIDAY_RECEPTION = ("moved", "cancelled")  # stations.holiday_reception
HOLIDAY_RECEPTION_NAMES = {
    "moved": lazy("Moved to the next working day"),
    "cancelled": lazy("No reception that day"),
}
# a reception moved from a holiday lands at most a holiday block later: look that far back
LOOKBACK = timedelta(days=21)


@dataclass(frozen=True)
class Reception:
    day: date  # when it takes place (a cancelled one: the day it would have been)
    moved_from: date | None = None  # the holiday it was moved from
    holiday: str = ""  # that holiday's name ("国庆节"), for a moved or cancelled reception


@dataclass
class Receptions:
    days: list[Reception] = field(default_factory=list)  # the next receptions that take place
    cancelled: list[Reception] = field(default_factory=list)  # holidays that cancel one, up to the last shown


def receptions(rule: str, start: date, n: int, calendar: WorkingCalendar, on_holiday: str = "moved") -> Receptions:
    """The next ``n`` receptions from ``start`` on the working calendar: a reception day that is a
    statutory holiday moves to the next working day (``on_holiday="moved"``) or does not take place
    (``"cancelled"``). None of ``days`` is ever a holiday."""
    if n <= 0:
        return Receptions()
    # enough planned days for n to remain, counted from far enough back to catch one moved forward
    planned = next_reception_days(rule, start - LOOKBACK, 2 * n + 2 * LOOKBACK.days)
    held: dict[date, Reception] = {}
    cancelled: list[Reception] = []
    for day in planned:
        name = calendar.holiday_name(day)
        if name is None:
            held.setdefault(day, Reception(day))
        elif on_holiday == "cancelled":
            cancelled.append(Reception(day, holiday=name))
        else:
            moved = calendar.next_working_day(day)
            held.setdefault(moved, Reception(moved, moved_from=day, holiday=name))
    days = sorted((r for r in held.values() if r.day >= start), key=lambda r: r.day)[:n]
    last = days[-1].day if len(days) == n else date.max
    return Receptions(days, [r for r in cancelled if start <= r.day <= last])
