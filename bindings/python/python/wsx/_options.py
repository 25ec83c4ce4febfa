"""Argument normalisation shared by the sync and asyncio APIs."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _wsx

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


def start_client(
    uri: str, *, subprotocols: Optional[Sequence[str]], additional_headers: HeadersLike, **options: Any
) -> _wsx.ClientConnection:
    """Starts a client connection with the public `connect` options (both APIs)."""
    return _wsx.open_client(
        uri, subprotocols=str_list(subprotocols), headers=header_list(additional_headers), **options
    )


def start_server(
    host: str,
    port: int,
    *,
    subprotocols: Optional[Sequence[str]],
    origins: Optional[Sequence[Optional[str]]],
    **options: Any,
) -> _wsx.Listener:
    """Starts listening with the public `serve` options (both APIs)."""
    allowed = None if origins is None else str_list(origins)
    return _wsx.listen(host, port, subprotocols=str_list(subprotocols), origins=allowed, **options)
