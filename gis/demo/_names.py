"""Name vocabularies for the synthetic demo district (private helper of :mod:`gis.demo.district`).

Every name here is invented. The words are generic place-name morphemes of the kind found in
any Chinese city (flowers, virtues, landscape words); well-known real Suzhou street and town
names were deliberately left out so that nobody mistakes the demo for real geography.
"""

from __future__ import annotations

import numpy as np

# (Chinese, pinyin) place-name morphemes, used for streets, communities and sub-districts.
PLACE_WORDS: tuple[tuple[str, str], ...] = (
    ("长宁", "Changning"),
    ("桂花", "Guihua"),
    ("凤凰", "Fenghuang"),
    ("锦绣", "Jinxiu"),
    ("星湖", "Xinghu"),
    ("青枫", "Qingfeng"),
    ("翠竹", "Cuizhu"),
    ("梧桐", "Wutong"),
    ("玉兰", "Yulan"),
    ("海棠", "Haitang"),
    ("紫薇", "Ziwei"),
    ("香樟", "Xiangzhang"),
    ("银杏", "Yinxing"),
    ("芙蓉", "Furong"),
    ("荷花", "Hehua"),
    ("兰亭", "Lanting"),
    ("松涛", "Songtao"),
    ("柳岸", "Liu'an"),
    ("春晖", "Chunhui"),
    ("秋实", "Qiushi"),
    ("晨曦", "Chenxi"),
    ("明月", "Mingyue"),
    ("白鹭", "Bailu"),
    ("黄鹂", "Huangli"),
    ("翠微", "Cuiwei"),
    ("碧波", "Bibo"),
    ("金桥", "Jinqiao"),
    ("银河", "Yinhe"),
    ("太平", "Taiping"),
    ("安康", "Ankang"),
    ("和平", "Heping"),
    ("友谊", "Youyi"),
    ("团结", "Tuanjie"),
    ("建设", "Jianshe"),
    ("新华", "Xinhua"),
    ("文昌", "Wenchang"),
    ("学府", "Xuefu"),
    ("书院", "Shuyuan"),
    ("崇文", "Chongwen"),
    ("尚德", "Shangde"),
    ("仁和", "Renhe"),
    ("富民", "Fumin"),
    ("兴业", "Xingye"),
    ("振兴", "Zhenxing"),
    ("创业", "Chuangye"),
    ("科技", "Keji"),
    ("创新", "Chuangxin"),
    ("通达", "Tongda"),
    ("汇泉", "Huiquan"),
    ("涌泉", "Yongquan"),
    ("清源", "Qingyuan"),
    ("泰和", "Taihe"),
    ("永安", "Yong'an"),
    ("永丰", "Yongfeng"),
    ("丰收", "Fengshou"),
    ("金穗", "Jinsui"),
    ("稻香", "Daoxiang"),
    ("桑园", "Sangyuan"),
    ("丝绸", "Sichou"),
    ("琴台", "Qintai"),
    ("画舫", "Huafang"),
    ("渔湾", "Yuwan"),
    ("菱湖", "Linghu"),
    ("莲塘", "Liantang"),
    ("荻港", "Digang"),
    ("芦荡", "Ludang"),
    ("雅苑", "Yayuan"),
    ("华庭", "Huating"),
    ("瑞丰", "Ruifeng"),
    ("祥和", "Xianghe"),
    ("嘉禾", "Jiahe"),
    ("青石", "Qingshi"),
    ("白沙", "Baisha"),
    ("红枫", "Hongfeng"),
    ("紫金", "Zijin"),
    ("翡翠", "Feicui"),
    ("琥珀", "Hupo"),
    ("玲珑", "Linglong"),
    ("双桥", "Shuangqiao"),
    ("三元", "Sanyuan"),
    ("五福", "Wufu"),
    ("六合", "Liuhe"),
    ("七星", "Qixing"),
    ("九曲", "Jiuqu"),
    ("百花", "Baihua"),
    ("万福", "Wanfu"),
    ("东园", "Dongyuan"),
    ("西苑", "Xiyuan"),
    ("南塘", "Nantang"),
    ("北港", "Beigang"),
    ("新民", "Xinmin"),
    ("民主", "Minzhu"),
    ("劳动", "Laodong"),
    ("工农", "Gongnong"),
    ("育才", "Yucai"),
    ("启明", "Qiming"),
    ("朝阳", "Chaoyang"),
    ("晓光", "Xiaoguang"),
    ("星火", "Xinghuo"),
    ("远航", "Yuanhang"),
    ("凌云", "Lingyun"),
    ("鹿鸣", "Luming"),
    ("鹤翔", "Hexiang"),
    ("龙泉", "Longquan"),
    ("通园", "Tongyuan"),
    ("映月", "Yingyue"),
    ("听涛", "Tingtao"),
    ("望湖", "Wanghu"),
)
# The district's own name goes to its main arterial (see _demo_layout).
DISTRICT_WORD = ("云溪", "Yunxi")

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严武戴莫孔汤"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文辉玲晶红鹏飞斌宇浩凯婷雪琳晨阳欣怡佳"
    "俊峰鑫波宁健亮林燕梅兰萍丹瑞博志海东春秋宏翔旭昊琪颖倩蕾璐雯慧莉思嘉子涵诗梓铭"
)
_NUMERALS = "零一二三四五六七八九"


def chinese_ordinal(n: int) -> str:
    """Chinese numeral for 1 <= n <= 99 (``2 -> 二``, ``12 -> 十二``, ``35 -> 三十五``)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens] + "十")
    return head + (_NUMERALS[ones] if ones else "")


def english_ordinal(n: int) -> str:
    """English ordinal (``1st``, ``2nd``, ``11th``)."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def place_stems(n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """Draw ``n`` distinct (Chinese, English) name stems such as ``("桂花", "Guihua")``.

    Callers append a suffix (``路``/``Road``, ``社区``/``Community``). Each word is used once
    in a shuffled order; after that Chinese ordinals (``桂花二`` → ``桂花二路``, "Guihua 2nd
    Road") keep the stems unique, as real cities do for long street families.
    """
    if n > 99 * len(PLACE_WORDS):
        raise ValueError(f"at most {99 * len(PLACE_WORDS)} distinct names can be drawn")
    words = [PLACE_WORDS[k] for k in rng.permutation(len(PLACE_WORDS))]
    stems = []
    for k in range(n):
        rank, w = divmod(k, len(words))
        zh, en = words[w]
        if rank:
            zh, en = zh + chinese_ordinal(rank + 1), f"{en} {english_ordinal(rank + 1)}"
        stems.append((zh, en))
    return stems


def person_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct person-like Chinese names (surname + one or two given characters).

    Distinct because the names double as supervisor identifiers; once the pool (about 700,000
    names) is exhausted the remainder fall back to ``supervisor-000123`` style ids.
    """
    n_given = len(_GIVEN) + len(_GIVEN) ** 2
    pool = len(_SURNAMES) * n_given
    picks = rng.choice(pool, size=min(n, pool), replace=False)
    names = []
    for p in picks.tolist():
        surname, given = divmod(p, n_given)
        if given < len(_GIVEN):
            names.append(_SURNAMES[surname] + _GIVEN[given])
        else:
            a, b = divmod(given - len(_GIVEN), len(_GIVEN))
            names.append(_SURNAMES[surname] + _GIVEN[a] + _GIVEN[b])
    names += [f"supervisor-{k:06d}" for k in range(len(names) + 1, n + 1)]
    return names
