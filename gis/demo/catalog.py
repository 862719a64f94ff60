"""Event mix, hotspot kinds and report texts of the demo (private helper of :mod:`gis.demo.district`).

Codes are 2013-scheme minor classes (GB/T 30428.2-2013, see
``standards/classification_2013.csv``); event and component codes overlap, so every code
here is used together with its kind. The weights are a plausible shape for a Chinese
district (exposed garbage, shop-front business and small ads dominate), not statistics.
"""

from __future__ import annotations

# Event classes of the background (non-hotspot) mix, with relative weights.
EVENT_WEIGHTS: dict[str, float] = {
    "0102": 14,  # 暴露垃圾
    "0201": 12,  # 非法小广告
    "0504": 12,  # 店外经营
    "0104": 9,  # 道路不洁
    "0507": 9,  # 乱堆物料堆
    "0501": 8,  # 无照经营游商
    "0505": 6,  # 机动车乱停放
    "0506": 5,  # 非机动车乱停放
    "0103": 3,  # 积存垃圾渣土
    "0106": 3,  # 绿地脏乱
    "0302": 2,  # 工地扬尘
    "0304": 2,  # 施工占道
    "0108": 2,  # 废弃家具设施
    "0110": 2,  # 道路破损
    "0511": 2,  # 沿街晾挂
    "0202": 2,  # 违章张贴悬挂广告牌匾
    "0406": 1.5,  # 道路积水
    "0101": 1,  # 私搭乱建
    "0109": 1,  # 非装饰性树挂
    "0203": 1,  # 占道广告牌
    "0204": 1,  # 街头散发广告
    "0107": 1,  # 废弃车辆
    "0510": 1,  # 露天烧烤
    "0116": 1,  # 油烟污染
    "0503": 1,  # 占道废品收购
    "0112": 1,  # 道路撒遗
    "0303": 1,  # 施工废弃料
    "0404": 0.8,  # 下水道堵塞或破损
    "0508": 0.5,  # 商业噪音
    "0115": 0.5,  # 焚烧树叶，垃圾
    "0301": 0.5,  # 施工扰民
    "0199": 0.5,  # 其他市容环境问题
    "0509": 0.3,  # 黑车拉客
    "0407": 0.2,  # 道路积雪结冰
}
# Component problems (class_kind 'component'): reported at an existing component.
COMPONENT_WEIGHTS: dict[str, float] = {
    "0118": 25,  # 路灯
    "0305": 18,  # 垃圾箱
    "0104": 10,  # 雨水箅子
    "0102": 8,  # 污水井盖
    "0103": 8,  # 雨水井盖
    "0402": 8,  # 行道树
    "0101": 5,  # 上水井盖
    "0107": 4,  # 通讯井盖
    "0105": 3,  # 电力井盖
    "0111": 2,  # 燃气井盖
    "0213": 3,  # 路名牌
    "0203": 3,  # 公交站亭
    "0210": 3,  # 交通信号灯
}
COMPONENT_SHARE = 0.17  # share of all reports that concern a component
HOTSPOT_SHARE = 0.30  # share of event reports that come from hotspot clusters
SOURCES = ("supervisor", "hotline", "public_app", "video", "higher_order")
# Day-time mix; night reports (below) shift it back to about 55/25/10/8/2 % overall.
SOURCE_P = (0.57, 0.24, 0.105, 0.065, 0.02)
NIGHT_SOURCE_P = (0.20, 0.45, 0.05, 0.30, 0.0)  # few patrols at night; cameras and callers
NIGHT_CLASSES = frozenset({"0510", "0116", "0508", "0112"})  # barbecue, fumes, noise, muck trucks
# Season groups: which yearly curve a class follows (see _demo_time).
SEASON_OF_CLASS: dict[str, str] = {
    "0406": "rain",
    "0404": "rain",
    "0407": "snow",
    "0510": "summer_night",
    "0116": "summer_night",
    "0508": "summer_night",
    "0302": "dry",
    "0303": "dry",
    "0112": "dry",
    "0115": "burning",
}

# Hotspot kinds: Chinese label, sigma range (m), class weights, hour profile, season.
HOTSPOT_KINDS: dict[str, dict] = {
    "market": dict(
        zh="菜市场",
        sigma=(80, 150),
        hours="market",
        season=None,
        classes={"0501": 3, "0504": 3, "0102": 3, "0104": 2, "0507": 1, "0506": 1},
    ),
    "night_market": dict(
        zh="夜市",
        sigma=(100, 180),
        hours="night",
        season="summer_night",
        classes={"0504": 4, "0510": 3, "0102": 3, "0116": 2, "0501": 2, "0508": 1},
    ),
    "construction": dict(
        zh="地块项目工地",
        sigma=(100, 250),
        hours="worksite",
        season=None,
        classes={"0302": 4, "0304": 3, "0112": 3, "0303": 2, "0301": 1},
    ),
    "station": dict(
        zh="地铁站",
        sigma=(120, 200),
        hours="commute",
        season=None,
        classes={"0505": 3, "0506": 3, "0501": 2, "0509": 2, "0204": 1, "0102": 1},
    ),
    "school": dict(
        zh="实验小学",
        sigma=(80, 150),
        hours="school",
        season=None,
        classes={"0505": 3, "0501": 3, "0201": 1, "0506": 1},
    ),
    "old_residential": dict(
        zh="新村",
        sigma=(150, 250),
        hours="default",
        season=None,
        classes={"0507": 3, "0201": 3, "0511": 2, "0108": 2, "0101": 1, "0103": 1},
    ),
    "commercial": dict(
        zh="商业街",
        sigma=(100, 200),
        hours="default",
        season=None,
        classes={"0504": 3, "0202": 2, "0506": 2, "0203": 1, "0204": 1, "0102": 1},
    ),
    "hospital": dict(
        zh="医院",
        sigma=(80, 150),
        hours="commute",
        season=None,
        classes={"0505": 4, "0501": 2, "0509": 1, "0102": 1},
    ),
}
# Every district gets these first, then random kinds.
CORE_HOTSPOTS = ("market", "night_market", "construction", "station", "school")

EVENT_TEXT: dict[str, tuple[str, ...]] = {
    "0101": ("沿街私搭雨棚", "屋顶私自加建彩钢板房", "违规搭建简易棚"),
    "0102": ("路边有暴露垃圾", "垃圾桶旁散落生活垃圾", "绿化带内有垃圾堆放"),
    "0103": ("路边积存建筑渣土", "空地积存垃圾未清运"),
    "0104": ("路面有油污泥土", "人行道不洁，杂物较多", "路面污渍未及时清扫"),
    "0106": ("绿地内杂物较多", "绿化带内堆放杂物"),
    "0107": ("长期停放无牌废弃车辆", "僵尸车占用车位"),
    "0108": ("路边丢弃旧沙发", "废弃家具堆放在人行道"),
    "0109": ("行道树上私拉晾衣绳", "树上悬挂横幅"),
    "0110": ("人行道地砖松动破损", "路面坑洼"),
    "0112": ("渣土车沿路撒漏", "路面有撒漏泥浆"),
    "0115": ("露天焚烧树叶", "焚烧垃圾，烟雾较大"),
    "0116": ("餐饮店油烟直排", "油烟扰民"),
    "0199": ("其他市容环境问题",),
    "0201": ("墙面张贴非法小广告", "电线杆上喷涂小广告", "楼道口张贴办证广告"),
    "0202": ("违章悬挂横幅广告", "擅自设置店招"),
    "0203": ("占用人行道摆放广告牌", "店门口摆放立式广告牌"),
    "0204": ("路口有人散发小广告", "向行人散发传单"),
    "0301": ("夜间施工噪音扰民",),
    "0302": ("工地出入口扬尘", "工地裸土未覆盖，扬尘较大"),
    "0303": ("施工废料堆放路边", "建筑垃圾未及时清运"),
    "0304": ("施工围挡占用人行道", "施工材料占道堆放"),
    "0404": ("下水道堵塞，污水外溢",),
    "0406": ("路面积水，影响通行", "雨后低洼处积水"),
    "0407": ("路面结冰，行人易滑倒",),
    "0501": ("流动摊贩占道经营", "三轮车流动售卖水果", "游商沿街叫卖"),
    "0503": ("占道收购废品",),
    "0504": ("店外占道经营", "商铺在门前摆放货物", "餐饮店门外摆桌经营"),
    "0505": ("机动车占用人行道停放", "机动车乱停放，堵塞消防通道"),
    "0506": ("共享单车乱停放", "非机动车堆积占道"),
    "0507": ("人行道上堆放杂物", "沿街乱堆物料"),
    "0508": ("商铺高音喇叭揽客",),
    "0509": ("黑车在路口拉客",),
    "0510": ("占道露天烧烤", "夜间露天烧烤，油烟较大"),
    "0511": ("沿街晾晒衣物",),
}
_COVER = ("破损", "缺失", "松动有异响", "下沉")
COMPONENT_TEXT: dict[str, tuple[str, ...]] = {
    "0118": ("路灯不亮", "路灯白天常亮", "灯杆倾斜", "灯罩破损"),
    "0305": ("垃圾箱满溢", "垃圾箱破损", "垃圾箱缺失"),
    "0101": tuple("上水井盖" + p for p in _COVER),
    "0102": tuple("污水井盖" + p for p in _COVER),
    "0103": tuple("雨水井盖" + p for p in _COVER),
    "0104": ("雨水箅子堵塞", "雨水箅子破损", "雨水箅子缺失"),
    "0105": tuple("电力井盖" + p for p in _COVER),
    "0107": tuple("通讯井盖" + p for p in _COVER),
    "0111": tuple("燃气井盖" + p for p in _COVER),
    "0402": ("行道树倾斜", "行道树枯死", "树枝遮挡路灯"),
    "0213": ("路名牌倾斜", "路名牌污损"),
    "0203": ("公交站亭玻璃破损", "站亭顶棚破损"),
    "0210": ("交通信号灯故障", "信号灯灯头损坏"),
}
HIGHER_ORDER_REPORTERS = ("市数字城管监督指挥中心交办", "区政府督查室交办", "媒体曝光转办")
