"""Domain errors: what went wrong, in Chinese and English, with the HTTP status it maps to.

Nothing below the routers raises HTTPException; `app.api.problems` renders these as
RFC 9457 ``application/problem+json`` and the CLI prints them and exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class DomainError(Exception):
    """Base class: a user-safe message in both languages plus machine-readable extras."""

    status = 400
    type_slug = "bad-request"
    title_zh = "请求无效"
    title_en = "Bad request"

    def __init__(self, message_zh: str, message_en: str | None = None, **extra: Any):
        super().__init__(message_en or message_zh)
        self.message_zh = message_zh
        self.message_en = message_en or message_zh
        self.extra = extra

    def message(self, language: str = "zh") -> str:
        return self.message_en if language == "en" else self.message_zh

    def title(self, language: str = "zh") -> str:
        return self.title_en if language == "en" else self.title_zh


class NotFoundError(DomainError):
    status = 404
    type_slug = "not-found"
    title_zh = "未找到"
    title_en = "Not found"


class InvalidInputError(DomainError):
    status = 422
    type_slug = "invalid-input"
    title_zh = "输入无效"
    title_en = "Invalid input"


class OutsideCoverageError(DomainError):
    status = 422
    type_slug = "outside-managed-area"
    title_zh = "超出管理区域"
    title_en = "Outside the managed area"


class UnknownClassError(DomainError):
    status = 422
    type_slug = "unknown-class"
    title_zh = "未知的部件/事件分类"
    title_en = "Unknown class"


class UnknownComponentError(InvalidInputError):
    """A report names a component identifier (部件标识码) that no registered component has."""

    status = 422
    type_slug = "unknown-component"
    title_zh = "未登记的部件"
    title_en = "Unknown component"


class ComponentClassError(InvalidInputError):
    """A report names a component of another class than the report's own."""

    status = 422
    type_slug = "component-class-mismatch"
    title_zh = "部件与上报分类不符"
    title_en = "Component of another class"


class UnauthenticatedError(DomainError):
    status = 401
    type_slug = "unauthenticated"
    title_zh = "未登录或令牌无效"
    title_en = "Not authenticated"


class ForbiddenError(DomainError):
    status = 403
    type_slug = "forbidden"
    title_zh = "无权执行此操作"
    title_en = "Forbidden"


class ConflictError(DomainError):
    status = 409
    type_slug = "conflict"
    title_zh = "冲突"
    title_en = "Conflict"


class TooManyRequestsError(DomainError):
    """429; ``retry_after`` (seconds) is sent as the Retry-After header."""

    status = 429
    type_slug = "too-many-requests"
    title_zh = "请求过于频繁"
    title_en = "Too many requests"


class UnavailableError(DomainError):
    status = 503
    type_slug = "unavailable"
    title_zh = "服务暂不可用"
    title_en = "Service unavailable"


@dataclass(frozen=True)
class RowProblem:
    """One reason one input row (1-based, as a spreadsheet counts data rows) was refused."""

    row: int | None
    reason: str
    column: str | None = None
    reason_zh: str | None = None  # where the API answers the same problem in Chinese too

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        col = f" [{self.column}]" if self.column else ""
        zh = f"{self.reason_zh} / " if self.reason_zh else ""
        return f"{where}{col}: {zh}{self.reason}"

    def as_dict(self) -> dict:
        """The problem as listed in an ImportRejected answer."""
        out = {"row": self.row, "reason": self.reason, "column": self.column}
        return out | ({"reason_zh": self.reason_zh} if self.reason_zh else {})


@dataclass
class ImportRejected(DomainError):
    """An import refused as a whole: nothing was written. Lists every problem found."""

    problems: list[RowProblem] = field(default_factory=list)
    source: str = ""

    status = 422
    type_slug = "import-rejected"
    title_zh = "导入被拒绝，未写入任何数据"
    title_en = "Import rejected, nothing written"

    def __post_init__(self) -> None:
        n = len(self.problems)
        DomainError.__init__(
            self,
            f"{self.source}: {n} 处问题，未写入任何数据",
            f"{self.source}: {n} problem(s), nothing written",
            problems=[p.as_dict() for p in self.problems[:1000]],
        )
