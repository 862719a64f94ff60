"""Responsible units (责任单位) of the demo district (private helper of :mod:`gis.demo.district`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

COMMAND_CENTRE = "U-ZH"
# (code, Chinese name, English name): the usual line-up of a district platform's
# professional departments (专业部门), including utility companies that own manholes.
DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("U-HW", "云溪区环境卫生管理所", "Yunxi Sanitation Station"),
    ("U-SZ", "云溪区市政设施管理处", "Yunxi Municipal Facilities Administration"),
    ("U-YL", "云溪区园林绿化管理所", "Yunxi Landscaping and Greening Station"),
    ("U-ZF", "云溪区城市管理综合执法大队", "Yunxi City Management Law Enforcement Brigade"),
    ("U-JJ", "云溪区公安交警大队", "Yunxi Traffic Police Brigade"),
    ("U-JS", "云溪区住房和建设局", "Yunxi Housing and Construction Bureau"),
    ("U-PS", "云溪区排水管理处", "Yunxi Drainage Administration"),
    ("U-GS", "云溪供水有限公司", "Yunxi Water Supply Co."),
    ("U-GD", "云溪供电公司", "Yunxi Power Supply Co."),
    ("U-RQ", "云溪燃气有限公司", "Yunxi Gas Co."),
    ("U-TX", "云溪通信管线公司", "Yunxi Telecom Ducts Co."),
    ("U-GJ", "云溪公共交通有限公司", "Yunxi Public Transport Co."),
)
# Outsourced street cleaning and greening, as most Chinese districts now do.
CLEANING_CONTRACTORS = ("U-BJ-01", "U-BJ-02")
GREENING_CONTRACTOR = "U-LH-01"
CONTRACTORS: tuple[tuple[str, str, str], ...] = (
    ("U-BJ-01", "云溪洁城保洁服务有限公司", "Yunxi Jiecheng Cleaning Services Co."),
    ("U-BJ-02", "云溪净美环境服务有限公司", "Yunxi Jingmei Environmental Services Co."),
    ("U-LH-01", "云溪绿源园林养护有限公司", "Yunxi Lüyuan Landscape Maintenance Co."),
)


def office_code(sub_number: int) -> str:
    """Unit code of the office of 0-based subdistrict ``sub_number``: ``U-JD-001``."""
    return f"U-JD-{sub_number + 1:03d}"


def build_units(
    subdistricts: pd.DataFrame, contacts: list[str], rng: np.random.Generator
) -> pd.DataFrame:
    """Units table: command centre, one office per subdistrict, departments, contractors.

    ``subdistricts`` needs ``code``, ``name``, ``name_en`` in code order; ``contacts`` holds
    one person name per unit. Phone numbers are fictitious on purpose: Chinese local numbers
    never start with 0 after the area code, so ``0512-0xxxxxxx`` cannot reach anyone.
    """
    rows = [
        (
            COMMAND_CENTRE,
            "云溪区数字化城市管理监督指挥中心",
            "Yunxi Digital City Management Command Centre",
            "command_centre",
            None,
        )
    ]
    for k, (code, name, name_en) in enumerate(
        subdistricts[["code", "name", "name_en"]].itertuples(index=False)
    ):
        rows.append(
            (office_code(k), f"{name}办事处", f"{name_en} Office", "subdistrict_office", code)
        )
    rows += [(c, zh, en, "department", None) for c, zh, en in DEPARTMENTS]
    rows += [(c, zh, en, "contractor", None) for c, zh, en in CONTRACTORS]
    units = pd.DataFrame(rows, columns=["code", "name", "name_en", "kind", "subdistrict_code"])
    units["contact"] = contacts[: len(units)]
    units["phone"] = [f"0512-0{n:07d}" for n in rng.integers(0, 10**7, len(units))]
    return units[["code", "name", "name_en", "kind", "contact", "phone", "subdistrict_code"]]
