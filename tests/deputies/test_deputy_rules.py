"""The field rules the forms and the spreadsheet import share."""

from __future__ import annotations

import pytest

from app.core import i18n
from app.core.errors import Refusal
from app.deputies.rules import check_direct, check_level, check_mobile, check_name, check_status, check_term, check_text


@pytest.mark.parametrize("raw,code", [
    ("全国", "national"), ("全国人大代表", "national"), ("省", "provincial"), ("省级", "provincial"),
    ("省人大代表", "provincial"), ("市", "city"), ("市级人大代表", "city"), ("县", "county"),
    ("县人民代表大会代表", "county"), ("区", "county"), ("县（市、区）", "county"), ("乡镇", "township"),
    ("镇人大代表", "township"), ("乡", "township"), ("county", "county"), ("City level", "city"),
    (" 县级 ", "county"),
])
def test_levels_from_codes_and_chinese(raw, code):
    assert check_level(raw) == code


@pytest.mark.parametrize("raw", ["村", "人大代表", "xyz", "县长"])
def test_unknown_level_is_refused_with_the_value(raw):
    with pytest.raises(Refusal) as e:
        check_level(raw)
    assert raw in e.value.text()


def test_level_is_required():
    with pytest.raises(Refusal, match="choose the level"):
        check_level("  ")


@pytest.mark.parametrize("raw,term", [
    ("18", 18), (18, 18), (18.0, 18), ("第十八届", 18), ("十八", 18), ("第18届", 18), ("第十届", 10),
    ("二十一", 21), ("第一届", 1), ("九十九", 99), (" 第 十八 届 ", 18),
])
def test_terms(raw, term):
    assert check_term(raw) == term


@pytest.mark.parametrize("raw", ["0", "100", "第一百届", "-3", "十八十", "abc", "1.5", True])
def test_bad_terms(raw):
    with pytest.raises(Refusal):
        check_term(raw)


def test_term_required():
    with pytest.raises(Refusal, match="enter the term"):
        check_term("")


@pytest.mark.parametrize("raw,value", [
    ("13800138000", "13800138000"), ("138 0013 8000", "13800138000"), ("+86 138-0013-8000", "13800138000"),
    (13800138000, "13800138000"), (13800138000.0, "13800138000"), ("", None), (None, None), ("  ", None),
])
def test_mobiles(raw, value):
    assert check_mobile(raw) == value


@pytest.mark.parametrize("raw", ["12345678901", "1380013800", "138001380001", "0816-1234567", "abc"])
def test_bad_mobiles(raw):
    with pytest.raises(Refusal) as e:
        check_mobile(raw)
    assert "11 digits" in str(e.value)


@pytest.mark.parametrize("raw,value", [
    ("直接", True), ("直选", True), ("是", True), ("间接", False), ("否", False), ("间接选举", False),
    (True, True), (False, False), ("yes", True), ("0", False),
])
def test_direct(raw, value):
    assert check_direct(raw) is value


@pytest.mark.parametrize("raw", ["", "也许", "2"])
def test_bad_direct(raw):
    with pytest.raises(Refusal):
        check_direct(raw)


@pytest.mark.parametrize("raw,code", [
    ("", "active"), ("在任", "active"), ("active", "active"), ("辞职", "resigned"), ("已去世", "deceased"),
    ("罢免", "removed"), ("Removed", "removed"),
])
def test_status(raw, code):
    assert check_status(raw) == code


def test_bad_status():
    with pytest.raises(Refusal, match="not a status"):
        check_status("休假")


def test_names():
    assert check_name("  王  小明 ") == "王 小明"
    assert check_name("阿依古丽·买买提") == "阿依古丽·买买提"
    for bad in ("", "张3", "李四!", "王" * 41):
        with pytest.raises(Refusal):
            check_name(bad)


def test_text_limits():
    assert check_text(" 农民 ", "occupation") == "农民"
    with pytest.raises(Refusal, match="at most 60"):
        check_text("农" * 61, "occupation")


def test_messages_are_translated():
    token = i18n.current_locale.set("zh_Hans")
    try:
        with pytest.raises(Refusal) as e:
            check_mobile("123")
        assert "手机" in e.value.text()
    finally:
        i18n.current_locale.reset(token)
