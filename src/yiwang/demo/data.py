"""The static data of the Xixian demo (西咸新区): regions, units, staff naming, matters, incident categories.

Places follow the five new cities of Xixian New Area and their real streets and towns (街道/镇);
the communities the 2019 report names (幸福里社区, 玻璃厂三普东社区, 瑞凝村, 程家村) are here, the
others are plausible. Coordinates are approximate (Xixian lies around 34.3N 108.7E). Guides are
written after the Shaanxi government-service guides of the time; they are demo text, not law.
Nothing here touches the database: yiwang.demo.loader loads it through the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yiwang.org.models import Level, Role, UnitKind

# One password for every demo account, printed by `yiwang demo` and listed in docs/demo.md.
DEMO_PASSWORD = "yiwang-demo"
ADMIN_USERNAME = "admin"


# --- regions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Community:
    code: str  # last segment of the region code; lower-cased it prefixes the staff usernames
    name: str
    has_hall: bool = True  # a village without a 便民服务站 is served by its town's 便民服务中心
    grids: int = 2

    @property
    def is_village(self) -> bool:
        return self.name.endswith("村")


@dataclass(frozen=True)
class Town:
    code: str
    name: str
    lat: float
    lng: float
    communities: tuple[Community, ...]


@dataclass(frozen=True)
class City:
    code: str
    name: str
    lat: float
    lng: float
    id_prefix: str  # the six-digit 行政区划代码 residents' ID numbers start with
    roads: tuple[str, ...]
    towns: tuple[Town, ...] = field(default=())


AREA_CODE = "XX"
AREA_NAME = "西咸新区"
AREA_LAT, AREA_LNG = 34.330, 108.760
# The district's identity (org.district), set by `yiwang demo` as an operator would with `yiwang district load`.
DISTRICT = {"name": AREA_NAME, "short_name": "西咸", "centre": (34.38, 108.76), "bounds": ((34.10, 108.55), (34.65, 109.20)),
            "sms_signature": "【西咸新区政务服务】", "open311_contact": "西咸新区“一网”平台管理员"}

C = Community
CITIES: tuple[City, ...] = (
    City("KG", "空港新城", 34.445, 108.760, "610404",
         ("迎宾大道", "自贸大道", "空港大道", "底张路", "北杜路", "临空二路"), (
        Town("DZ", "底张街道", 34.432, 108.775, (
            C("XFL", "幸福里社区", grids=3), C("CJC", "程家村", grids=3), C("PLC", "坡刘村", has_hall=False),
            C("CMC", "陈马村"))),
        Town("BD", "北杜街道", 34.468, 108.730, (
            C("BDS", "北杜社区", grids=3), C("CRC", "成任村"), C("XSC", "西孙村"))),
        Town("TP", "太平镇", 34.518, 108.828, (
            C("TPS", "太平社区"), C("MJC", "马家村"), C("LQC", "龙泉村", has_hall=False))),
    )),
    City("QH", "秦汉新城", 34.395, 108.800, "610404",
         ("兰池大道", "秦汉大道", "正阳大道", "渭城路", "周陵大街", "窑店路"), (
        Town("WC", "渭城街道", 34.362, 108.765, (
            C("SPD", "玻璃厂三普东社区", grids=3), C("WYS", "渭阳社区"), C("NJG", "聂家沟村"))),
        Town("YD", "窑店街道", 34.374, 108.832, (
            C("CLC", "长陵村"), C("CZC", "仓张村"), C("MWC", "毛王村", has_hall=False), C("YDS", "窑店社区", grids=3))),
        Town("ZY", "正阳街道", 34.408, 108.838, (
            C("BJZ", "柏家咀村"), C("ZYS", "正阳社区", grids=3), C("HPC", "后排村"))),
        Town("ZL", "周陵街道", 34.418, 108.738, (
            C("ZLC", "周陵村"), C("XZC", "新庄村"), C("YJG", "严家沟村", has_hall=False))),
    )),
    City("JH", "泾河新城", 34.490, 108.995, "610423",
         ("泾河大道", "高泾大道", "崇文路", "永乐路", "泾干大街", "茯茶大道"), (
        Town("JG", "泾干街道", 34.532, 108.942, (
            C("RNC", "瑞凝村", grids=3), C("JHS", "泾华社区", grids=3), C("XHC", "雪河村"))),
        Town("YL", "永乐镇", 34.497, 109.036, (
            C("YLC", "永乐村"), C("DZW", "店子王村", has_hall=False), C("BTC", "北屯村"))),
        Town("CW", "崇文镇", 34.455, 108.996, (
            C("CWS", "崇文社区", grids=3), C("JLC", "蒋刘村"), C("TDC", "塔底村"))),
        Town("GZ", "高庄镇", 34.543, 109.072, (
            C("GZC", "高庄村"), C("TYC", "桃园村"))),
    )),
    City("FD", "沣东新城", 34.268, 108.830, "610112",
         ("沣东大道", "昆明路", "三桥路", "斗门路", "丰镐大道", "上林路"), (
        Town("WS", "王寺街道", 34.272, 108.848, (
            C("WSS", "王寺社区", grids=3), C("CJZ", "陈家寨村"), C("FLS", "枫林社区", grids=3))),
        Town("DM", "斗门街道", 34.218, 108.782, (
            C("DMS", "斗门社区", grids=3), C("HYC", "花园村"), C("SXK", "石匣口村", has_hall=False),
            C("HJS", "镐京社区"))),
        Town("SQ", "三桥街道", 34.284, 108.872, (
            C("SQS", "三桥社区", grids=3), C("HWZ", "后卫寨村"), C("CLS", "车辆厂社区"))),
        Town("SL", "上林街道", 34.302, 108.806, (
            C("SLS", "上林社区", grids=3), C("ZJC", "张家村"))),
    )),
    City("FX", "沣西新城", 34.232, 108.700, "610402",
         ("沣泾大道", "统一路", "康定路", "永平路", "尚业路", "开元路"), (
        Town("DW", "大王街道", 34.268, 108.682, (
            C("KDH", "康定和园社区", grids=3), C("DWC", "大王村"), C("XWC", "西王村"))),
        Town("MW", "马王街道", 34.192, 108.702, (
            C("KSZ", "客省庄村"), C("MWS", "马王社区", grids=3), C("ZJZ", "张家庄村"))),
        Town("GQ", "高桥街道", 34.240, 108.737, (
            C("GQS", "高桥社区", grids=3), C("XQC", "新桥村"))),
    )),
)
del C

GRID_NAMES = ("第一网格", "第二网格", "第三网格", "第四网格")


def town_short(name: str) -> str:
    """底张街道 → 底张, 太平镇 → 太平: how police stations and teams are named."""
    for suffix in ("街道", "镇"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# --- units -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitSpec:
    suffix: str  # unit code = region code + "-" + suffix
    kind: str
    name: str  # format with {area}, {city}, {town}, {short}, {community}
    hours: str = ""


HALL_HOURS = "周一至周五 9:00-12:00 14:00-17:30"
CENTRE_HOURS = "周一至周五 9:00-12:00 13:30-17:30；周六 9:00-12:00 延时服务"
ALL_DAY = "7×24小时值班"
POLICE_HOURS = "24小时值班；户籍窗口 周一至周五 9:00-12:00 14:00-17:30"
OFFICE_HOURS = "周一至周五 8:30-12:00 14:00-18:00"

UNITS_BY_LEVEL: dict[str, tuple[UnitSpec, ...]] = {
    Level.AREA: (
        UnitSpec("SH", UnitKind.SERVICE_HALL, "{area}政务服务中心", CENTRE_HOURS),
        UnitSpec("CC", UnitKind.COMMAND_CENTRE, "{area}综合执法指挥中心", ALL_DAY),
        UnitSpec("HF", UnitKind.HOUSING_FUND, "{area}住房公积金管理中心", CENTRE_HOURS),
        UnitSpec("MI", UnitKind.MEDICAL_INSURANCE, "{area}医疗保障局", CENTRE_HOURS),
        UnitSpec("OF", UnitKind.OFFICE, "{area}党工委管委会办公室", OFFICE_HOURS),
    ),
    Level.CITY: (
        UnitSpec("SH", UnitKind.SERVICE_HALL, "{city}行政审批与政务服务局", CENTRE_HOURS),
        UnitSpec("CC", UnitKind.COMMAND_CENTRE, "{city}综合执法指挥中心", ALL_DAY),
        UnitSpec("EN", UnitKind.ENFORCEMENT, "{city}综合执法局", OFFICE_HOURS),
        UnitSpec("CA", UnitKind.CIVIL_AFFAIRS, "{city}社会事业局", CENTRE_HOURS),
        UnitSpec("PS", UnitKind.PUBLIC_SECURITY, "{area}公安局{city}分局", ALL_DAY),
        UnitSpec("OF", UnitKind.OFFICE, "{city}党工委管委会办公室", OFFICE_HOURS),
    ),
    Level.TOWN: (
        UnitSpec("SH", UnitKind.SERVICE_HALL, "{town}便民服务中心", HALL_HOURS),
        UnitSpec("EN", UnitKind.ENFORCEMENT, "{town}综合执法队", OFFICE_HOURS),
        UnitSpec("PS", UnitKind.PUBLIC_SECURITY, "{short}派出所", POLICE_HOURS),
        UnitSpec("SN", UnitKind.SANITATION, "{town}环卫所", OFFICE_HOURS),
        UnitSpec("OF", UnitKind.OFFICE, "{town}党政办公室", OFFICE_HOURS),
    ),
}
COMMUNITY_HALL = UnitSpec("SH", UnitKind.SERVICE_HALL, "{community}便民服务站", HALL_HOURS)
VILLAGE_BRANCH = UnitSpec("PB", UnitKind.PARTY_BRANCH, "{community}党支部", "")

# Which accounts each kind of unit gets: (username suffix, role). The username is the region's
# last code segment in lower case ("area" for the area) + "_" + suffix: xfl_clerk, kg_operator.
STAFF_BY_KIND: dict[str, tuple[tuple[str, str], ...]] = {
    UnitKind.SERVICE_HALL: (("clerk", Role.CLERK), ("handler", Role.HANDLER)),
    UnitKind.COMMAND_CENTRE: (("operator", Role.OPERATOR), ("operator2", Role.OPERATOR)),
    UnitKind.ENFORCEMENT: (("enforcer", Role.HANDLER),),
    UnitKind.CIVIL_AFFAIRS: (("civil", Role.HANDLER),),
    UnitKind.PUBLIC_SECURITY: (("police", Role.HANDLER),),
    UnitKind.SANITATION: (("sanitation", Role.HANDLER),),
    UnitKind.HOUSING_FUND: (("fund", Role.HANDLER), ("fund_clerk", Role.CLERK)),
    UnitKind.MEDICAL_INSURANCE: (("medical", Role.HANDLER), ("medical_clerk", Role.CLERK)),
    UnitKind.OFFICE: (("leader", Role.LEADER),),
    UnitKind.PARTY_BRANCH: (("secretary", Role.SECRETARY),),
}
GRID_WORKER_SUFFIX = "grid"  # one 网格员 per community: xfl_grid

# People the report names, in the roles it gives them.
NAMED_STAFF = {
    "rnc_secretary": "高宏章",  # 瑞凝村党支部书记, who has led the night patrol for eight years
    "cjc_secretary": "张保权",  # 程家村党支部书记, of the 致富之星 party group
}


@dataclass(frozen=True)
class DemoResident:
    username: str
    name: str
    community: str  # community code
    birth: str  # ISO date
    male: bool


# Residents with accounts (everyone else in the demo is a resident record without a login).
RESIDENT_ACCOUNTS: tuple[DemoResident, ...] = (
    DemoResident("resident_wang", "王大爷", "XFL", "1950-03-15", True),
    DemoResident("resident_li", "李阿姨", "SPD", "1958-08-02", False),
    DemoResident("resident_cheng", "程建强", "CJC", "1983-05-20", True),
    DemoResident("resident_gao", "高秀兰", "RNC", "1941-11-09", False),
    DemoResident("resident_zhao", "赵磊", "DMS", "1991-07-30", True),
    DemoResident("resident_liu", "刘芳", "KDH", "1993-02-14", False),
)

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN_MALE = ("建国", "建军", "卫东", "志强", "伟", "磊", "军", "勇", "涛", "斌", "鹏", "浩", "宇", "杰", "超", "明",
              "国强", "红军", "振华", "海涛", "小龙", "晓东", "俊杰", "文博", "子豪", "宏伟", "永刚", "保平", "长安")
GIVEN_FEMALE = ("秀兰", "桂英", "玉兰", "淑珍", "丽", "芳", "娟", "敏", "静", "婷", "艳", "霞", "燕", "红", "萍",
                "晓燕", "丽娟", "海燕", "雪梅", "亚楠", "佳怡", "欣怡", "雨欣", "梦瑶", "春花", "彩霞", "小梅")

RESIDENTS_TOTAL = 180  # including the accounts above


# --- matters ---------------------------------------------------------------------------------

ID_CARD = {"code": "id_card", "name": "居民身份证原件及复印件"}
HUKOU = {"code": "hukou", "name": "户口簿原件及复印件"}
PHOTO = {"code": "photo", "name": "近期一寸免冠彩色照片2张"}
BANK = {"code": "bank_card", "name": "本人银行卡(社保卡)复印件"}


def _opt(material: dict) -> dict:
    return {**material, "required": False}


def _guide(condition: str, steps: str, note: str = "") -> str:
    text = f"【申请条件】{condition}\n【办理流程】{steps}"
    return text + (f"\n【温馨提示】{note}" if note else "")


LOCAL_WHERE = "户籍所在村(社区)便民服务站；未设服务站的村到所在街镇便民服务中心"
TOWN_WHERE = "户籍所在街镇便民服务中心"
CITY_WHERE = "所在新城行政审批与政务服务局综合窗口(也可在村(社区)便民服务站代办)"
AREA_WHERE = "西咸新区政务服务中心，或各新城政务服务大厅代办窗口"
POLICE_WHERE = "居住地派出所户籍窗口"

DATE_FIELD = {"type": "string", "format": "date"}

APPLICATIONS: tuple[dict, ...] = (
    # 养老
    dict(
        code="SENIOR_CARD", name="老年证办理", life_event="养老", handling_levels=["community", "town"],
        responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=5, statutory_limit=20,
        materials=[ID_CARD, PHOTO, _opt(HUKOU)],
        form_schema={"type": "object", "properties": {
            "birth_date": {**DATE_FIELD, "title": "出生日期"},
            "reason": {"type": "string", "maxLength": 100, "title": "申请原因"}}, "required": ["birth_date"]},
        guide=_guide("年满60周岁、户籍或居住在西咸新区的老年人。",
                     "提交材料→窗口受理→审核→制证→短信通知领证；可由家属代办。",
                     "老年证全省通用，凭证享受公交、景区等优待。"),
        where=LOCAL_WHERE, legal_basis="《中华人民共和国老年人权益保障法》第五十七条；《陕西省老年人优待办法》",
        keywords="老年证 老年优待证 老人证 60岁",
    ),
    dict(
        code="ELDERLY_ALLOWANCE", name="高龄老人生活保健补贴申领", life_event="养老",
        handling_levels=["community", "town"], responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=15,
        statutory_limit=20, materials=[ID_CARD, HUKOU, BANK],
        form_schema={"type": "object", "properties": {
            "birth_date": {**DATE_FIELD, "title": "出生日期"},
            "bank": {"type": "string", "enum": ["长安银行", "陕西信合", "中国邮政储蓄银行"], "title": "发放银行"}},
            "required": ["birth_date", "bank"]},
        guide=_guide("年满80周岁、户籍在西咸新区的老年人。",
                     "村(社区)初审公示→街镇审核→新城社会事业局审批→按月发放至本人账户。",
                     "80-89岁、90-99岁、100岁以上分档发放。"),
        where=LOCAL_WHERE, legal_basis="《陕西省人民政府关于建立高龄老人生活保健补贴制度的通知》(陕政发〔2011〕67号)",
        keywords="高龄补贴 高龄津贴 80岁 老人补贴",
    ),
    dict(
        code="PENSION_ENROL", name="城乡居民基本养老保险参保登记", life_event="养老",
        handling_levels=["community", "town"], responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=5,
        statutory_limit=15, materials=[ID_CARD, HUKOU],
        form_schema={"type": "object", "properties": {
            "grade": {"type": "integer", "minimum": 200, "maximum": 5000, "title": "缴费档次(元/年)"}},
            "required": ["grade"]},
        guide=_guide("年满16周岁(不含在校学生)、未参加职工基本养老保险的城乡居民。",
                     "填写参保登记表→窗口受理→系统登记→按选定档次缴费。"),
        where=LOCAL_WHERE, legal_basis="《国务院关于建立统一的城乡居民基本养老保险制度的意见》(国发〔2014〕8号)",
        keywords="养老保险 参保 城乡居民养老",
    ),
    dict(
        code="PENSION_CLAIM", name="城乡居民养老保险待遇领取", life_event="养老", handling_levels=["town"],
        responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=10, statutory_limit=20,
        materials=[ID_CARD, HUKOU, BANK],
        form_schema={"type": "object", "properties": {"birth_date": {**DATE_FIELD, "title": "出生日期"}},
                     "required": ["birth_date"]},
        guide=_guide("年满60周岁、累计缴费满15年(或按规定补缴)、未领取其他基本养老保障待遇的参保人。",
                     "提交材料→街镇审核→新城社保经办机构核定→次月起按月发放。"),
        where=TOWN_WHERE, legal_basis="《国务院关于建立统一的城乡居民基本养老保险制度的意见》(国发〔2014〕8号)",
        keywords="养老金 领取 退休 待遇",
    ),
    # 医疗
    dict(
        code="MEDICAL_REIMBURSE", name="城乡居民医保(合疗)报销", life_event="医疗",
        handling_levels=["community", "town"], responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=10,
        statutory_limit=30,
        materials=[{"code": "insurance_card", "name": "社会保障卡或身份证"},
                   {"code": "invoice", "name": "医疗费用发票原件"},
                   {"code": "discharge", "name": "出院证明或诊断证明"},
                   {"code": "cost_list", "name": "费用明细清单"},
                   {"code": "referral", "name": "转诊备案证明(异地就医时)", "required": False}],
        form_schema={"type": "object", "properties": {
            "hospital": {"type": "string", "maxLength": 50, "title": "就诊医院"},
            "amount": {"type": "number", "minimum": 0, "maximum": 1000000, "title": "医疗总费用(元)"}},
            "required": ["hospital", "amount"]},
        guide=_guide("参加城乡居民基本医疗保险(合疗)、在未联网结算的医疗机构就医的参保人。",
                     "提交票据→窗口初审→医保经办机构审核→报销款打入本人社保卡。",
                     "定点医院已联网的，出院时直接结算，无需再到窗口报销。"),
        where=LOCAL_WHERE, legal_basis="《陕西省城乡居民基本医疗保险办法》；《社会保险法》第二十四条",
        keywords="合疗 报销 医保 新农合 住院",
    ),
    dict(
        code="CHRONIC_DISEASE", name="门诊慢特病待遇认定", life_event="医疗", handling_levels=["area"],
        responsible_unit_kind=UnitKind.MEDICAL_INSURANCE, time_limit=15, statutory_limit=30,
        materials=[{"code": "insurance_card", "name": "社会保障卡或身份证"},
                   {"code": "records", "name": "二级及以上医院病历、检查报告"},
                   {"code": "diagnosis", "name": "诊断证明书"}],
        form_schema={"type": "object", "properties": {
            "disease": {"type": "string", "enum": ["高血压", "糖尿病", "冠心病", "慢性肾衰竭", "恶性肿瘤"],
                        "title": "病种"}}, "required": ["disease"]},
        guide=_guide("参加基本医疗保险、患有规定慢特病病种的参保人。",
                     "提交病历资料→医保部门组织专家鉴定→公示认定结果→门诊按比例报销。"),
        where=AREA_WHERE, legal_basis="《陕西省基本医疗保险门诊慢特病管理办法》",
        keywords="慢性病 慢特病 门诊 特殊病",
    ),
    dict(
        code="MEDICAL_TRANSFER", name="异地就医备案", life_event="医疗", handling_levels=["area"],
        responsible_unit_kind=UnitKind.MEDICAL_INSURANCE, time_limit=1, statutory_limit=5,
        materials=[{"code": "insurance_card", "name": "社会保障卡或身份证"},
                   {"code": "referral", "name": "转诊证明或异地居住证明"}],
        form_schema={"type": "object", "properties": {
            "destination": {"type": "string", "maxLength": 30, "title": "就医地"}}, "required": ["destination"]},
        guide=_guide("需到省外或省内其他市就医的参保人。", "网上或窗口提交→医保部门备案→备案后可直接结算。"),
        where=AREA_WHERE, legal_basis="《国家医保局 财政部关于进一步做好基本医疗保险跨省异地就医直接结算工作的通知》",
        keywords="异地就医 备案 转诊 跨省",
    ),
    # 住房
    dict(
        code="HOUSING_FUND_WITHDRAW", name="住房公积金提取", life_event="住房", handling_levels=["city", "area"],
        responsible_unit_kind=UnitKind.HOUSING_FUND, time_limit=3, statutory_limit=3,
        materials=[ID_CARD, BANK, {"code": "proof", "name": "购房合同、租房合同或离退休证明等提取证明"}],
        form_schema={"type": "object", "properties": {
            "reason": {"type": "string", "enum": ["购房", "租房", "离退休", "偿还贷款", "大病医疗"], "title": "提取原因"},
            "amount": {"type": "number", "minimum": 1, "maximum": 2000000, "title": "提取金额(元)"}},
            "required": ["reason", "amount"]},
        guide=_guide("缴存职工购买、建造、翻建、大修自住住房，偿还购房贷款，租房，离退休等情形。",
                     "提交材料→公积金中心审核→3个工作日内转入本人银行卡。",
                     "租房提取每年可办理一次；村(社区)便民服务站可代收材料。"),
        where=AREA_WHERE, legal_basis="《住房公积金管理条例》第二十四条",
        keywords="公积金 提取 租房 购房",
    ),
    dict(
        code="HOUSING_FUND_LOAN", name="住房公积金个人住房贷款", life_event="住房", handling_levels=["city", "area"],
        responsible_unit_kind=UnitKind.HOUSING_FUND, time_limit=15, statutory_limit=15,
        materials=[ID_CARD, {"code": "contract", "name": "购房合同"}, {"code": "income", "name": "收入证明"},
                   _opt({"code": "marriage", "name": "婚姻状况证明"})],
        form_schema={"type": "object", "properties": {
            "amount": {"type": "number", "minimum": 10000, "maximum": 800000, "title": "贷款金额(元)"},
            "years": {"type": "integer", "minimum": 1, "maximum": 30, "title": "贷款年限"}},
            "required": ["amount", "years"]},
        guide=_guide("连续足额缴存住房公积金满6个月、购买自住住房的职工。",
                     "提交申请→审核→签订借款合同→办理抵押→放款。"),
        where=AREA_WHERE, legal_basis="《住房公积金管理条例》第二十六条",
        keywords="公积金贷款 房贷",
    ),
    # 生育
    dict(
        code="BIRTH_REGISTER", name="生育登记", life_event="生育", handling_levels=["community", "town"],
        responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=0, is_instant=True, statutory_limit=1,
        materials=[{"code": "id_card", "name": "夫妻双方居民身份证"}, _opt({"code": "marriage", "name": "结婚证"})],
        form_schema={"type": "object", "properties": {
            "child_order": {"type": "integer", "minimum": 1, "maximum": 5, "title": "孩次"}},
            "required": ["child_order"]},
        guide=_guide("夫妻双方或一方户籍在本辖区，或在本辖区居住的育龄夫妻。", "提交信息→即时登记→出具生育服务登记凭证。"),
        where=LOCAL_WHERE, legal_basis="《陕西省人口与计划生育条例》；《国家卫生健康委关于做好生育登记服务工作的指导意见》",
        keywords="生育登记 准生证 生育服务证",
    ),
    dict(
        code="ONLY_CHILD_CERT", name="独生子女父母光荣证", life_event="生育", handling_levels=["town"],
        responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=5, statutory_limit=20,
        materials=[{"code": "id_card", "name": "夫妻双方居民身份证"}, HUKOU, {"code": "marriage", "name": "结婚证"}],
        form_schema={},
        guide=_guide("只生育一个子女并自愿不再生育的夫妻(按规定时段)。", "村(社区)核实→街镇审核发证。"),
        where=TOWN_WHERE, legal_basis="《陕西省人口与计划生育条例》",
        keywords="独生子女 光荣证 奖励扶助",
    ),
    # 就业
    dict(
        code="EMPLOYMENT_REGISTER", name="就业登记", life_event="就业", handling_levels=["community", "town"],
        responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=0, is_instant=True, statutory_limit=5,
        materials=[ID_CARD, {"code": "contract", "name": "劳动合同或用工证明"}],
        form_schema={"type": "object", "properties": {
            "employer": {"type": "string", "maxLength": 50, "title": "用人单位"}}, "required": ["employer"]},
        guide=_guide("在法定劳动年龄内、已实现就业的劳动者。", "提交材料→即时登记→《就业创业证》记载。"),
        where=LOCAL_WHERE, legal_basis="《就业服务与就业管理规定》第六十二条",
        keywords="就业 登记 就业创业证",
    ),
    dict(
        code="UNEMPLOYMENT_REGISTER", name="失业登记", life_event="就业", handling_levels=["community", "town"],
        responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=0, is_instant=True, statutory_limit=5,
        materials=[ID_CARD, _opt({"code": "termination", "name": "解除或终止劳动合同证明"})],
        form_schema={},
        guide=_guide("在法定劳动年龄内、有劳动能力和就业要求、处于无业状态的常住人员。",
                     "提交材料→即时登记→享受免费职业介绍、培训等服务。"),
        where=LOCAL_WHERE, legal_basis="《就业服务与就业管理规定》第六十三条",
        keywords="失业 登记 求职 培训",
    ),
    # 社会救助
    dict(
        code="SUBSISTENCE", name="最低生活保障(低保)申请", life_event="社会救助",
        handling_levels=["town", "city"], responsible_unit_kind=UnitKind.CIVIL_AFFAIRS, time_limit=25,
        statutory_limit=30, materials=[ID_CARD, HUKOU, {"code": "income", "name": "家庭收入及财产状况说明"},
                                       _opt({"code": "medical", "name": "疾病或残疾证明"})],
        form_schema={"type": "object", "properties": {
            "household_size": {"type": "integer", "minimum": 1, "maximum": 12, "title": "共同生活家庭成员人数"},
            "monthly_income": {"type": "number", "minimum": 0, "maximum": 100000, "title": "家庭月收入(元)"}},
            "required": ["household_size", "monthly_income"]},
        guide=_guide("共同生活的家庭成员人均收入低于当地低保标准，且财产状况符合规定的家庭。",
                     "申请→入户调查→民主评议→审核公示→审批→按月发放。"),
        where=CITY_WHERE, legal_basis="《社会救助暂行办法》(国务院令第649号)第二章；《陕西省城乡居民最低生活保障条例》",
        keywords="低保 最低生活保障 困难 救助",
    ),
    dict(
        code="TEMPORARY_RELIEF", name="临时救助", life_event="社会救助", handling_levels=["town", "city"],
        responsible_unit_kind=UnitKind.CIVIL_AFFAIRS, time_limit=10, statutory_limit=15,
        materials=[ID_CARD, {"code": "proof", "name": "遭遇困难的相关证明(医疗票据、事故证明等)"}],
        form_schema={"type": "object", "properties": {
            "cause": {"type": "string", "enum": ["突发疾病", "意外事故", "火灾", "其他"], "title": "困难原因"}},
            "required": ["cause"]},
        guide=_guide("因火灾、交通事故、突发重大疾病等导致基本生活暂时出现严重困难的家庭或个人。",
                     "申请→审核→审批→发放；情况紧急的先行救助、后补手续。"),
        where=CITY_WHERE, legal_basis="《社会救助暂行办法》第十一章；《国务院关于全面建立临时救助制度的通知》(国发〔2014〕47号)",
        keywords="临时救助 急难 困难",
    ),
    dict(
        code="EXTREME_POVERTY", name="特困人员救助供养", life_event="社会救助", handling_levels=["town", "city"],
        responsible_unit_kind=UnitKind.CIVIL_AFFAIRS, time_limit=20, statutory_limit=30,
        materials=[ID_CARD, HUKOU, {"code": "income", "name": "收入及财产状况说明"}],
        form_schema={},
        guide=_guide("无劳动能力、无生活来源、无法定赡养抚养扶养义务人的老年人、残疾人和未成年人。",
                     "申请→调查核实→公示→审批→分散或集中供养。"),
        where=CITY_WHERE, legal_basis="《社会救助暂行办法》第三章",
        keywords="五保 特困 供养",
    ),
    dict(
        code="DISABILITY_CARD", name="残疾人证办理", life_event="社会救助", handling_levels=["town", "city"],
        responsible_unit_kind=UnitKind.CIVIL_AFFAIRS, time_limit=20, statutory_limit=30,
        materials=[ID_CARD, HUKOU, PHOTO],
        form_schema={"type": "object", "properties": {
            "category": {"type": "string", "enum": ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"],
                         "title": "残疾类别"}}, "required": ["category"]},
        guide=_guide("户籍在本辖区、符合残疾标准的人员。", "申请→指定医院评定→审核→制发第二代残疾人证。"),
        where=CITY_WHERE, legal_basis="《中华人民共和国残疾人证管理办法》",
        keywords="残疾证 残疾人证 评残",
    ),
    # 户籍证件
    dict(
        code="RESIDENCE_PERMIT", name="居住证办理", life_event="户籍证件", handling_levels=["town", "city"],
        responsible_unit_kind=UnitKind.PUBLIC_SECURITY, time_limit=15, statutory_limit=15,
        materials=[ID_CARD, PHOTO, {"code": "residence", "name": "居住证明(租房合同或房产证明)"},
                   _opt({"code": "work", "name": "就业或就读证明"})],
        form_schema={"type": "object", "properties": {
            "purpose": {"type": "string", "enum": ["就业", "就读", "居住"], "title": "居住事由"}},
            "required": ["purpose"]},
        guide=_guide("离开常住户口所在地、在西咸新区居住半年以上，有合法稳定就业、住所或连续就读的。",
                     "派出所户籍窗口申报→审核→制证→领证。"),
        where=POLICE_WHERE, legal_basis="《居住证暂行条例》(国务院令第663号)第十一条",
        keywords="居住证 暂住证 流动人口",
    ),
    dict(
        code="ID_CARD_RENEW", name="居民身份证换领补领", life_event="户籍证件", handling_levels=["town", "city"],
        responsible_unit_kind=UnitKind.PUBLIC_SECURITY, time_limit=15, statutory_limit=60,
        materials=[HUKOU, _opt({"code": "old_card", "name": "原居民身份证"})],
        form_schema={"type": "object", "properties": {
            "reason": {"type": "string", "enum": ["有效期满", "丢失补领", "损坏换领", "信息变更"], "title": "原因"}},
            "required": ["reason"]},
        guide=_guide("户籍在本辖区的居民。", "窗口采集照片和指纹→审核→制证→领证或邮寄。",
                     "收费按省物价部门标准：换领20元、补领40元。"),
        where=POLICE_WHERE, fees="换领20元，补领40元", legal_basis="《中华人民共和国居民身份证法》第十一条、第二十条",
        keywords="身份证 换证 补办 丢失",
    ),
)

CONSULTATIONS: tuple[dict, ...] = (
    dict(code="ASK_MEDICAL", name="合疗报销咨询", life_event="医疗", handling_levels=["community", "town"],
         responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=3, statutory_limit=5,
         guide="咨询城乡居民医保(合疗)报销范围、比例和所需材料。", where=LOCAL_WHERE, keywords="合疗 报销 咨询"),
    dict(code="ASK_HOUSING_FUND", name="住房公积金咨询", life_event="住房", handling_levels=["city", "area"],
         responsible_unit_kind=UnitKind.HOUSING_FUND, time_limit=2, statutory_limit=5,
         guide="咨询公积金缴存、提取、贷款政策以及能否在家门口办理。", where=AREA_WHERE, keywords="公积金 咨询"),
    dict(code="ASK_ASSISTANCE", name="社会救助政策咨询", life_event="社会救助", handling_levels=["town", "city"],
         responsible_unit_kind=UnitKind.CIVIL_AFFAIRS, time_limit=3, statutory_limit=5,
         guide="咨询低保、临时救助、特困供养的条件和流程。", where=CITY_WHERE, keywords="低保 救助 咨询"),
    dict(code="ASK_PENSION", name="养老政策咨询", life_event="养老", handling_levels=["community", "town"],
         responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=3, statutory_limit=5,
         guide="咨询老年证、高龄补贴、城乡居民养老保险。", where=LOCAL_WHERE, keywords="养老 老年证 咨询"),
)


# --- what a 办事指南 must also say -------------------------------------------------------------
# Phones: the unit's own line for questions, and the hotlines residents complain to (12345 政务服务便民
# 热线 for every matter; 12393 医保, 12329 公积金, 12333 人社, 12349 民政, 12389 公安 where they apply).
HALL_PHONE = "029-33185000(新区政务服务中心)"
PICKUP, POST, ELECTRONIC = "pickup", "post", "electronic"
COMPLAINT = "12345"

GUIDE_EXTRAS: dict[str, dict] = {
    # visits: 到现场次数 (0 = 最多跑零次: applied for online, result sent or paid out)
    "SENIOR_CARD": dict(visits=1, delivery=[PICKUP, POST], consult_phone="029-33185012(老年证窗口)"),
    "ELDERLY_ALLOWANCE": dict(visits=0, delivery=[ELECTRONIC], consult_phone="12349"),
    "PENSION_ENROL": dict(visits=0, delivery=[ELECTRONIC], consult_phone="12333"),
    "PENSION_CLAIM": dict(visits=1, delivery=[PICKUP, ELECTRONIC], consult_phone="12333"),
    "MEDICAL_REIMBURSE": dict(visits=1, delivery=[ELECTRONIC], consult_phone="12393",
                              complaint_phone="12345；医保基金监管举报 029-33186393"),
    "CHRONIC_DISEASE": dict(visits=1, delivery=[ELECTRONIC, POST], consult_phone="12393"),
    "MEDICAL_TRANSFER": dict(visits=0, delivery=[ELECTRONIC], consult_phone="12393"),
    "HOUSING_FUND_WITHDRAW": dict(visits=0, delivery=[ELECTRONIC], consult_phone="12329"),
    "HOUSING_FUND_LOAN": dict(visits=2, delivery=[PICKUP], consult_phone="12329"),
    "BIRTH_REGISTER": dict(visits=0, delivery=[ELECTRONIC], consult_phone="029-33185021(卫生健康窗口)"),
    "ONLY_CHILD_CERT": dict(visits=1, delivery=[PICKUP, POST], consult_phone="029-33185021(卫生健康窗口)"),
    "EMPLOYMENT_REGISTER": dict(visits=0, delivery=[ELECTRONIC], consult_phone="12333"),
    "UNEMPLOYMENT_REGISTER": dict(visits=0, delivery=[ELECTRONIC], consult_phone="12333"),
    "SUBSISTENCE": dict(visits=1, delivery=[PICKUP], consult_phone="12349"),
    "TEMPORARY_RELIEF": dict(visits=1, delivery=[PICKUP], consult_phone="12349"),
    "EXTREME_POVERTY": dict(visits=1, delivery=[PICKUP], consult_phone="12349"),
    "DISABILITY_CARD": dict(visits=2, delivery=[PICKUP, POST], consult_phone="029-33185035(残联窗口)"),
    "RESIDENCE_PERMIT": dict(visits=1, delivery=[PICKUP, POST], consult_phone="029-33196110(户政咨询)",
                             complaint_phone="12345；公安举报 12389"),
    "ID_CARD_RENEW": dict(visits=1, delivery=[PICKUP, POST], consult_phone="029-33196110(户政咨询)",
                          complaint_phone="12345；公安举报 12389"),
    "ASK_MEDICAL": dict(visits=0, consult_phone="12393"),
    "ASK_HOUSING_FUND": dict(visits=0, consult_phone="12329"),
    "ASK_ASSISTANCE": dict(visits=0, consult_phone="12349"),
    "ASK_PENSION": dict(visits=0, consult_phone="12333"),
}


def _with_guide(matter: dict) -> dict:
    extras = GUIDE_EXTRAS[matter["code"]]
    return {"consult_phone": HALL_PHONE, "complaint_phone": COMPLAINT, "resident_can_apply": True,
            **matter, **extras}


APPLICATIONS = tuple(_with_guide(m) for m in APPLICATIONS)
CONSULTATIONS = tuple(_with_guide(m) for m in CONSULTATIONS)

# Blank forms and filled-in samples residents download from a guide (demo/guides.py writes them as
# Word files): (matter code, kind, title, the form's extra rows beyond the applicant's own).
DOCUMENTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("SENIOR_CARD", "blank", "老年证申请表", ("出生日期", "申请原因", "领取方式(自取/邮寄)", "邮寄地址")),
    ("SENIOR_CARD", "sample", "老年证申请表(填写样例)", ("出生日期", "申请原因", "领取方式(自取/邮寄)", "邮寄地址")),
    ("ELDERLY_ALLOWANCE", "blank", "高龄老人生活保健补贴申请表", ("出生日期", "发放银行", "银行账号")),
    ("PENSION_ENROL", "blank", "城乡居民基本养老保险参保登记表", ("缴费档次(元/年)", "户籍性质")),
    ("MEDICAL_REIMBURSE", "blank", "城乡居民医保零星报销申请表", ("就诊医院", "住院日期", "医疗总费用(元)",
                                                          "社会保障卡号")),
    ("SUBSISTENCE", "blank", "最低生活保障申请书", ("共同生活家庭成员人数", "家庭月收入(元)", "申请理由")),
    ("SUBSISTENCE", "blank", "家庭经济状况核对授权书", ("授权人(家庭成员逐一签字)",)),
    ("TEMPORARY_RELIEF", "blank", "临时救助申请审批表", ("困难原因", "申请金额(元)")),
    ("DISABILITY_CARD", "blank", "残疾人证申请表", ("残疾类别", "评定医院")),
    ("RESIDENCE_PERMIT", "blank", "居住证申领登记表", ("居住事由", "居住地址", "来西咸居住日期")),
    ("ID_CARD_RENEW", "blank", "居民身份证申领登记表", ("换领/补领原因", "领取方式(自取/邮寄)", "邮寄地址")),
    ("HOUSING_FUND_WITHDRAW", "blank", "住房公积金提取申请表", ("提取原因", "提取金额(元)", "收款银行账号")),
)


@dataclass(frozen=True)
class IncidentSpec:
    """An incident category: the matter fields, and whom the command centre dispatches it to."""

    code: str
    name: str
    time_limit: int
    time_unit: str
    dispatch_kind: str
    dispatch_level: str  # "town" or "city"
    keywords: str
    titles: tuple[str, ...]
    priority: int = 2


# Incidents follow the command-centre model (综合执法指挥中心体制改革): every report lands at the
# new city's command centre, which registers it and dispatches it to the unit that acts.
INCIDENTS: tuple[IncidentSpec, ...] = (
    IncidentSpec("INC_PARKING", "乱停车", 2, "workdays", UnitKind.ENFORCEMENT, "town", "乱停车 违停 占道停车 堵车",
                 ("学校门口早晚高峰车辆乱停", "商场周边机动车占用人行道停放", "小区出入口被私家车堵住",
                  "医院门口车辆双排停放")),
    IncidentSpec("INC_THEFT", "治安/盗窃", 24, "hours", UnitKind.PUBLIC_SECURITY, "town", "盗窃 偷 治安 可疑人员",
                 ("夜间有人进村偷狗", "村民家门墩石被盗", "电动车电瓶被盗", "深夜有可疑人员在村道徘徊"), 1),
    IncidentSpec("INC_SANITATION", "环境卫生", 1, "workdays", UnitKind.SANITATION, "town", "垃圾 卫生 清运",
                 ("垃圾桶满溢未及时清运", "路边建筑垃圾堆放", "公厕卫生脏乱", "村口垃圾堆积")),
    IncidentSpec("INC_STREET_VENDOR", "占道经营", 1, "workdays", UnitKind.ENFORCEMENT, "town", "摆摊 占道 流动摊贩",
                 ("早市摊贩占用机动车道", "店外摆摊占用人行道", "流动摊贩堵塞路口")),
    IncidentSpec("INC_ILLEGAL_BUILDING", "违章搭建", 5, "workdays", UnitKind.ENFORCEMENT, "city", "违建 私搭乱建",
                 ("楼顶私自加盖彩钢房", "沿街商户私搭雨棚", "农田内新建违章房屋")),
    IncidentSpec("INC_NOISE", "噪音扰民", 24, "hours", UnitKind.PUBLIC_SECURITY, "town", "噪音 扰民 夜间施工",
                 ("工地夜间施工噪音扰民", "广场舞音响声音过大", "KTV深夜噪音")),
    IncidentSpec("INC_ROAD_DAMAGE", "道路设施损坏", 3, "workdays", UnitKind.ENFORCEMENT, "city", "道路 坑槽 护栏 路灯",
                 ("路面出现大坑槽", "道路护栏被撞损", "路灯夜间不亮", "人行道地砖松动")),
    IncidentSpec("INC_MANHOLE", "井盖缺失", 4, "hours", UnitKind.ENFORCEMENT, "town", "井盖 缺失 破损 安全",
                 ("人行道井盖缺失", "雨水井盖破损下沉"), 1),
    IncidentSpec("INC_ADVERT", "违规广告", 3, "workdays", UnitKind.ENFORCEMENT, "town", "广告 小广告 牛皮癣",
                 ("墙面张贴小广告", "沿街商户违规设置落地广告牌", "电线杆上乱贴办证广告")),
    IncidentSpec("INC_BURNING", "露天焚烧", 8, "hours", UnitKind.SANITATION, "town", "焚烧 秸秆 垃圾 烟",
                 ("田间焚烧秸秆", "路边焚烧垃圾冒黑烟")),
)


def incident_matter_fields(spec: IncidentSpec) -> dict:
    return dict(
        code=spec.code, name=spec.name, kind="incident", life_event="城市治理", handling_levels=["city"],
        responsible_unit_kind=UnitKind.COMMAND_CENTRE, dispatch_unit_kind=spec.dispatch_kind,
        time_limit=spec.time_limit, time_unit=spec.time_unit,
        statutory_limit=max(spec.time_limit, 5) if spec.time_unit == "workdays" else 5,
        guide="拍照定位上报，新城综合执法指挥中心立案后派遣责任单位处置，处置结果经核查后结案。",
        where="随手拍、12345热线、网格员上报", keywords=spec.keywords,
        resident_can_apply=True, visits=0, consult_phone="12345", complaint_phone="12345",
    )


# How often each matter appears in the generated history (relative weights).
WEIGHTS: dict[str, int] = {
    "SENIOR_CARD": 90, "ELDERLY_ALLOWANCE": 30, "PENSION_ENROL": 40, "PENSION_CLAIM": 25,
    "MEDICAL_REIMBURSE": 120, "CHRONIC_DISEASE": 15, "MEDICAL_TRANSFER": 20,
    "HOUSING_FUND_WITHDRAW": 60, "HOUSING_FUND_LOAN": 10,
    "BIRTH_REGISTER": 35, "ONLY_CHILD_CERT": 8, "EMPLOYMENT_REGISTER": 40, "UNEMPLOYMENT_REGISTER": 20,
    "SUBSISTENCE": 25, "TEMPORARY_RELIEF": 15, "EXTREME_POVERTY": 5, "DISABILITY_CARD": 12,
    "RESIDENCE_PERMIT": 45, "ID_CARD_RENEW": 40,
    "ASK_MEDICAL": 45, "ASK_HOUSING_FUND": 30, "ASK_ASSISTANCE": 20, "ASK_PENSION": 25,
    "INC_PARKING": 90, "INC_THEFT": 20, "INC_SANITATION": 55, "INC_STREET_VENDOR": 40,
    "INC_ILLEGAL_BUILDING": 20, "INC_NOISE": 25, "INC_ROAD_DAMAGE": 30, "INC_MANHOLE": 10, "INC_ADVERT": 25,
    "INC_BURNING": 10,
}

# Sample values for free-text form fields.
FORM_SAMPLES: dict[str, tuple[str, ...]] = {
    "reason": ("本人申请", "方便乘车出行", "家属代为申请"),
    "hospital": ("西咸新区中心医院", "咸阳市第一人民医院", "陕西省人民医院", "西安交通大学第一附属医院", "泾阳县医院"),
    "destination": ("北京市", "上海市", "西安市", "成都市", "郑州市"),
    "employer": ("陕西空港物流有限公司", "西咸新区某科技有限公司", "秦汉新城某建筑公司", "沣西新城某数据中心"),
}

# Texts the history uses in timelines and ratings.
SUPPLEMENT_REASONS = ("身份证复印件不清晰，请补交", "缺少户口簿户主页复印件", "照片不符合要求，请补交近期一寸免冠照片",
                      "费用清单缺少医院盖章", "收入证明缺少单位盖章")
REJECT_REASONS = ("申请人不符合受理条件", "申请事项不属于本单位职权范围，已告知申请人到相应部门办理",
                  "同一事项已在办理中，不重复受理")
DENY_RESULTS = ("经审核，家庭人均收入高于当地标准，不予批准", "经评定不符合条件，不予批准")
APPROVE_RESULTS = ("准予办理，已通知申请人领取", "审核通过，已办结", "已办结，结果已送达申请人")
ANSWERS = ("已电话答复，告知办理条件和所需材料", "已现场答复并发放办事指南", "已答复：可在村(社区)便民服务站代办",
           "已答复：定点医院已联网，出院即时结算")
HANDLE_RESULTS = {
    UnitKind.ENFORCEMENT: ("已到现场处置，责令当事人整改完毕", "已劝离并清理现场", "已拆除/恢复原状", "已设置警示并修复"),
    UnitKind.PUBLIC_SECURITY: ("民警已到场处置，已加强夜间巡逻", "已调取监控并立案侦查", "已现场调解，噪音已停止"),
    UnitKind.SANITATION: ("已安排清运，现场已清理干净", "已扑灭明火并清理现场", "已增加清运频次"),
}
REWORK_REASONS = ("现场核查仍未整改到位，请重新处置", "处置照片与上报位置不符，请重新处置")
DISMISS_REASONS = ("经核实为重复上报，已合并处理", "经核实不属于受理范围", "现场核查未发现所述问题")
TRANSFER_COMMENTS = {
    "application": "申请人户籍信息需街镇核查，转街镇便民服务中心办理",
    "incident": "涉及多个新城，转新区综合执法指挥中心统筹",
}
ESCALATE_COMMENTS = {
    "application": "涉及跨区域核查，按规定上报上级服务中心办理",
    "incident": "需跨街道协调，上报新城处置",
}
GOOD_COMMENTS = ("办事效率高，不用跑腿", "工作人员态度很好，讲得很清楚", "在家门口就办了，真方便", "",
                 "处理很及时，点赞", "", "")
BAD_COMMENTS = ("材料来回跑了两趟，等了很久才办好", "反映的问题处理后又反复出现", "电话一直打不通，答复不清楚")
CALL_BACK_NOTES = ("已电话回访当事人，了解不满意原因", "已上门回访，向当事人致歉并说明情况")
REPORT_BACK_NOTES = ("已整改：优化窗口一次性告知清单，并向当事人反馈", "已整改：加强现场巡查，当事人表示认可")

# Who applies for what: (youngest, oldest) age of applicants in the generated history.
AGE_RANGES: dict[str, tuple[int, int]] = {
    "SENIOR_CARD": (60, 92), "ELDERLY_ALLOWANCE": (80, 98), "PENSION_CLAIM": (60, 75),
    "PENSION_ENROL": (18, 59), "BIRTH_REGISTER": (22, 42), "ONLY_CHILD_CERT": (25, 50),
    "EMPLOYMENT_REGISTER": (18, 58), "UNEMPLOYMENT_REGISTER": (20, 58), "HOUSING_FUND_WITHDRAW": (23, 62),
    "HOUSING_FUND_LOAN": (24, 50), "RESIDENCE_PERMIT": (18, 55),
}
DEFAULT_AGES = (18, 85)
