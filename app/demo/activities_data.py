"""What the demo's activities are (app/demo/activities.py writes them): per county, the rhythms of a
few stations in operation, chosen after the county's preset rules so that the compliance board shows
rules met, at risk and missed; the opinions registered at receptions; deputies' suggestions."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL = tuple(range(1, 13))
EVEN = (2, 4, 6, 8, 10, 12)
QUARTER_FIRST, QUARTER_LAST = (1, 4, 7, 10), (3, 6, 9, 12)
MON, TUE, WED, THU, FRI = range(5)


@dataclass
class Rhythm:
    kind: str  # activity kind code
    months: tuple[int, ...]
    day: int | tuple[int, int]  # day of the month, or (n, weekday): the n-th weekday (-1: the last)
    topics: tuple[str, ...]  # one per occurrence, in turn by month
    start: tuple[int, int] = (9, 0)
    minutes: int = 150
    keep: float = 1.0  # share of past occurrences that took place
    in_plan: bool = True  # an entry of the yearly plan (at the plan's station)
    counts_people: bool = False  # the record says how many people were received
    place: str = ""
    notes: str = ""


@dataclass
class StationActivities:
    key: str  # StationDemo key in app/demo/people.py
    place: str
    rhythms: list[Rhythm]
    plan: bool = False  # this year's published plan
    cancel_one: bool = False  # the first occurrence that did not take place is on record as cancelled


@dataclass
class CountyActivities:
    slug: str
    admin: str
    stations: list[StationActivities]
    plan_note: str
    cancel_reason: str
    opinions: list[tuple[str, str]] = field(default_factory=list)  # (raised by, content)
    suggestions: list[tuple[str, str, str, int]] = field(default_factory=list)  # (deputy, kind, title, days ago)


def _reception(day, topics, keep=1.0) -> Rhythm:
    return Rhythm("reception", ALL, day, topics, keep=keep, counts_people=True,
                  notes="进站代表轮流接待，群众反映的问题已逐一登记，能当场答复的当场答复。")


SANTAI = CountyActivities(
    slug="santai", admin="santai-admin",
    plan_note="{year}年度北坝村人大代表联络站活动计划：每月第一个星期五接待选民，双月走访选区，"
              "每季度组织学习培训，年中开展专题调研，年底向选民述职。",
    cancel_reason="因暴雨天气取消，改期另行通知。",
    stations=[
        StationActivities("beiba", "北坝村村委会二楼联络站", plan=True, rhythms=[
            _reception((1, FRI), ("接待日：机耕道硬化", "接待日：农村养老服务", "接待日：灌溉渠维修",
                                  "接待日：农产品销售与物流", "接待日：村内道路照明", "接待日：医保缴费")),
            Rhythm("visit", EVEN, 20, ("走访北坝村三组、四组群众", "走访独居老人和留守儿童家庭"), start=(14, 30),
                   minutes=120, keep=0.9, counts_people=True),
            Rhythm("training", QUARTER_LAST, (2, TUE), ("学习《代表法》及代表履职知识", "学习乡村振兴促进法"),
                   start=(9, 30), minutes=180),
            Rhythm("survey", (5,), 12, ("调研高标准农田建设",)),
            Rhythm("duty_report", (12,), 15, ("代表向选民述职并接受评议",), start=(14, 0)),
        ]),
        StationActivities("baihe", "白鹤村便民服务中心", cancel_one=True, rhythms=[
            _reception((2, TUE), ("接待日：柑橘销售", "接待日：村道维护", "接待日：农技服务"), keep=0.75),
            Rhythm("visit", (3, 7, 11), 25, ("走访柑橘种植户",), start=(14, 30), counts_people=True),
            Rhythm("survey", (9,), 16, ("柑橘产业发展专题调研",)),
            Rhythm("aid", (1,), 10, ("走访慰问困难群众",), start=(14, 0)),
        ]),
        StationActivities("home", "潼川镇人大代表之家", rhythms=[
            _reception(15, ("接待日：老旧小区改造", "接待日：停车难", "接待日：农贸市场环境"), keep=0.85),
            Rhythm("meeting", QUARTER_FIRST, (1, THU), ("潼川镇代表小组季度例会",), start=(14, 30)),
            Rhythm("training", (5, 11), 22, ("代表履职能力培训",)),
            Rhythm("exchange", (8,), 18, ("代表履职经验交流会",), start=(14, 30)),
            Rhythm("briefing", (3,), 8, ("政情通报会：县政府工作报告解读",)),
            Rhythm("visit", (2, 6, 10), 26, ("走访东街社区选民",), start=(15, 0), keep=0.8, counts_people=True),
        ]),
    ],
    opinions=[
        ("孙大勇", "北坝村三组机耕道雨后泥泞，农机无法通行，希望尽快硬化。"),
        ("马春兰", "村里老人多，希望开设老年食堂，解决吃饭难。"),
        ("", "潼川镇农贸市场周边占道经营严重，早晚高峰拥堵。"),
    ],
    suggestions=[
        ("王秀兰", "suggestion", "关于加快北坝村机耕道硬化的建议", 200),
        ("李建国", "suggestion", "关于加快潼川镇老旧小区改造的建议", 120),
        ("陈晓燕", "suggestion", "关于支持白鹤村柑橘冷链物流建设的建议", 60),
    ],
)

YUCI = CountyActivities(
    slug="yuci", admin="yuci-admin",
    plan_note="{year}年度庄子村人大代表联络站活动计划：每月第一个星期三接待选民、第三个星期三走访选区，"
              "每季度调研、学习、召开代表会议各一次，年内开展政策宣讲、履职交流和述职评议。",
    cancel_reason="村委会换届选举期间暂停一次，顺延至下月。",
    stations=[
        StationActivities("zhuangzi", "庄子村村委会一楼联络站", plan=True, rhythms=[
            _reception((1, WED), ("接待日：饮水安全", "接待日：村容村貌整治", "接待日：幼儿园门前道路积水",
                                  "接待日：冬季清洁取暖")),
            Rhythm("visit", ALL, (3, WED), ("走访庄子村东街农户", "走访庄子村西街农户"), start=(14, 30), minutes=120,
                   keep=0.92, counts_people=True),
            Rhythm("survey", (2, 5, 8, 11), 14, ("调研农村人居环境整治", "调研村集体经济发展")),
            Rhythm("training", QUARTER_FIRST, 9, ("学习《代表法》", "学习全国人大会议精神")),
            Rhythm("meeting", QUARTER_LAST, (-1, THU), ("联络站代表季度会议",), start=(14, 30)),
            Rhythm("briefing", (3,), 6, ("政策宣讲：乡村振兴政策解读",)),
            Rhythm("exchange", (10,), 20, ("代表履职经验交流",)),
            Rhythm("duty_report", (12,), 18, ("代表向选民述职并接受评议",), start=(14, 0)),
        ]),
        StationActivities("beiheliu", "北合流村文化活动室", cancel_one=True, rhythms=[
            _reception((2, TUE), ("接待日：蔬菜大棚水电", "接待日：村道硬化"), keep=0.8),
            Rhythm("visit", ALL, 23, ("走访蔬菜种植户",), start=(15, 0), keep=0.6, counts_people=True),
            Rhythm("survey", (6, 11), 15, ("蔬菜大棚产业调研",)),
            Rhythm("training", (4, 10), 12, ("代表履职知识学习",)),
        ]),
        StationActivities("home", "庄子乡人大代表之家", rhythms=[
            _reception(5, ("接待日：乡村道路养护", "接待日：农机补贴", "接待日：卫生院服务"), keep=0.9),
            Rhythm("visit", ALL, 20, ("走访联系选民",), start=(14, 30), keep=0.7, counts_people=True),
            Rhythm("meeting", QUARTER_FIRST, (1, MON), ("庄子乡代表小组季度例会",), start=(14, 30)),
            Rhythm("training", (2, 5, 8, 11), 16, ("代表履职能力培训",)),
            Rhythm("briefing", (3, 9), 10, ("政情通报：乡政府重点工作",)),
            Rhythm("survey", QUARTER_LAST, 24, ("调研乡村道路养护",), keep=0.75),
            Rhythm("exchange", (11,), 25, ("全乡代表履职交流会",)),
            Rhythm("duty_report", (12,), 22, ("乡人大代表述职评议会",), start=(14, 0)),
        ]),
    ],
    opinions=[
        ("韩二虎", "自来水管网改造后东街末端水压仍不足，希望再查一查。"),
        ("曹彩霞", "幼儿园门前道路一下雨就积水，接送孩子不安全。"),
        ("", "北合流村蔬菜大棚用电线路老化，夏季经常跳闸。"),
        ("", "希望乡卫生院增加周末门诊。"),
    ],
    suggestions=[
        ("郭建平", "suggestion", "关于做好庄子村饮水管网改造后续维护的建议", 150),
        ("武志刚", "suggestion", "关于完善北合流村蔬菜大棚水电配套的建议", 90),
        ("乔玉梅", "suggestion", "关于推进桥东社区老旧小区加装电梯的建议", 45),
        ("贾海军", "motion", "关于加强乡村道路养护管理的议案", 300),
    ],
)

COUNTY_ACTIVITIES = {"santai": SANTAI, "yuci": YUCI}
