"""Page requests and the list envelope `{"data": [...], "pagination": {...}}` (docs/product.md §4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ticketry.core.schemas import Schema

T = TypeVar("T")
MAX_PAGE_SIZE = 100
# Deeper than anyone reads; a bound keeps the offset a small number.
MAX_PAGE = 100_000


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    page_size: int = 25

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    request: PageRequest
    # The total is a lower bound: counting stopped there ("1,000+").
    capped: bool = False

    @property
    def total_pages(self) -> int:
        size = self.request.page_size
        return (self.total + size - 1) // size


def count_rows(session: Session, query: Select[Any], *, cap: int | None = None) -> int:
    """Count what a select would return, without its ordering. With `cap`, stop counting there
    (the answer is then at most `cap`): a badge saying "10k+" needs no scan of a million rows."""
    inner = query.order_by(None)
    if cap is not None:
        inner = inner.limit(cap)
    counted = select(func.count()).select_from(inner.subquery())
    return session.execute(counted).scalar_one()


class PaginationView(Schema):
    total: int
    page: int
    page_size: int
    total_pages: int
    # True when `total` is a lower bound: a long list or a common word is counted only that far.
    total_capped: bool = False


def pagination_view(page: Page[T]) -> PaginationView:
    return PaginationView(
        total=page.total,
        page=page.request.page,
        page_size=page.request.page_size,
        total_pages=page.total_pages,
        total_capped=page.capped,
    )


class ListPage(Schema, Generic[T]):
    """The list envelope for lists that are not paged (a ticket's replies, reference data):
    the same shape as every other list (docs/product.md §4), everything on one page."""

    data: list[T]
    pagination: PaginationView

    @classmethod
    def of(cls, items: Sequence[T]) -> ListPage[T]:
        total = len(items)
        pagination = PaginationView(
            total=total, page=1, page_size=max(total, 1), total_pages=1 if total else 0
        )
        return cls(data=list(items), pagination=pagination)
