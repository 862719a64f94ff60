"""What the planner map's grid editor (``app/static/js/planner-editor.js``) is told.

The web layer knows the grid-edit API's path, the CSRF header and the session's token; the
page hands them to the script as JSON data (:func:`gis.maps.page_script`), together with
the panel's words in the page's language, so nothing is formatted into JavaScript.
"""

from __future__ import annotations

from app.api.auth import CSRF_HEADER
from app.api.routes.grids import router as grids_router
from app.api.templates import STATIC_URL
from app.services.accounts.users import User

CONFIG_ID = "cg-editor-config"  # the script finds its settings by this id
TEXT = {
    "zh": {
        "heading": "网格编辑",
        "help": "点击网格选中（Shift 多选），再用左侧工具画切分线或新边界。",
        "selected": "已选网格",
        "none": "无",
        "drawn": "所画图形",
        "line": "线",
        "polygon": "面",
        "split": "沿所画线拆分",
        "reshape": "按所画面调整边界",
        "create": "按所画面新建网格",
        "merge": "合并所选网格",
        "note": "备注（写入编辑记录）",
        "preview": "预览（不保存）",
        "submit": "提交",
        "clear": "清除",
        "valid": "✓ 符合拓扑规则，可以提交",
        "invalid": "✗ 违反规则",
        "warnings": "提示",
        "new_grids": "新网格",
        "retired": "撤销",
        "moved": "随之调整",
        "cases": "件案件",
        "components": "个部件",
        "saved": "已保存，编辑号",
        "reloading": "正在刷新地图…",
        "nothing": "请先选中网格或画出图形",
        "failed": "失败",
        "m2": "平方米",
    },
    "en": {
        "heading": "Grid editor",
        "help": "Click grids to select (Shift-click adds), then draw a "
        "split line or a new boundary with the tools on the left.",
        "selected": "Selected",
        "none": "none",
        "drawn": "Drawn",
        "line": "line",
        "polygon": "polygon",
        "split": "Split along the line",
        "reshape": "Reshape to the polygon",
        "create": "Create a grid from the polygon",
        "merge": "Merge the selected grids",
        "note": "Note (kept in the edit log)",
        "preview": "Preview (nothing saved)",
        "submit": "Submit",
        "clear": "Clear",
        "valid": "✓ Passes the topology rules",
        "invalid": "✗ Breaks the rules",
        "warnings": "Warnings",
        "new_grids": "New grids",
        "retired": "Retired",
        "moved": "Moves",
        "cases": "cases",
        "components": "components",
        "saved": "Saved, edit",
        "reloading": "Reloading the map…",
        "nothing": "Select grids or draw a shape first",
        "failed": "Failed",
        "m2": "m²",
    },
}


def editor_settings(viewer: User, lang: str) -> dict:
    """The script and stylesheet URLs and the settings of ``viewer``'s editor panel."""
    text = dict(TEXT["en" if lang == "en" else "zh"])
    # grid-edit verdicts carry both languages; the panel shows the page's
    text["lang_key"] = "message_en" if lang == "en" else "message_zh"
    return {
        "script": STATIC_URL + "js/planner-editor.js",
        "css": STATIC_URL + "css/planner-editor.css",
        "config_id": CONFIG_ID,
        "config": {
            "api": grids_router.prefix,
            "csrf_header": CSRF_HEADER,
            "csrf": viewer.extra.get("csrf", ""),
            "text": text,
        },
    }
