"""A landing page so a newcomer at http://127.0.0.1:8000/ sees where to go."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<title>CityGrid 数字化城管</title>
<style>body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:46rem;margin:3rem auto;
line-height:1.6;color:#222}code{background:#f3f3f3;padding:0 .3em}a{color:#0a58ca}</style></head>
<body><h1>CityGrid 数字化城管</h1>
<p>万米单元网格管理法与城市部件事件管理法 · Digital city management on the grid method.</p>
<p><a href="/login">登录 Sign in</a> (accounts: <code>citygrid users add</code>) ·
<form method="post" action="/logout" style="display:inline"><button>退出 Sign out</button></form></p>
<ul>
<li><a href="/maps/hotspots">热点分析地图 Hotspot map (Getis-Ord Gi*)</a> (public) ·
    <a href="/maps/planner">网格规划地图 Planner map</a> (planner: draw, preview, submit edits;
    analyst: view) ·
    <a href="/maps/supervisor">监督员地图 Supervisor map</a> (a supervisor's own grids; command
    centre: <code>?grid=</code> or <code>?supervisor=</code>)</li>
<li><a href="/api/v1/hotspots/grids?geometry=false&amp;significant=true">网格热点 Grid hotspots</a> ·
    <a href="/api/v1/hotspots/streets">街道热点排名 Street ranking</a></li>
<li><a href="/docs">接口文档 API docs (OpenAPI)</a></li>
<li><a href="/health">健康检查 Health</a></li>
<li><a href="/api/v1/areas?level=subdistrict">街道 Sub-districts</a> ·
    <a href="/api/v1/areas?level=community&amp;limit=20">社区 Communities</a></li>
<li><a href="/api/v1/grids?limit=10">单元网格 Grids</a> (GeoJSON, <code>bbox</code>,
    <code>community</code>, <code>at</code>)</li>
<li><a href="/api/v1/streets?limit=20">街道路段 Streets</a> ·
    <a href="/api/v1/units">责任单位 Units</a> ·
    <a href="/api/v1/components?limit=10">部件 Components</a> ·
    <a href="/api/v1/classes">分类 Classes</a></li>
</ul></body></html>"""


@router.get("/", response_class=HTMLResponse)
def read_home() -> str:
    return PAGE
