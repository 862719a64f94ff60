"""Hotspots 热点分析: Getis-Ord Gi* per grid and per street segment, street rankings."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Response

from app.api.deps import EngineDep, LanguageDep, SettingsDep
from app.api.geojson import GeoJSONResponse
from app.api.openapi import problems, schema_ref, with_problems
from app.db.hotspots.queries import EventFilter
from app.schemas.hotspots import GridHotspotCollection, StreetHotspotCollection, StreetHotspots
from app.services.hotspots import analysis as service

router = APIRouter(prefix="/api/v1/hotspots", tags=["hotspots 热点"])
GEOJSON = "application/geo+json"
BIN_NAMES = {
    "zh": {
        3: "热点（99% 置信度）",
        2: "热点（95%）",
        1: "热点（90%）",
        0: "不显著",
        -1: "冷点（90%）",
        -2: "冷点（95%）",
        -3: "冷点（99% 置信度）",
    },
    "en": {
        3: "hot spot, 99 % confidence",
        2: "hot spot, 95 %",
        1: "hot spot, 90 %",
        0: "not significant",
        -1: "cold spot, 90 %",
        -2: "cold spot, 95 %",
        -3: "cold spot, 99 % confidence",
    },
}


@dataclass
class FilterParams:
    """The filter every hotspot, statistics and map endpoint shares (raw, validated later)."""

    classes: str | None
    kind: str | None
    major: str | None
    start: str | None
    end: str | None
    source: str | None
    status: str | None
    area: str | None


def filter_params(
    classes: str | None = Query(
        None, alias="class", description="小类代码，逗号分隔 / class codes, e.g. 0102,0504"
    ),
    kind: Literal["event", "component"] | None = Query(None, description="事件或部件 / class kind"),
    major: str | None = Query(None, description="大类代码 / major class codes, e.g. 01"),
    start: str | None = Query(None, alias="from", description="起始日期或时间 / from (inclusive)"),
    end: str | None = Query(
        None, alias="to", description="截止日期（含当日）/ to (a date covers its day)"
    ),
    source: str | None = Query(None, description="来源 / sources, e.g. supervisor,hotline"),
    status: str | None = Query(
        None, description="状态，open = 未结案 / statuses; open = not finished"
    ),
    area: str | None = Query(None, description="区/街道/社区编码 (6/9/12) / area code"),
) -> FilterParams:
    return FilterParams(classes, kind, major, start, end, source, status, area)


FilterDep = Annotated[FilterParams, Depends(filter_params)]


def event_filter(engine, settings, params: FilterParams) -> EventFilter:
    """Validate ``params`` into an EventFilter (422 problem+json on bad values)."""
    return service.parse_filter(engine, settings, **params.__dict__)


@router.get(
    "/grids",
    response_class=GeoJSONResponse,
    response_model=GridHotspotCollection,
    responses=problems(),
    summary="网格热点 Gi* / grid hotspots",
)
def read_grid_hotspots(
    engine: EngineDep,
    settings: SettingsDep,
    lang: LanguageDep,
    params: FilterDep,
    fdr: bool | None = Query(None, description="Benjamini-Hochberg 校正 / false discovery rate"),
    trend: bool = Query(False, description="与上一等长周期比较 / compare with the previous period"),
    geometry: bool = Query(True, description="包含网格几何 / include grid polygons"),
    significant: bool = Query(False, description="仅显著网格 / only grids with bin ≠ 0"),
):
    hot = service.grid_hotspots(
        engine, settings, event_filter(engine, settings, params), fdr=fdr, trend=trend
    )
    return Response(_grid_collection(engine, hot, lang, geometry, significant), media_type=GEOJSON)


@router.get(
    "/streets",
    response_model=StreetHotspots,
    responses=with_problems(
        {200: {"content": {GEOJSON: {"schema": schema_ref(StreetHotspotCollection)}}}}
    ),
    summary="街道热点排名 / street ranking",
)
def read_street_hotspots(
    engine: EngineDep,
    settings: SettingsDep,
    params: FilterDep,
    level: Literal["street", "segment"] = Query(
        "street", description="街道或路段 / street or segment"
    ),
    order: Literal["events", "rate", "z", "change"] = Query(
        "events", description="排序 / order by"
    ),
    limit: int = Query(50, ge=1, le=5000),
    fdr: bool | None = None,
    trend: bool = False,
    format: Literal["json", "geojson"] = "json",
):
    f = event_filter(engine, settings, params)
    frame = service.street_hotspots(
        engine, settings, f, level=level, order=order, limit=limit, fdr=fdr, trend=trend
    )
    items = [_clean(r) for r in frame.reset_index().to_dict("records")]
    if format == "geojson":
        return GeoJSONResponse(_street_collection(engine, f, level, items))
    return {
        "filter": service.describe_filter(f),
        "level": level,
        "order": order,
        "count": len(items),
        "items": items,
    }


def _street_collection(engine, f: EventFilter, level: str, items: list[dict]) -> dict:
    """The ranked streets (merged centrelines) or segments as a FeatureCollection."""
    key = "segment_id" if level == "segment" else "street_id"
    shapes = service.street_geometries(engine, level, [i[key] for i in items])
    features = [
        {"type": "Feature", "id": i[key], "geometry": json.loads(shapes[i[key]]), "properties": i}
        for i in items
        if i[key] in shapes
    ]
    return {"type": "FeatureCollection", "filter": service.describe_filter(f), "features": features}


def _clean(row: dict) -> dict:
    """numpy scalars → Python, NaN → None (JSON has no NaN)."""
    out = {}
    for k, v in row.items():
        v = v.item() if hasattr(v, "item") else v
        out[k] = None if isinstance(v, float) and math.isnan(v) else v
    return out


def _numbers(values: np.ndarray, decimals: int) -> list[str]:
    """JSON number text of floats (NaN → null); ``repr`` of a rounded float is short and fast."""
    rounded = np.round(values, decimals).tolist()
    return ["null" if v != v else repr(v) for v in rounded]  # v != v: NaN


def _grid_collection(
    engine, hot: service.GridHotspots, lang: str, geometry: bool, significant: bool
) -> bytes:
    """The FeatureCollection as text. The fixed head of each feature (id, geometry, code) is
    cached; only the numbers are formatted here, and one join copies everything once:
    100,000 features through jsonable_encoder and json.dumps take seconds."""
    frame = hot.frame
    heads = service.grid_feature_heads(engine, hot, geometry)
    columns = [
        frame["events"].to_numpy().tolist(),
        _numbers(frame["z"].to_numpy(), 6),
        _numbers(frame["p"].to_numpy(), 8),
        frame["bin"].to_numpy().tolist(),
    ]
    template = '"events":{},"z":{},"p":{},"bin":{}'
    if "trend" in frame:
        template += ',"previous":{},"change":{},"trend":"{}"'
        columns += [frame[c].to_numpy().tolist() for c in ("previous", "change", "trend")]
    tails = [template.format(*row) + "}}," for row in zip(*columns, strict=True)]
    keep = np.flatnonzero(frame["bin"].to_numpy() != 0) if significant else range(len(tails))
    pieces = [piece for k in keep for piece in (heads[k], tails[k])]
    features = "".join(pieces)[:-1]  # no comma after the last feature
    trend = "trend" in frame
    head = {
        "type": "FeatureCollection",
        "filter": service.describe_filter(hot.filter),
        "summary": hot.summary(),
        "bins": {str(k): v for k, v in BIN_NAMES[lang].items()},
        "numberMatched": len(frame),
        "numberReturned": len(keep),
    }
    if trend:
        prev = service.previous_filter(hot.filter)
        assert prev.start is not None and prev.end is not None  # previous_filter sets both
        head["previous"] = {"from": prev.start.isoformat(), "to": prev.end.isoformat()}
    # ASCII escapes keep the whole body a 1-byte string: joining and encoding 30 MB stay memcpy.
    start = json.dumps(head, ensure_ascii=True, separators=(",", ":"))[:-1]
    return (start + ',"features":[' + features + "]}").encode("utf-8")
