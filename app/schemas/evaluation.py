"""Response models of the performance evaluation (绩效评价, GB/T 30428.4)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import Number


class EvaluationRow(BaseModel):
    """One area, unit or post: its indicators, scores, composite and grade.

    Open-ended: which indicators (counts, rates, ``score_…``) a row has depends on the level
    evaluated (a unit has no reporting indicators), so they are kept as they come."""

    model_config = ConfigDict(extra="allow")

    key: str = Field(..., description="area code, unit code or account")
    name: str | None
    composite: Number | None = Field(..., description="综合评分 / composite score")
    grade: str | None = Field(..., description="优秀/良好/合格/不合格 / grade")


class Evaluation(BaseModel):
    """Indicators, composite scores and grades for a period."""

    level: str = Field(..., description="area / unit / post")
    area_level: str | None
    post: str | None
    from_: str = Field(..., alias="from", description="ISO 8601 start, inclusive")
    to: str = Field(..., description="ISO 8601 end, exclusive")
    weights: dict[str, Number] = Field(..., description="indicator → weight in the composite")
    rows: list[EvaluationRow]
