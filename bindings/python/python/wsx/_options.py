"""Argument normalisation shared by the sync and asyncio APIs."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Literal, Mapping, Optional, Sequence, Tuple, Union

from . import _wsx

#: The core's defaults of the options of ``connect`` and ``serve`` (seconds,
#: bytes): the signatures read them, so no default is written twice.
DEFAULTS = _wsx.defaults()

HeadersLike = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]
#: ``max_queue``: a high-water mark in messages, ``(high, low)``, or None.
QueueLike = Union[int, Tuple[int, Optional[int]], None]
#: ``compression``: ``"deflate"`` (default settings), a :class:`Deflate`, or None.
CompressionLike = Union[str, _wsx.Deflate, None]
#: ``slow_subscriber``: what publishing does with a subscriber whose send
#: queue is full: ``"skip"`` it for that message, or ``"drop"`` the connection.
SlowSubscriber = Literal["skip", "drop"]
#: ``cluster``: a ``redis://`` URL, a :class:`Cluster`, or None.
ClusterLike = Union[str, _wsx.Cluster, None]
#: ``reconnect``: True (default policy), a :class:`Reconnect`, or None/False.
ReconnectLike = Union[bool, _wsx.Reconnect, None]
#: ``proxy``: a proxy URL, True (from the environment), or None/False.
ProxyLike = Union[str, bool, None]
#: ``before_connect(attempt)``: the extra headers of that attempt, or None.
BeforeConnect = Callable[[int], HeadersLike]
#: A message to send: ``str`` is text, the others binary.
Sendable = Union[str, bytes, bytearray, memoryview]


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


def queue_limit(max_queue: QueueLike) -> Optional[tuple[int, int]]:
    """`max_queue` as `(high, low)`: the low mark defaults to a quarter of
    the high one, as in `websockets`."""
    if max_queue is None:
        return None
    if isinstance(max_queue, int):
        high, low = max_queue, None
    else:
        high, low = max_queue
    if low is None:
        low = high // 4
    if high < 1 or not 0 <= low < high:
        raise ValueError(f"max_queue needs 1 <= high and 0 <= low < high, not {max_queue!r}")
    return high, low


def deflate(compression: CompressionLike) -> Optional[_wsx.Deflate]:
    """`compression` as permessage-deflate settings, or None for none."""
    if compression is None or isinstance(compression, _wsx.Deflate):
        return compression
    if compression == "deflate":
        return _wsx.Deflate()
    raise ValueError(f'compression is "deflate", a wsx.Deflate or None, not {compression!r}')


def reconnect_policy(reconnect: ReconnectLike) -> Optional[_wsx.Reconnect]:
    """`reconnect` as a policy, or None for none."""
    if reconnect is None or reconnect is False:
        return None
    if reconnect is True:
        return _wsx.Reconnect()
    if isinstance(reconnect, _wsx.Reconnect):
        return reconnect
    raise TypeError(f"reconnect is a bool, a wsx.Reconnect or None, not {reconnect!r}")


def headers_hook(before_connect: Optional[BeforeConnect]) -> Optional[Callable[[int], Any]]:
    """`before_connect` returning header pairs for the native side."""
    if before_connect is None:
        return None
    hook = before_connect

    def pairs(attempt: int) -> Optional[list[tuple[str, str]]]:
        headers = hook(attempt)
        return None if headers is None else header_list(headers)

    return pairs


def start_client(
    uri: str,
    *,
    subprotocols: Optional[Sequence[str]],
    additional_headers: HeadersLike,
    max_queue: QueueLike,
    compression: CompressionLike,
    reconnect: ReconnectLike,
    proxy: ProxyLike,
    before_connect: Optional[BeforeConnect],
    **options: Any,
) -> _wsx.ClientConnection:
    """Starts a client connection with the public `connect` options (both APIs)."""
    if proxy is not None and not isinstance(proxy, (str, bool)):
        raise TypeError(f"proxy is a URL, a bool or None, not {proxy!r}")
    return _wsx.open_client(
        uri,
        subprotocols=str_list(subprotocols),
        headers=header_list(additional_headers),
        max_queue=queue_limit(max_queue),
        compression=deflate(compression),
        reconnect=reconnect_policy(reconnect),
        proxy=proxy if isinstance(proxy, str) else None,
        proxy_from_env=proxy is True,
        before_connect=headers_hook(before_connect),
        **options,
    )


def start_server(
    host: str,
    port: int,
    *,
    subprotocols: Optional[Sequence[str]],
    origins: Optional[Sequence[Optional[str]]],
    max_queue: QueueLike,
    compression: CompressionLike,
    cluster: ClusterLike = None,
    **options: Any,
) -> _wsx.Listener:
    """Starts listening with the public `serve` options (both APIs)."""
    allowed = None if origins is None else str_list(origins)
    return _wsx.listen(
        host,
        port,
        subprotocols=str_list(subprotocols),
        origins=allowed,
        max_queue=queue_limit(max_queue),
        compression=deflate(compression),
        cluster=cluster_option(cluster),
        **options,
    )


def cluster_option(cluster: ClusterLike) -> Optional[_wsx.Cluster]:
    """`cluster` as a :class:`Cluster`, or None for none."""
    if cluster is None or isinstance(cluster, _wsx.Cluster):
        return cluster
    if isinstance(cluster, str):
        return _wsx.Cluster(cluster)
    raise TypeError(f"cluster is a redis:// URL, a wsx.Cluster or None, not {cluster!r}")
