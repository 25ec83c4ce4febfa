"""Argument normalisation shared by the sync and asyncio APIs."""

from __future__ import annotations

from typing import Iterable, Mapping, Optional, Sequence, Tuple, Union

HeadersLike = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]


def header_list(headers: HeadersLike) -> list[tuple[str, str]]:
    """`additional_headers` as a list of pairs: a mapping, a `Headers`, or pairs."""
    if headers is None:
        return []
    items = getattr(headers, "items", None)
    pairs: Iterable[Tuple[str, str]] = items() if callable(items) else headers  # type: ignore[assignment]
    return [(str(k), str(v)) for k, v in pairs]


def str_list(values: Optional[Sequence[Optional[str]]]) -> list[str]:
    """Subprotocols or origins as a list of strings (None entries dropped)."""
    return [str(v) for v in values or () if v is not None]
