"""What the demo's duty records say (app/demo/duties.py): how diligent each demo deputy is, the texts
of their entries, the few entries left waiting or rejected, the 述职评议 at 北坝村, 榆次区's points
scheme and the rectification reports of its appraisal. Texts are formatted with the county's words
({city}, {county}, {town}, {session}, {year})."""

from __future__ import annotations

from dataclasses import dataclass

# Per county: (city, county) as the entries name them.
PLACES = {"santai": ("绵阳市", "三台县"), "yuci": ("晋中市", "榆次区")}

# How much each deputy files a year: A diligent, B ordinary, C often absent. The unstationed deputies
# are the C ones, so that 榆次区's appraisal has the 不合格 its talks are about.
TIERS = {
    "santai": {"王秀兰": "A", "李建国": "B", "张德明": "A", "杨桂芳": "B", "刘志强": "B", "陈晓燕": "A",
               "赵文华": "B", "黄明辉": "A", "周丽娟": "C", "吴永康": "C"},
    "yuci": {"郭建平": "A", "任淑珍": "B", "武志刚": "A", "段丽萍": "B", "贾海军": "B", "乔玉梅": "A",
             "温向东": "B", "郝秀英": "B", "田晓红": "C", "阎志远": "C"},
}
# Entries of each kind a year (besides the session of each congress the deputy sits in).
TIER_COUNTS = {
    "A": {"speech": 3, "motion": 1, "inspection": 4, "training": 2, "other": 3, "leave": 0},
    "B": {"speech": 3, "motion": 0, "inspection": 4, "training": 2, "other": 2, "leave": 0},
    "C": {"speech": 1, "motion": 0, "inspection": 2, "training": 1, "other": 1, "leave": 1},
}
# One A deputy per county and year is commended (in March, for the year before).
AWARDED = {"santai": ("陈晓燕", "王秀兰"), "yuci": ("郭建平", "乔玉梅")}  # (odd years, even years)
FIRST_TERM_YEAR = 2021  # the congresses of the demo were elected in 2021: 2026's session is the fifth

SPEECHES = (
    "在{session}分组会议上审议政府工作报告时发言，建议加大农村公路养护投入，解决村道破损问题。",
    "在{session}分组会议上审议政府工作报告时发言，建议推进城乡供水一体化，保障农村饮水安全。",
    "在{session}分组会议上审议计划和预算报告时发言，建议增加农村养老服务设施投入，办好老年食堂。",
    "在{session}分组会议上审议政府工作报告时发言，建议加强乡村学校教师队伍建设。",
    "在{session}分组会议上审议政府工作报告时发言，建议支持特色农业产业发展，拓宽农产品销路。",
    "在{session}分组会议上审议法院、检察院工作报告时发言，建议加强基层矛盾纠纷多元化解。",
    "在{session}分组会议上审议政府工作报告时发言，建议整治农村人居环境，健全垃圾清运长效机制。",
)
MOTIONS = (
    "在{session}期间领衔提出《关于加快推进城乡供水一体化的议案》，附议代表12名。",
    "在{session}期间领衔提出《关于加强农村公路管理养护的议案》，附议代表10名。",
    "在{session}期间领衔提出《关于完善农村养老服务体系的议案》，附议代表11名。",
    "在{session}期间领衔提出《关于支持特色农产品品牌建设的议案》，附议代表13名。",
)
INSPECTIONS = (
    "参加{county}人大常委会组织的农村饮水安全工作专题视察。",
    "参加{county}人大常委会《中华人民共和国食品安全法》执法检查。",
    "参加{county}人大常委会乡村振兴衔接资金使用情况专题调研。",
    "参加{county}人大常委会义务教育学校食堂管理情况视察。",
    "参加{town}人大主席团组织的民生实事项目推进情况视察。",
    "参加{county}人大常委会《中华人民共和国安全生产法》执法检查。",
    "参加{county}人大常委会高标准农田建设情况专题调研。",
    "参加{town}人大主席团组织的农村人居环境整治情况视察。",
)
TRAININGS = (
    "参加{city}人大常委会举办的县乡人大代表履职能力提升培训班（三天）。",
    "参加{county}人大常委会组织的代表履职学习培训（线上）。",
    "参加{town}人大主席团组织的《代表法》专题学习。",
)
OTHERS = (
    "列席{county}人大常委会会议，旁听审议专项工作报告。",
    "参加{town}代表小组集中活动，围绕群众关心的问题开展讨论。",
    "参加{town}人大主席团组织的民生实事项目票决。",
    "接待选民来访，收集意见建议3条，已转交有关部门办理。",
)
LEAVES = (
    "因参加防汛抢险值班请假半天，未参加{session}第二天的分组审议。",
    "因住院治疗请假半天，未参加{session}第二天的分组审议。",
    "因家中老人病重请假半天，未参加{session}第二天的分组审议。",
)
AWARD = "被{county}人大常委会评为{year}年度优秀人大代表。"

# (deputy, kind, days ago, text, filed by: "self" | "liaison" | "admin") — waiting for review.
WAITING = {
    "santai": [
        ("张德明", "training", 9, "参加绵阳市人大常委会举办的县乡人大代表履职能力提升培训班（线上，两天）。", "self"),
        ("张德明", "other", 4, "走访东街社区独居老人12户，收集意见建议5条，已交社区居委会办理。", "self"),
        ("王秀兰", "inspection", 12, "参加三台县人大常委会组织的冬春农田水利建设专题视察。", "liaison"),
        ("陈晓燕", "other", 6, "列席三台县人大常委会会议，旁听审议县政府关于义务教育均衡发展情况的报告。", "admin"),
    ],
    "yuci": [
        ("郭建平", "inspection", 10, "参加榆次区人大常委会组织的冬季清洁取暖工作专题视察。", "liaison"),
        ("段丽萍", "training", 14, "参加晋中市人大常委会举办的基层人大代表履职培训班（线上）。", "admin"),
        ("乔玉梅", "other", 5, "参加新华街道代表小组活动，听取桥东社区老旧小区加装电梯进展情况通报。", "admin"),
    ],
}
# (deputy, kind, days ago, text, reason) — rejected by the county admin.
REJECTED = {
    "santai": [("杨桂芳", "training", 30, "参加潼川镇机关干部作风建设大会。",
                "该会议是镇机关干部会议，不属于代表履职培训，不计入履职档案。")],
    "yuci": [("段丽萍", "inspection", 25, "陪同乡领导检查北合流村秋收工作。",
              "属于村委会日常工作，不是人大组织的视察调研，不计入履职档案。")],
}
# 张德明's entry of the published quarter, filed late (so the publication could not count it), and
# his correction request about it: {day} is the entry's day, {quarter} 2026年第三季度.
LATE_ENTRY = ("张德明", "inspection", "参加三台县人大常委会组织的城区老旧小区改造专题视察。")
CORRECTION = "{day}参加的城区老旧小区改造专题视察已补报履职档案，请审核后更正{quarter}积分。"


@dataclass(frozen=True)
class ReportMeeting:
    deputy: str
    place: str
    start: str
    end: str
    voters: int


# 述职评议 at 北坝村: 王秀兰's held earlier this year, 杨桂芳's on a coming day.
HELD_MEETING = ReportMeeting("王秀兰", "北坝村村委会二楼会议室", "14:30", "16:30", 46)
COMING_MEETING = ReportMeeting("杨桂芳", "北坝村村委会二楼会议室", "14:30", "16:00", 40)
PAPER_COUNTS = {"n_satisfied": "27", "n_basic": "8", "n_unsatisfied": "2"}
PAPER_COMMENTS = (("basic", "希望王代表继续关注机耕道硬化，争取明年春耕前完工。"),
                  ("satisfied", "王书记为村里办了不少实事，老年食堂办得好。"))
PHONE_BALLOTS = (("satisfied", "灌溉渠修好了，感谢代表！"), ("satisfied", ""), ("basic", "养老服务还要再加强。"),
                 ("satisfied", ""))

# The appraisal of last year: who has not handed in a report, whose came late, who had a talk.
REPORT_MISSING = ("阎志远", "温向东")
REPORT_LATE = "田晓红"
TALK = ("田晓红", "庄子乡人大主席团刘委员、庄子村联络站站长郭建平",
        "田晓红代表表示去年因经营超市参加活动较少，今后每季度至少参加一次联络站接待活动，"
        "并在一个月内提交整改报告。")
TALK_ENTRY = "{town}人大主席团就{year}年度履职测评结果与其谈话提醒，代表表示将认真整改。"
REPORTS = {
    "excellent": "感谢乡人大主席团的肯定。对照{year}年测评结果，本人联系选民还不够经常。今后每月到联络站接待选民一次，"
                 "围绕群众关心的饮水、道路问题开展调研，年内提出建议一件以上。",
    "pass": "对照{year}年测评结果，本人在审议发言、联系选民方面做得不够。整改措施：一是认真学习《代表法》，参加代表培训；"
            "二是每季度走访选民不少于一次；三是围绕村里的实际问题开展调研，年内提出建议一件。",
    "fail": "本人{year}年参加代表活动较少，测评不合格，深感愧疚。整改措施：一是每季度至少参加一次联络站接待活动；"
            "二是按时参加人代会和代表小组活动；三是主动联系选民，收集反映社情民意。",
}
# This year's draft: the best score below 优秀 is raised, with the county's reason.
ADJUSTED = (6, "已核实其参加区人大常委会专题调研两次，因材料补报较晚未计入积分，经乡人大主席团研究予以加分。")
