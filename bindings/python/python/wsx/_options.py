"""Argument mapping shared by the sync and asyncio APIs: the core validates
every value and holds every default; this only changes shapes."""

from __future__ import annotations

import hashlib
import inspect
import os
import ssl as ssl_module
import tempfile
from typing import Any, Awaitable, Callable, Iterable, Literal, Mapping, Optional, Sequence, Tuple, Union

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
#: A socket address as ``socket`` gives it: ``(host, port)``, or a Unix
#: domain socket's path (``""`` for a client's unnamed socket).
Address = Union[Tuple[str, int], str]
#: A message to send: ``str`` is text, the others binary.
Sendable = Union[str, bytes, bytearray, memoryview]


def unix_uri(path: Any, uri: Optional[str], options: Mapping[str, Any]) -> str:
    """``unix_connect``'s URI, as ``websockets`` picks it: ``ws://localhost/``,
    or ``wss://localhost/`` with TLS options; ``path`` is required."""
    if path is None:
        raise TypeError("unix_connect needs the path of the Unix domain socket")
    if uri is not None:
        return uri
    tls = options.get("ssl") not in (None, False) or options.get("ca_file") is not None
    return "wss://localhost/" if tls else "ws://localhost/"


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


def queue_limit(max_queue: QueueLike) -> Optional[tuple[int, Optional[int]]]:
    """`max_queue` as `(high, low)` for the core (`low` None: the core's
    default, a quarter of `high`); the core checks the marks."""
    if max_queue is None:
        return None
    if isinstance(max_queue, int):
        return max_queue, None
    high, low = max_queue
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


#: ``resolver(host, port)``: the addresses to try for ``host``, each an IP
#: address string (connected to on ``port``) or an ``(ip, port)`` pair (as
#: ``socket.getaddrinfo`` gives them); with ``wsx.asyncio``, an awaitable of
#: that too.
Resolver = Callable[[str, int], Any]


def resolver_hook(
    resolver: Optional[Resolver], run: Optional[Callable[[Any], Any]]
) -> Optional[Callable[[str, int], list[tuple[str, int]]]]:
    """``resolver`` returning ``(ip, port)`` pairs for the native side, which
    calls it on a resolver helper thread (never the network thread). ``run``
    waits for an awaitable it returned (asyncio: on the caller's loop)."""
    if resolver is None:
        return None
    if not callable(resolver):
        raise TypeError(f"resolver is a callable (host, port) -> addresses, not {resolver!r}")
    hook = resolver

    def pairs(host: str, port: int) -> list[tuple[str, int]]:
        found = hook(host, port)
        if inspect.isawaitable(found):
            if run is None:
                raise TypeError("a resolver returning an awaitable needs wsx.asyncio.connect")
            found = run(found)
        return [(a, port) if isinstance(a, str) else (str(a[0]), int(a[1])) for a in found]

    return pairs


def client_cert_files(client_cert: Any, client_key: Any) -> Optional[tuple[Any, Any]]:
    """``client_cert`` (PEM chain, leaf first) and ``client_key`` (its PEM
    key; None: in the ``client_cert`` file too, as ``load_cert_chain`` has
    it) for the core."""
    if client_cert is None:
        if client_key is not None:
            raise _invalid("client_key needs client_cert (the certificate chain it is the key of)")
        return None
    return client_cert, client_cert if client_key is None else client_key


#: ``ssl``: True, an ``ssl.SSLContext`` (mapped to ``ca_file`` /
#: ``verify``), or None.
SSLLike = Union[bool, ssl_module.SSLContext, None]


def tls_client(uri: str, ssl: SSLLike, ca_file: Any, verify: bool) -> tuple[Any, bool]:
    """``ssl=`` of ``websockets`` mapped to the core's ``ca_file`` and
    ``verify`` (rustls does TLS, so a context is read, not used): its
    verify mode, and the CA certificates it loaded (written once to a PEM
    file named by their digest). What cannot be mapped is refused, naming
    the options that do it."""
    if ssl is None or ssl is True:
        if ssl is True and not uri.lower().startswith("wss:"):
            raise _invalid("ssl=True needs a wss:// URI")
        return ca_file, verify
    if ssl is False:
        if uri.lower().startswith("wss:"):
            raise _invalid("ssl=False cannot turn TLS off for a wss:// URI; use ws://, or verify=False to skip checks")
        return ca_file, verify
    if not isinstance(ssl, ssl_module.SSLContext):
        raise TypeError(f"ssl is True, an ssl.SSLContext or None, not {ssl!r}")
    if not uri.lower().startswith("wss:"):
        raise _invalid("ssl= needs a wss:// URI")
    if ca_file is not None or not verify:
        raise _invalid("give either ssl= or ca_file= / verify=, not both")
    if ssl.verify_mode == ssl_module.CERT_NONE:
        return None, False
    if not ssl.check_hostname:
        raise _invalid(
            "an ssl.SSLContext with check_hostname=False cannot be mapped (rustls always checks the "
            "host name): pass verify=False to turn every check off, or ca_file= to trust a CA"
        )
    ders = ssl.get_ca_certs(binary_form=True)
    if not ders:
        return None, True
    pem = "".join(ssl_module.DER_cert_to_PEM_cert(der) for der in ders).encode()
    path = os.path.join(tempfile.gettempdir(), f"wsx-ca-{hashlib.sha256(pem).hexdigest()[:32]}.pem")
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=tempfile.gettempdir(), suffix=".pem")
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.replace(tmp, path)
    return path, True


def tls_server(ssl: SSLLike) -> None:
    """``ssl=`` of ``serve``: a context's certificate and key cannot be read
    back out of it, so it is refused, naming the options that serve TLS."""
    if ssl is None:
        return
    raise _invalid(
        "serve() cannot take ssl= (rustls does TLS, and an ssl.SSLContext does not give its key "
        "back): pass cert_file= and key_file= (PEM files) to serve wss://"
    )


def _invalid(msg: str) -> Exception:
    from .exceptions import InvalidArgument

    return InvalidArgument(msg)


#: A decision hook's result: a value, or an awaitable of one (asyncio).
MaybeAwaitable = Union[Any, Awaitable[Any]]


def decider(
    process_request: Optional[Callable[..., MaybeAwaitable]],
    select_subprotocol: Optional[Callable[..., MaybeAwaitable]],
    process_response: Optional[Callable[..., MaybeAwaitable]],
    run: Callable[[Any], Any],
) -> Optional[Callable[[_wsx.ServerConnection, _wsx.Request, bool, Optional[str]], Any]]:
    """The one hook the native server calls, on a thread of its own (never
    the network thread), for each handshake and, with ``process_request``,
    each plain HTTP request: it runs the application's hooks in
    ``websockets``' order and returns what the core does. ``run`` waits for
    an awaitable a hook returned (asyncio: on the server's loop)."""
    if process_request is None and select_subprotocol is None and process_response is None:
        return None

    def call(hook: Callable[..., MaybeAwaitable], *args: Any) -> Any:
        out = hook(*args)
        return run(out) if inspect.isawaitable(out) else out

    def decide(
        connection: _wsx.ServerConnection, request: _wsx.Request, plain_http: bool, subprotocol: Optional[str]
    ) -> Any:
        if process_request is not None:
            answer = call(process_request, connection, request)
            if answer is not None:
                return answer
        if plain_http:
            return None  # not answered: the core's 426 Upgrade Required
        if select_subprotocol is not None:
            subprotocol = call(select_subprotocol, connection, request.subprotocols)
        headers = _wsx.Headers()
        if process_response is not None:
            response = _wsx.Response(101, None, headers)
            answer = call(process_response, connection, request, response)
            if answer is not None and answer.status_code != 101:
                return answer
            headers = (answer or response).headers
        return _wsx.Accept(subprotocol, headers)

    return decide


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
    ssl: SSLLike,
    ca_file: Any,
    verify: bool,
    client_cert: Any,
    client_key: Any,
    resolver: Optional[Resolver],
    run: Optional[Callable[[Any], Any]] = None,
    **options: Any,
) -> _wsx.ClientConnection:
    """Starts a client connection with the public `connect` options (both
    APIs); ``run`` waits for an awaitable a hook returned (asyncio)."""
    if proxy is not None and not isinstance(proxy, (str, bool)):
        raise TypeError(f"proxy is a URL, a bool or None, not {proxy!r}")
    ca_file, verify = tls_client(uri, ssl, ca_file, verify)
    return _wsx.open_client(
        uri,
        ca_file=ca_file,
        verify=verify,
        subprotocols=str_list(subprotocols),
        headers=header_list(additional_headers),
        max_queue=queue_limit(max_queue),
        compression=deflate(compression),
        reconnect=reconnect_policy(reconnect),
        proxy=proxy if isinstance(proxy, str) else None,
        proxy_from_env=proxy is True,
        before_connect=headers_hook(before_connect),
        client_cert=client_cert_files(client_cert, client_key),
        resolver=resolver_hook(resolver, run),
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
    process_request: Optional[Callable[..., MaybeAwaitable]],
    select_subprotocol: Optional[Callable[..., MaybeAwaitable]],
    process_response: Optional[Callable[..., MaybeAwaitable]],
    ssl: SSLLike,
    run: Callable[[Any], Any],
    cluster: ClusterLike = None,
    **options: Any,
) -> _wsx.Listener:
    """Starts listening with the public `serve` options (both APIs)."""
    tls_server(ssl)
    allowed = None if origins is None else str_list(origins)
    return _wsx.listen(
        host,
        port,
        decide=decider(process_request, select_subprotocol, process_response, run),
        answers_http=process_request is not None,
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
