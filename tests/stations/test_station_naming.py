"""The naming rule as pure functions: forbidden words, deputies' names, the canonical name."""

from app.core.i18n import current_locale, gettext
from app.stations import naming
from app.tenancy.config import canonical_name
from app.tenancy.models import AdminNode

PATTERN = "绵阳市{county}{township}{village}人大代表联络站"
CHAIN = [("county", "三台县"), ("township", "潼川镇"), ("village", "北坝村")]
CANONICAL = "绵阳市三台县潼川镇北坝村人大代表联络站"
FORBIDDEN = ["人大代表工作室", "人大代表联络点", "人大代表活动中心"]


def zh(problem: naming.NameProblem) -> str:
    current_locale.set("zh_Hans")
    return gettext(problem.message, **problem.variables)


def test_canonical_name_is_the_pattern_rendered_for_the_node():
    chain = [AdminNode(kind=k, name=n, division_code=None) for k, n in CHAIN]
    assert canonical_name(PATTERN, chain, "代表联络站") == CANONICAL
    street = [AdminNode(kind=k, name=n, division_code=None)
              for k, n in (("county", "三台县"), ("street", "北坝街道"), ("community", "东街社区"))]
    assert canonical_name(PATTERN, street, "代表联络站") == "绵阳市三台县北坝街道东街社区人大代表联络站"


def test_a_forbidden_word_is_named_and_the_canonical_name_offered():
    problem = naming.check_name("北坝村人大代表联络点", forbidden_words=FORBIDDEN, canonical=CANONICAL)
    assert problem is not None
    assert zh(problem) == "名称中含有禁用词“人大代表联络点”。"
    assert problem.canonical == CANONICAL


def test_a_deputys_name_is_refused():
    problem = naming.check_name("张三人大代表联络站", forbidden_words=FORBIDDEN, deputy_names=["李四", "张三"],
                                canonical=CANONICAL)
    assert zh(problem) == "名称不能使用代表姓名“张三”。"
    assert problem.canonical == CANONICAL


def test_a_deputys_name_that_is_part_of_the_place_name_is_not_the_deputys():
    # a deputy called 北坝 would otherwise forbid the canonical name of 北坝村
    assert naming.check_name(CANONICAL, deputy_names=["北坝"], canonical=CANONICAL) is None


def test_a_name_off_the_pattern_is_told_the_canonical_name():
    problem = naming.check_name("北坝村联络站", forbidden_words=FORBIDDEN, canonical=CANONICAL)
    assert zh(problem) == f"名称应为“{CANONICAL}”。"
    assert problem.canonical == CANONICAL


def test_a_fine_name_passes():
    assert naming.check_name(CANONICAL, forbidden_words=FORBIDDEN, deputy_names=["张三"], canonical=CANONICAL) is None
    # a kind without a pattern takes any name free of forbidden words and deputies' names
    assert naming.check_name("潼川镇青年代表活动室", forbidden_words=FORBIDDEN, deputy_names=["张三"]) is None


def test_empty_and_overlong_names():
    assert zh(naming.check_name("")) == "请填写站点名称。"
    assert naming.check_name("站" * 121).message == naming.NAME_TOO_LONG


def test_spaces_are_not_part_of_a_name():
    assert naming.normalise(" 北坝村\u3000联络站 ") == "北坝村联络站"
