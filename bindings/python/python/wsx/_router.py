"""Routing by path: several WebSocket endpoints on one server, shaped like
``websockets.asyncio.router`` / ``websockets.sync.router`` (``route(url_map,
...)``, ``Router``), reached as ``wsx.asyncio.route`` / ``wsx.sync.route``
(and ``wsx.asyncio.router.route`` / ``wsx.sync.router.route``).

``url_map`` is a ``werkzeug.routing.Map`` (``pip install werkzeug``), as in
websockets: URL parameters reach the handler as keyword arguments, and
redirect rules answer ``302 Found``. Without werkzeug, a plain mapping of
exact paths to handlers (``{"/echo": echo, "/chat": chat}``) works too.
A request matching no rule is answered ``404 Not Found`` before any
handshake; the rest go on to their handler.

wsx runs ``process_request`` (where routing happens) on another object than
the connection given to the handler, so the handler side matches the path
again rather than reading an attribute set on the connection; both matches
see the same request and give the same answer.
"""

from __future__ import annotations

import http
import types
import urllib.parse
from typing import Any, Callable, Mapping, Optional, Tuple

from ._wsx import Request, Response

__all__ = ["Router", "make_route", "module"]


class Router:
    """Dispatches each request to the handler its path matches (see
    :func:`route`). Subclass it and pass ``create_router=`` to customise
    ``not_found`` or ``redirect``, as in websockets."""

    def __init__(self, url_map: Any, server_name: Optional[str] = None, url_scheme: str = "ws") -> None:
        self.url_map = url_map
        self.server_name = server_name
        self.url_scheme = url_scheme
        if not isinstance(url_map, Mapping):
            for rule in url_map.iter_rules():
                rule.websocket = True

    def get_server_name(self, connection: Any, request: Request) -> str:
        if self.server_name is None:
            host = request.headers.get("Host")
            return "" if host is None else str(host)
        return self.server_name

    def redirect(self, connection: Any, url: str) -> Response:
        response: Response = connection.respond(http.HTTPStatus.FOUND, f"Found at {url}")
        response.headers["Location"] = url
        return response

    def not_found(self, connection: Any) -> Response:
        response: Response = connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found")
        return response

    def match(self, connection: Any, request: Request) -> Tuple[Callable[..., Any], dict[str, Any]]:
        """The handler and keyword arguments of ``request``'s path. Raises
        werkzeug's ``NotFound`` or ``RequestRedirect`` (``KeyError`` for a
        plain mapping)."""
        parsed = urllib.parse.urlparse(request.path)
        if isinstance(self.url_map, Mapping):
            return self.url_map[parsed.path], {}
        adapter = self.url_map.bind(
            server_name=self.get_server_name(connection, request),
            url_scheme=self.url_scheme,
        )
        handler, kwargs = adapter.match(path_info=parsed.path, query_args=parsed.query)
        return handler, dict(kwargs)

    def route_request(self, connection: Any, request: Request) -> Optional[Response]:
        """``process_request``: 404 or a redirect for a path that matches
        no handler, None (go on) for one that does."""
        try:
            self.match(connection, request)
        except KeyError:
            return self.not_found(connection)
        except Exception as error:  # werkzeug's routing exceptions
            new_url = getattr(error, "new_url", None)
            if new_url is not None:
                return self.redirect(connection, str(new_url))
            if getattr(error, "code", None) == 404:
                return self.not_found(connection)
            raise
        return None

    def handler_and_kwargs(self, connection: Any) -> Tuple[Callable[..., Any], dict[str, Any]]:
        request = connection.request
        if request is None:  # pragma: no cover - servers always have one
            raise RuntimeError("a routed connection has no request")
        return self.match(connection, request)


def make_route(serve: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """``route()`` for the ``serve`` of ``wsx.asyncio`` or ``wsx.sync``."""

    def route(
        url_map: Any,
        *args: Any,
        server_name: Optional[str] = None,
        ssl: Any = None,
        create_router: Optional[Callable[..., Router]] = None,
        **kwargs: Any,
    ) -> Any:
        """Starts a server dispatching each connection to the handler its
        path matches in ``url_map`` (a ``werkzeug.routing.Map``, or a mapping
        of exact paths to handlers). Arguments as ``serve``, except:
        ``server_name`` (the name clients see, for redirects; default the
        ``Host`` header), ``ssl=True`` (``wss://`` redirect URLs behind a
        proxy that terminates TLS; wsx's own TLS is ``cert_file=`` /
        ``key_file=``), ``create_router`` (a :class:`Router` subclass). A
        ``process_request`` given here runs first; when it returns None the
        router decides. Handlers get the connection and the URL's parameters
        as keyword arguments."""
        url_scheme = "ws" if ssl is None else "wss"
        if ssl is not True and ssl is not None:
            kwargs["ssl"] = ssl
        router = (create_router or Router)(url_map, server_name, url_scheme)
        own = kwargs.pop("process_request", None)
        if own is None:
            process_request: Callable[..., Any] = router.route_request
        elif is_async:

            async def process_request(connection: Any, request: Request) -> Any:
                response = own(connection, request)
                if hasattr(response, "__await__"):
                    response = await response
                if response is not None:
                    return response
                return router.route_request(connection, request)

        else:

            def process_request(connection: Any, request: Request) -> Any:
                response = own(connection, request)
                if response is not None:
                    return response
                return router.route_request(connection, request)

        if is_async:

            async def handler(connection: Any) -> Any:
                target, params = router.handler_and_kwargs(connection)
                return await target(connection, **params)

        else:

            def handler(connection: Any) -> Any:  # type: ignore[misc]
                target, params = router.handler_and_kwargs(connection)
                return target(connection, **params)

        return serve(handler, *args, process_request=process_request, **kwargs)

    return route


def module(name: str, route: Callable[..., Any]) -> types.ModuleType:
    """A ``router`` submodule (``wsx.asyncio.router``) holding ``route`` and
    :class:`Router`, as websockets has."""
    mod = types.ModuleType(name, "Routing by path (see wsx._router).")
    mod.route = route  # type: ignore[attr-defined]
    mod.Router = Router  # type: ignore[attr-defined]
    mod.__all__ = ["route", "Router"]  # type: ignore[attr-defined]
    return mod
