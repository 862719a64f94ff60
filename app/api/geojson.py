"""GeoJSON responses (``application/geo+json``) and paging links."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.errors import InvalidInputError


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"

    def render(self, content: Any) -> bytes:
        # jsonable_encoder turns datetimes and Decimals into JSON like FastAPI's own responses.
        return json.dumps(
            jsonable_encoder(content), ensure_ascii=False, separators=(",", ":")
        ).encode("utf-8")


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    """``minLon,minLat,maxLon,maxLat`` in WGS84, validated."""
    if bbox is None:
        return None
    parts = bbox.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise InvalidInputError(
            f"bbox 应为 4 个数字：最小经度,最小纬度,最大经度,最大纬度；收到 {bbox!r}",
            f"bbox must be 4 numbers minLon,minLat,maxLon,maxLat; got {bbox!r}",
        )
    x1, y1, x2, y2 = values
    if not (-180 <= x1 < x2 <= 180 and -90 <= y1 < y2 <= 90):
        raise InvalidInputError(
            f"bbox 超出 WGS84 范围或最小值不小于最大值：{bbox!r}",
            f"bbox is outside WGS84 bounds or min is not below max: {bbox!r}",
        )
    return x1, y1, x2, y2


def feature_collection(
    request: Request, features: list[dict[str, Any]], matched: int, limit: int, offset: int
) -> dict[str, Any]:
    """A FeatureCollection with OGC API Features style counts and next/prev links."""
    links = [{"rel": "self", "type": "application/geo+json", "href": str(request.url)}]
    if offset + len(features) < matched:
        links.append(
            {
                "rel": "next",
                "type": "application/geo+json",
                "href": str(request.url.include_query_params(offset=offset + limit)),
            }
        )
    if offset > 0:
        links.append(
            {
                "rel": "prev",
                "type": "application/geo+json",
                "href": str(request.url.include_query_params(offset=max(0, offset - limit))),
            }
        )
    return {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": len(features),
        "links": links,
        "features": features,
    }


def feature(geometry: dict | None, properties: dict[str, Any], fid: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": properties}
    if fid is not None:
        out["id"] = fid
    return out


def features_from_rows(rows: list[dict[str, Any]], id_key: str) -> list[dict[str, Any]]:
    """Rows with a ``geometry`` dict become Features; the other columns are properties."""
    out = []
    for row in rows:
        props = dict(row)
        geometry = props.pop("geometry", None)
        out.append(feature(geometry, props, props.get(id_key)))
    return out
