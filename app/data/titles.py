"""Chinese names for the sheets and columns of a county's data export (app.data.building).

A county's staff read these files, often years later and without us: every header says in Chinese
what the column holds and keeps the database name beside it, `姓名（name）`, because the names are
how the sheets link (代表编号（deputy_id） of deputy_mandates is 编号（id） of deputies).
`COLUMN_TITLES` names a column wherever it appears; `TABLE_COLUMN_TITLES` overrides it in the one
table where the generic word would mislead. tests/data/test_county_data_export.py fails, naming the
table and column, on anything exported without a name: a migration that adds a tenant table or
column adds its Chinese name here.
"""

from __future__ import annotations

# Sheet names (and the files' names: `<table>-<title>.xlsx`).
TITLES = {
    "activities": "活动", "activity_events": "活动经过", "activity_invitations": "活动邀请", "activity_kinds": "活动类型",
    "activity_photos": "活动照片", "activity_plans": "年度活动计划", "activity_rules": "履职规则",
    "admin_nodes": "行政区划", "attendances": "活动签到", "audit_log": "操作日志", "case_categories": "意见类别",
    "case_due_rules": "办理时限规则", "case_events": "意见办理经过", "case_photos": "意见照片", "cases": "群众意见",
    "checklist_items": "规范化建设清单", "deliveries": "消息发送记录", "deputies": "人大代表",
    "deputy_commitments": "代表承诺", "deputy_groups": "代表小组", "duty_entries": "代表履职登记", "duty_documents": "履职登记附件",
    "duty_report_meetings": "述职评议会", "duty_report_ballots": "述职评议票", "deputy_mandates": "代表任职",
    "handling_units": "承办单位", "images": "照片", "import_jobs": "导入记录", "invitations": "成员邀请",
    "joint_agreement_events": "联合站协议经过", "joint_agreements": "联合站协议", "joint_attendance": "联合站活动出席",
    "joint_deputies": "联合站代表", "joint_referrals": "联合站转办", "mailbox_openings": "意见箱开箱",
    "memberships": "成员", "opinions": "意见登记", "outbox": "消息", "roster_contacts": "选民联系记录",
    "roster_entries": "联系选民花名册", "station_deputies": "代表进站", "station_events": "站点经过",
    "station_goals": "站点年度目标", "station_kinds": "站点类型", "station_scores": "站点建设评分",
    "station_star_ratings": "站点年度星级", "model_stations": "年度示范家站",
    "appraisals": "年度履职测评", "appraisal_results": "履职测评结果", "appraisal_talks": "履职测评谈话",
    "station_staff": "站点工作人员", "stations": "站点", "suggestions": "代表建议", "tenant_config": "县级设置",
    "users": "账号",
    "points_items": "履职积分项目", "points_publications": "季度积分公布", "points_published": "公布的代表积分",
    "points_corrections": "积分纠错申请",
    "deputy_receptions": "人大接待代表登记", "deputy_reception_deputies": "被接待代表",
    "presidium_members": "乡镇人大主席团成员", "presidium_contacts": "主席团成员联系代表",
}

COLUMN_TITLES = {
    # ids and links between the sheets
    "id": "编号", "tenant_id": "县级租户编号", "parent_id": "上级区划编号", "node_id": "行政区划编号",
    "scope_node_id": "管辖区划编号", "constituency_node_id": "选区区划编号", "station_id": "站点编号",
    "deputy_id": "代表编号", "leader_deputy_id": "组长代表编号", "group_id": "代表小组编号", "activity_id": "活动编号",
    "plan_id": "年度活动计划编号", "kind_id": "类型编号", "case_id": "意见编号", "category_id": "意见类别编号",
    "opinion_id": "意见登记编号", "suggestion_id": "代表建议编号", "merged_into_id": "并入意见编号",
    "handling_unit_id": "承办单位编号", "image_id": "照片编号", "photo_id": "照片编号", "item_id": "清单条目编号",
    "entry_id": "花名册条目编号", "outbox_id": "消息编号", "agreement_id": "协议编号", "user_id": "账号编号",
    "accepted_user_id": "接受邀请的账号编号", "responsible_user_id": "负责人账号编号",
    "actor_user_id": "操作人账号编号", "created_by": "创建人账号编号", "recorded_by": "记录人账号编号",
    "registered_by": "登记人账号编号", "invited_by": "邀请人账号编号", "uploaded_by": "上传人账号编号",
    "published_by": "发布人账号编号", "opened_by": "开箱人账号编号", "scored_by": "评分人账号编号",
    "home_tenant_id": "所属县租户编号", "home_deputy_id": "所属县代表编号", "home_photo_id": "所属县照片编号",
    "joint_tenant_id": "联合站租户编号", "joint_activity_id": "联合站活动编号", "proposer_tenant_id": "发起方租户编号",
    "actor_tenant_id": "操作方租户编号", "county_tenant_id": "承办县租户编号", "county_case_id": "县级意见编号",
    "referred_from_tenant_id": "转自联合站租户编号", "referred_from_case_id": "转自联合站意见编号",
    # times and dates
    "created_at": "创建时间", "updated_at": "更新时间", "retired_at": "停用时间", "at": "时间",
    "starts_at": "开始时间", "ends_at": "结束时间", "started_at": "开始时间", "finished_at": "完成时间",
    "recorded_at": "记录时间", "registered_at": "登记时间", "invited_at": "邀请时间", "withdrawn_at": "撤回时间",
    "uploaded_at": "上传时间", "published_at": "发布时间", "signed_at": "签到时间", "assigned_at": "交办时间",
    "replied_at": "答复时间", "fed_back_at": "反馈时间", "rated_at": "评价时间", "supervised_at": "督办时间",
    "closed_at": "关闭时间", "expires_at": "失效时间", "accepted_at": "接受时间", "revoked_at": "撤销时间",
    "opened_at": "开箱时间", "scored_at": "评分时间", "joined_at": "加入时间", "synced_at": "同步时间",
    "referred_at": "转办时间", "answered_at": "答复时间", "left_at": "离任时间", "ended_at": "结束时间",
    "due_at": "应发时间", "next_attempt_at": "下次尝试时间", "claimed_at": "领取时间", "sent_at": "发送时间",
    "read_at": "阅读时间", "receipt_at": "回执时间", "receipt_check_at": "下次查询回执时间",
    "disabled_at": "停用时间", "reply_due": "答复期限", "feedback_due": "反馈期限", "received_on": "收集日期",
    "contacted_on": "联系日期", "filed_on": "提出日期", "year": "年度",
    # what a record is
    "name": "名称", "code": "代码", "kind": "类型", "sort": "排序", "status": "状态", "state": "状态",
    "level": "级别", "levels": "级别", "note": "备注", "notes": "活动记录", "label": "条目内容", "title": "标题",
    "content": "内容", "caption": "照片说明", "topic": "主题", "place": "地点", "action": "操作", "data": "数据",
    "details": "详情", "target": "操作对象", "subject": "关联对象", "client_addr": "访问地址", "path": "区划路径",
    "division_code": "区划代码", "slug": "网址简称", "role": "角色", "method": "方式", "channel": "渠道",
    "channels": "接收渠道", "result": "结果", "error": "错误信息", "last_error": "最近错误信息",
    "filename": "文件名", "total": "总数", "processed": "已处理数", "problems": "问题",
    "media_type": "文件格式", "width": "宽度（像素）", "height": "高度（像素）",
    "original_type": "原图格式", "original_bytes": "原图大小（字节）",
    # people
    "display_name": "显示名称", "username": "用户名", "email": "电子邮箱", "mobile": "手机号码", "address": "地址",
    "work_unit": "工作单位", "occupation": "职业", "public_contact": "公开联系方式", "age": "年龄",
    "education": "文化程度", "person_name": "群众姓名", "person_mobile": "群众手机号码", "raised_by": "反映人",
    "contact_name": "联系人", "contact_phone": "联系电话", "actor_name": "操作方名称",
    # deputies and stations
    "term": "届次", "direct": "直接选举", "constituency": "选区", "commitment": "承诺内容",
    "opening_hours": "开放时间", "reception_rule": "接待日", "holiday_reception": "节假日接待安排", "intro": "简介",
    "node_kinds": "适用区划类型", "name_pattern": "命名规则", "goal": "目标", "progress": "进展", "done": "已完成",
    "met": "达标", "evidence": "佐证说明", "letters": "信件数",
    # activities and rules
    "people_received": "接待群众人数", "cancel_reason": "取消原因", "plan_change": "调整计划",
    "on_behalf_reason": "代签原因", "late": "迟到", "left_early": "早退", "present": "出席",
    "absence_reason": "请假事由", "absence_recorded_at": "请假登记时间", "absence_recorded_by": "请假登记人账号编号",
    "present_count": "出席代表数", "counts": "计数内容", "kind_codes": "活动类型代码", "period": "周期",
    "minimum": "最低次数", "min_deputies": "最少出席代表数", "station_kind_codes": "站点类型代码",
    "deputy_levels": "代表级别", "joint_name": "联合站名称", "kind_name": "活动类型名称", "kind_code": "活动类型代码",
    # cases and suggestions
    "receipt_code": "回执码", "county_receipt_code": "县级回执码", "source": "来源", "urgency": "紧急程度",
    "reply_text": "答复内容", "feedback_channel": "反馈方式", "satisfaction": "满意度", "rehandled": "重办次数",
    "outside_body": "外部办理机关", "outside_ref": "外部文号", "reply_days": "答复时限（天）",
    "feedback_days": "反馈时限（天）", "working_days": "按工作日计算", "from_state": "原状态", "to_state": "新状态",
    "from_status": "原状态", "to_status": "新状态", "public": "公开", "answer": "答复", "answer_summary": "答复摘要",
    # joint stations
    "agreement_key": "协议标识", "parties": "参加方", "shares": "共享事项",
    # messages
    "dedupe_key": "去重键", "params": "参数", "body": "正文", "attempt": "第几次发送", "attempts": "尝试次数",
    "provider_id": "服务商消息编号", "receipt": "送达回执",
    # the county's settings
    "forbidden_words": "禁用词", "lifecycle": "设立流程", "seats": "各级代表进站人数要求",
    "checklist_name": "规范化建设清单名称", "signin_opens_minutes": "活动开始前开放签到（分钟）",
    "signin_closes_minutes": "活动结束后关闭签到（分钟）", "at_risk_days": "履职预警提前天数",
    "photo_originals_mb": "活动照片原图保存上限（MB）", "case_reply_days": "默认答复时限（工作日）",
    "case_feedback_days": "默认反馈时限（工作日）", "case_rehandle_limit": "退回重办次数上限",
    "public_limit_per_client": "每人每小时网上意见上限", "public_limit_per_station": "每站每小时网上意见上限",
    "case_rating_days": "群众评价期限（反馈后天数）", "archived_role": "联络站归档前角色",
    "quiet_start": "短信免打扰开始（时）", "quiet_end": "短信免打扰结束（时）", "required_channels": "成员必收渠道",
    "remind_liaison_days": "提醒联络员提前天数", "remind_sms_days": "短信提醒代表提前天数",
    "remind_eve_days": "再次提醒代表提前天数", "case_due_soon_days": "意见到期提醒提前天数",
    "notify_case_person": "通知反映人", "notify_case_overdue": "通知意见逾期", "notify_at_risk": "通知履职预警",
    "notify_work": "新工作短信邮件提醒",
    "mailbox_weekday": "意见箱开箱提醒（星期）", "yearly_report_day": "年度履职报告发送日（1月）",
    "message_texts": "消息文字", "retain_case_person_months": "群众姓名和手机号码保存期限（月）",
    "retain_roster_months": "离任代表花名册保存期限（月）", "retain_delivery_months": "消息发送记录保存期限（月）",
    "retain_audit_months": "操作日志保存期限（月）",
    "setup_done_at": "开通设置完成时间",
    "public_duty_reports": "在站点公开页展示述职评议结果",
    "appraisal_excellent": "履职测评优秀分数线", "appraisal_pass": "履职测评合格分数线",
    "rectification_report": "要求提交履职测评整改报告", "rectification_days": "整改报告提交期限（公布后天数）",
    "public_board": "履职考评公开栏",
    "received_by": "接待人", "matter": "反映事项", "reply": "答复情况", "replied_by": "答复人账号编号",
    "reception_id": "接待登记编号",
}

# Where the generic word is wrong for one table.
TABLE_COLUMN_TITLES = {
    ("deputy_receptions", "received_on"): "接待日期", ("deputy_receptions", "node_id"): "接待的乡镇（空为县人大常委会）",
    ("presidium_members", "node_id"): "乡镇区划编号", ("presidium_members", "name"): "姓名",
    ("presidium_members", "post"): "职务", ("presidium_members", "deputy_id"): "本人代表编号（是代表时）",
    ("presidium_members", "sort"): "名单顺序", ("presidium_contacts", "member_id"): "主席团成员编号",
    ("presidium_contacts", "deputy_id"): "联系的代表编号",
    ("points_items", "source"): "计分来源", ("points_items", "source_code"): "计分的履职或活动类型代码",
    ("points_items", "points"): "每项分值", ("points_items", "cap_period"): "封顶周期",
    ("points_items", "cap_points"): "周期内最高分", ("points_items", "deputy_levels"): "适用代表层级",
    ("points_publications", "period"): "公布季度", ("points_publications", "deputies"): "公布代表人数",
    ("points_published", "publication_id"): "季度积分公布编号", ("points_published", "points"): "积分",
    ("points_published", "rank"): "排名", ("points_published", "peers"): "参与排名人数",
    ("points_published", "ranked_in"): "排名范围（代表小组或站点）",
    ("points_corrections", "publication_id"): "季度积分公布编号", ("points_corrections", "text"): "纠错内容",
    ("points_corrections", "status"): "处理状态", ("points_corrections", "answer"): "处理说明或理由",
    ("points_corrections", "filed_by"): "申请人账号编号", ("points_corrections", "resolved_by"): "处理人账号编号",
    ("points_corrections", "resolved_at"): "处理时间",
    ("activities", "kind_id"): "活动类型编号",
    ("activity_photos", "image_id"): "缩略图编号",
    ("activity_rules", "subject"): "考核对象",
    ("model_stations", "reason"): "评选理由", ("model_stations", "selected_on"): "评定日期",
    ("model_stations", "selected_by"): "评定人账号编号",
    ("duty_entries", "day"): "履职日期", ("duty_entries", "kind"): "履职类型", ("duty_entries", "text"): "履职内容",
    ("duty_entries", "image_id"): "照片编号", ("duty_entries", "status"): "审核状态",
    ("duty_entries", "reject_reason"): "退回理由", ("duty_entries", "filed_by"): "填报人账号编号",
    ("duty_entries", "reviewed_by"): "审核人账号编号", ("duty_entries", "reviewed_at"): "审核时间",
    ("duty_entries", "document_id"): "附件编号", ("duty_documents", "file_name"): "文件名",
    ("duty_documents", "size"): "文件大小（字节）",
    ("duty_report_meetings", "held_on"): "述职日期", ("duty_report_meetings", "place"): "会议地点",
    ("duty_report_meetings", "voters_present"): "到会选民人数", ("duty_report_meetings", "status"): "评议状态",
    ("duty_report_meetings", "ballot_token"): "扫码评议链接码", ("duty_report_meetings", "closed_at"): "结束评议时间",
    ("duty_report_meetings", "deputy_id"): "述职代表编号",
    ("duty_report_ballots", "meeting_id"): "述职评议会编号", ("duty_report_ballots", "rating"): "评议结果",
    ("duty_report_ballots", "comment"): "评议意见", ("duty_report_ballots", "source"): "投票方式",
    ("duty_report_ballots", "phone_hash"): "手机标识（加密摘要）", ("duty_report_ballots", "client_hash"): "网络地址（加密摘要）",
    ("duty_report_ballots", "entered_by"): "录入人账号编号",
    ("station_star_ratings", "stars"): "星级", ("station_star_ratings", "items"): "清单项目数",
    ("activity_rules", "at_risk_days"): "本规则预警提前天数（空：按县级设置）", ("activity_rules", "at_risk_pace"): "按进度预警",
    ("admin_nodes", "kind"): "区划类型",
    ("attendances", "method"): "签到方式",
    ("cases", "closed_at"): "办结时间",
    ("cases", "deputy_id"): "接待代表编号",
    ("cases", "level"): "办理层级",
    ("deputies", "name"): "姓名",
    ("deputies", "user_id"): "代表本人账号编号",
    ("deputy_groups", "name"): "小组名称",
    ("handling_units", "kind"): "单位类型",
    ("handling_units", "level"): "单位层级",
    ("import_jobs", "kind"): "导入内容",
    ("import_jobs", "preview"): "导入预览（逐行）",
    ("import_jobs", "total"): "总行数",
    ("joint_attendance", "method"): "签到方式",
    ("joint_deputies", "name"): "姓名",
    ("memberships", "created_by"): "添加人账号编号",
    ("outbox", "kind"): "消息类型",
    ("outbox", "user_id"): "收件人账号编号",
    ("outbox", "deputy_id"): "收件代表编号",
    ("outbox", "address"): "发送地址",
    ("roster_entries", "name"): "姓名",
    ("station_deputies", "assigned_at"): "进站时间",
    ("station_deputies", "ended_at"): "离站时间",
    ("station_kinds", "name"): "类型名称",
    ("stations", "kind_id"): "站点类型编号",
    ("stations", "name"): "站点名称",
    ("suggestions", "kind"): "建议类别",
    ("users", "created_at"): "注册时间",
    ("appraisals", "excellent"): "优秀分数线", ("appraisals", "pass"): "合格分数线",
    ("appraisals", "report_due"): "整改报告提交期限", ("appraisal_results", "appraisal_id"): "履职测评编号",
    ("appraisal_results", "computed"): "积分折算得分", ("appraisal_results", "adjusted"): "调整后得分",
    ("appraisal_results", "reason"): "调整理由", ("appraisal_results", "grade"): "测评等次",
    ("appraisal_results", "notice_at"): "反馈通知发送时间", ("appraisal_results", "report_text"): "整改报告内容",
    ("appraisal_results", "report_at"): "整改报告提交时间", ("appraisal_results", "report_by"): "整改报告提交人账号编号",
    ("appraisal_talks", "appraisal_id"): "履职测评编号", ("appraisal_talks", "day"): "谈话日期",
    ("appraisal_talks", "talked_by"): "谈话人", ("appraisal_talks", "agreed"): "谈话约定事项",
}


def column_title(table: str, column: str) -> str | None:
    return TABLE_COLUMN_TITLES.get((table, column)) or COLUMN_TITLES.get(column)


def header(table: str, column: str) -> str:
    """`中文（column）`; a column nobody named yet (the test says which) keeps its bare name rather
    than failing a county's export."""
    title = column_title(table, column)
    return f"{title}（{column}）" if title else column


def sheet_title(table: str) -> str:
    return TITLES.get(table, table)
