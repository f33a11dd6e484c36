"""Reception days: what staff type in Chinese, the stored rule, the words shown back, the dates."""

from __future__ import annotations

from datetime import date

import pytest

from app.core import i18n
from app.core.errors import Refusal
from app.stations.schedule import BAD_DAY, BAD_NTH, MAX_ITEMS, TOO_MANY, UNREADABLE, describe_rule, format_day, next_reception_days, parse_rule


# --- parsing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, rule", [
    ("每月15日", "day:15"),
    ("每月15号", "day:15"),
    ("每月 15 日", "day:15"),
    ("每个月的15号", "day:15"),
    ("每月十五日", "day:15"),
    ("每月二十日", "day:20"),
    ("每月三十一日", "day:31"),
    ("每月初一", None),  # lunar days are not supported (see the error cases)
    ("每月１５日", "day:15"),  # full-width digits
    ("每月1日", "day:1"),
    ("每月最后一天", "day:last"),
    ("每月月底", "day:last"),
    ("每月第一个星期五", "nth:1:fri"),
    ("每月第1个周五", "nth:1:fri"),
    ("每月第一个礼拜五", "nth:1:fri"),
    ("每月第二个周一", "nth:2:mon"),
    ("每月第四个星期日", "nth:4:sun"),
    ("每月第三个星期天", "nth:3:sun"),
    ("每月最后一个星期三", "nth:last:wed"),
    ("每月最后一个周三", "nth:last:wed"),
    ("每月最后一周的星期三", None),
    ("每周二", "week:tue"),
    ("每星期二", "week:tue"),
    ("每个星期二", "week:tue"),
    ("每周星期二", "week:tue"),
    ("每礼拜六", "week:sat"),
    ("每周日", "week:sun"),
    ("每周7", "week:sun"),
    ("星期四", "week:thu"),  # no prefix: the form says weekly
    ("15日", "day:15"),  # no prefix: a day of the month
])
def test_single_days(text, rule):
    if rule is None:
        with pytest.raises(Refusal):
            parse_rule(text)
    else:
        assert parse_rule(text) == rule


@pytest.mark.parametrize("text, rule", [
    ("每月5日、20日", "day:5;day:20"),
    ("每月20日、5日", "day:5;day:20"),  # sorted
    ("每月5日，20日", "day:5;day:20"),
    ("每月5日,20日", "day:5;day:20"),
    ("每月5日;20日", "day:5;day:20"),
    ("每月5日；每月20日", "day:5;day:20"),
    ("每月5日和20日", "day:5;day:20"),
    ("每月15日、每月第一个星期五", "day:15;nth:1:fri"),
    ("每月第一个星期五、每月15日", "day:15;nth:1:fri"),
    ("每月第一、三个星期五", "nth:1:fri;nth:3:fri"),
    ("每月第一个星期五、第三个星期五", "nth:1:fri;nth:3:fri"),
    ("每周二、四", "week:tue;week:thu"),
    ("每周二、周四", "week:tue;week:thu"),
    ("每周二、每月15日", "day:15;week:tue"),
    ("每周二、15日", "day:15;week:tue"),
    ("每月15日、每周二", "day:15;week:tue"),
    ("每月15日、15号", "day:15"),  # duplicates once
    ("每月15日。", "day:15"),
    ("  每月15日  ", "day:15"),
])
def test_several_days(text, rule):
    assert parse_rule(text) == rule


def test_empty_text_is_no_rule():
    assert parse_rule("") == ""
    assert parse_rule("   ") == ""
    assert describe_rule("", "zh_Hans") == ""
    assert next_reception_days("", date(2026, 1, 1), 3) == []


def test_parsing_is_idempotent_through_the_description():
    for text in ("每月15日、每月第一个星期五", "每月最后一个星期三、每周二", "每月31日", "每月最后一天"):
        rule = parse_rule(text)
        assert parse_rule(describe_rule(rule, "zh_Hans")) == rule


@pytest.mark.parametrize("text, message, variables", [
    ("每天", UNREADABLE, {"part": "每天"}),
    ("每月", UNREADABLE, {"part": "每月"}),
    ("明天上午", UNREADABLE, {"part": "明天上午"}),
    ("每月15日上午", UNREADABLE, {"part": "每月15日上午"}),
    ("每月15日、周二", UNREADABLE, {"part": "周二"}),  # weekly after monthly must say 每周
    ("每月第一", UNREADABLE, {"part": "每月第一"}),
    ("每月星期五", UNREADABLE, {"part": "每月星期五"}),
    ("every Tuesday", UNREADABLE, {"part": "every"}),
    ("每年3月15日", UNREADABLE, {"part": "每年3月15日"}),
    ("每月0日", BAD_DAY, {"day": 0}),
    ("每月32日", BAD_DAY, {"day": 32}),
    ("每月100号", BAD_DAY, {"day": 100}),
    ("每月第五个星期五", BAD_NTH, {}),
    ("每月第0个星期五", BAD_NTH, {}),
    ("每月1日、2日、3日、4日、5日、6日、7日、8日", TOO_MANY, {"max": MAX_ITEMS}),
])
def test_what_cannot_be_read_says_why(text, message, variables):
    with pytest.raises(Refusal) as caught:
        parse_rule(text)
    assert caught.value.message == message
    assert caught.value.variables == variables


def test_error_messages_are_in_chinese():
    token = i18n.current_locale.set("zh_Hans")
    try:
        with pytest.raises(Refusal) as caught:
            parse_rule("每天")
        shown = i18n.gettext(caught.value.message, **caught.value.variables)
        assert shown.startswith("无法识别“每天”") and "每月第一个星期五" in shown
        with pytest.raises(Refusal) as caught:
            parse_rule("每月32日")
        assert i18n.gettext(caught.value.message, **caught.value.variables) == "每月没有32日：请填写1到31之间的日期。"
    finally:
        i18n.current_locale.reset(token)


def test_the_longest_rule_fits_the_column():
    text = "、".join(f"每月最后一个星期{d}" for d in "一二三四五六日")
    rule = parse_rule(text)
    assert len(rule.split(";")) == 7 and len(rule) <= 100


# --- describing ---------------------------------------------------------------------------------

def test_describe_in_chinese_and_english():
    rule = parse_rule("每月15日、每月第一个星期五")
    assert describe_rule(rule, "zh_Hans") == "每月15日、每月第一个星期五"
    assert describe_rule(rule, "en") == "the 15th of each month, the first Friday of each month"
    rule = parse_rule("每月1日、2日、3日、22日、23日、最后一天")
    assert describe_rule(rule, "en") == (
        "the 1st of each month, the 2nd of each month, the 3rd of each month, the 22nd of each month, "
        "the 23rd of each month, the last day of each month"
    )
    assert describe_rule("nth:last:wed;week:tue", "zh_Hans") == "每月最后一个星期三、每周二"
    assert describe_rule("nth:last:wed;week:tue", "en") == "the last Wednesday of each month, every Tuesday"
    assert describe_rule("day:11;day:12;day:13", "en") == "the 11th of each month, the 12th of each month, " \
                                                          "the 13th of each month"


def test_free_text_stored_before_is_read_too():
    assert describe_rule("每月15号", "zh_Hans") == "每月15日"
    assert next_reception_days("每周二", date(2026, 3, 1), 1) == [date(2026, 3, 3)]
    with pytest.raises(Refusal):
        describe_rule("逢集日", "zh_Hans")


# --- the dates ----------------------------------------------------------------------------------

def test_day_of_month_from_start_inclusive():
    assert next_reception_days("day:15", date(2026, 3, 15), 3) == [date(2026, 3, 15), date(2026, 4, 15),
                                                                    date(2026, 5, 15)]
    assert next_reception_days("day:15", date(2026, 3, 16), 2) == [date(2026, 4, 15), date(2026, 5, 15)]


def test_day_31_falls_on_the_last_day_of_shorter_months():
    assert next_reception_days("day:31", date(2026, 1, 1), 5) == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]
    assert next_reception_days("day:30", date(2028, 2, 1), 1) == [date(2028, 2, 29)]  # leap year
    assert next_reception_days("day:29", date(2027, 2, 1), 2) == [date(2027, 2, 28), date(2027, 3, 29)]
    assert next_reception_days("day:last", date(2026, 2, 1), 2) == [date(2026, 2, 28), date(2026, 3, 31)]


def test_nth_and_last_weekday():
    # March 2026 starts on a Sunday
    assert next_reception_days("nth:1:fri", date(2026, 3, 1), 3) == [date(2026, 3, 6), date(2026, 4, 3),
                                                                      date(2026, 5, 1)]
    assert next_reception_days("nth:1:sun", date(2026, 3, 1), 1) == [date(2026, 3, 1)]
    assert next_reception_days("nth:4:mon", date(2026, 3, 1), 1) == [date(2026, 3, 23)]
    assert next_reception_days("nth:last:wed", date(2026, 3, 1), 3) == [date(2026, 3, 25), date(2026, 4, 29),
                                                                         date(2026, 5, 27)]
    assert next_reception_days("nth:last:tue", date(2026, 3, 31), 1) == [date(2026, 3, 31)]
    assert next_reception_days("nth:last:sat", date(2026, 2, 1), 1) == [date(2026, 2, 28)]


def test_weekly_days():
    assert next_reception_days("week:tue;week:thu", date(2026, 3, 3), 4) == [
        date(2026, 3, 3), date(2026, 3, 5), date(2026, 3, 10), date(2026, 3, 12)]


def test_mixed_rules_sorted_without_duplicates_across_the_year_end():
    # 2026-12-15 is a Tuesday: the day rule and the weekly rule meet
    days = next_reception_days("day:15;week:tue", date(2026, 12, 14), 4)
    assert days == [date(2026, 12, 15), date(2026, 12, 22), date(2026, 12, 29), date(2027, 1, 5)]
    assert next_reception_days("day:5;nth:1:fri", date(2026, 12, 20), 3) == [
        date(2027, 1, 1), date(2027, 1, 5), date(2027, 2, 5)]


def test_start_after_this_months_days():
    assert next_reception_days("day:5;day:20", date(2026, 3, 21), 2) == [date(2026, 4, 5), date(2026, 4, 20)]


def test_asking_for_nothing():
    assert next_reception_days("day:5", date(2026, 3, 1), 0) == []


def test_many_days():
    days = next_reception_days("day:1", date(2026, 1, 1), 24)
    assert len(days) == 24 and days[-1] == date(2027, 12, 1)


def test_format_day():
    assert format_day(date(2026, 3, 15), "zh_Hans") == "2026年3月15日 星期日"
    assert format_day(date(2026, 3, 15), "en") == "Sunday 15 March 2026"
