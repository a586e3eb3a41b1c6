"""The demo's 常用回复 (canned replies): what a window clerk says most often, per action, for every
matter and for 老年证, so the workbench's action forms have something to offer."""

from __future__ import annotations

import random
from collections.abc import Callable

from yiwang.cases.models import CannedReply
from yiwang.catalog.models import Matter

# (matter code or "" for every matter, action, title, text)
REPLIES = (
    ("", "accept", "已受理", "您的申请已受理，我们将在承诺时限内办结，请留意短信通知。"),
    ("", "request_supplement", "材料不清晰", "您上传的材料不清晰，请重新拍照或扫描后上传，确保文字可辨认。"),
    ("", "request_supplement", "缺少材料", "您的申请缺少下列材料，请一次补齐后在“我的办件”中提交补正。"),
    ("", "reject", "不属于本事项", "经审核，您申请的内容不属于本事项的办理范围，请咨询窗口或拨打 12345 了解对应事项。"),
    ("", "decide", "不符合条件", "经审核，您的情况不符合本事项的办理条件，具体依据见办事指南“受理条件”。"),
    ("", "close", "已办结", "您的事项已办结，感谢您的耐心等待，欢迎对本次服务作出评价。"),
    ("SENIOR_CARD", "request_supplement", "照片不合格", "请补交近三个月内的一寸白底免冠彩色照片。"),
    ("SENIOR_CARD", "close", "持身份证领取", "老年证已制好，请本人或家属持身份证到窗口领取。"),
)


def seed(rng: random.Random, log: Callable[[str], None]) -> dict:
    matters = {m.code: m for m in Matter.objects.filter(code__in={code for code, *_rest in REPLIES if code})}
    rows = [CannedReply(matter=matters.get(code), action=action, title=title, text=text)
            for code, action, title, text in REPLIES if not code or code in matters]
    CannedReply.objects.bulk_create(rows)
    log(f"  {len(rows)} canned replies")
    return {"canned_replies": len(rows)}
