"""Options: the defaults are the core's, and the core's rules refuse bad
values with the same error kind as in C and C# (InvalidArgument, a
ValueError), the message naming the option."""

from __future__ import annotations

import inspect
import sys
from typing import Any, Callable

import pytest

import wsx
import wsx.asyncio
from wsx import _wsx
from conftest import wsx_echo, wsx_server

# The parameter of the public API -> the attribute of the native defaults.
DEFAULTED = ["open_timeout", "ping_interval", "ping_timeout", "close_timeout", "max_size"]


@pytest.mark.parametrize(
    "function", [wsx.sync.connect, wsx.sync.serve, wsx.asyncio.connect, wsx.asyncio.serve]
)
def test_signature_defaults_are_the_cores(function: Callable[..., Any]) -> None:
    native = _wsx.defaults()
    parameters = inspect.signature(function).parameters
    for name in DEFAULTED:
        assert parameters[name].default == getattr(native, name), name
    if "host" in parameters:
        assert parameters["host"].default == native.host
        assert parameters["port"].default == native.port


def test_native_defaults_match_the_documented_table() -> None:
    d = _wsx.defaults()
    # Sanity only (the values themselves live in wsx_core::defaults).
    assert d.ping_interval > 0 and d.ping_timeout > 0 and d.close_timeout > 0
    assert d.max_size > 0 and d.max_connections > 0
    assert "Defaults(" in repr(d)


BAD_CLIENT_OPTIONS = [
    ({"ping_interval": 0}, "keepalive.interval must be more than 0 ms"),
    ({"ping_timeout": 0}, "keepalive.timeout must be more than 0 ms"),
    ({"close_timeout": 0}, "close_timeout must be more than 0 ms"),
    ({"open_timeout": 0}, "connect_timeout must be more than 0 ms"),
    ({"max_size": 0}, "protocol.max_message_size must be more than 0"),
    ({"additional_headers": {"X Bad": "1"}}, 'header name "X Bad" is not an HTTP token'),
    ({"additional_headers": {"X-A": "1\r\nX-B: 2"}}, 'the value of header "X-A" contains'),
    ({"subprotocols": ["a b"]}, 'subprotocols: "a b" is not an HTTP token'),
    ({"origin": "https://a\n"}, "origin"),
]


@pytest.mark.parametrize("options,message", BAD_CLIENT_OPTIONS)
def test_bad_client_options_are_refused_by_the_core(options: dict[str, Any], message: str) -> None:
    with pytest.raises(wsx.InvalidArgument) as info:
        wsx.sync.connect("ws://127.0.0.1:9/", **options)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_server_options_are_refused_by_the_core() -> None:
    with pytest.raises(wsx.InvalidArgument, match="max_connections must be more than 0"):
        wsx.sync.serve(wsx_echo, max_connections=0)
    with pytest.raises(wsx.InvalidArgument, match="keepalive.interval must be more than 0 ms"):
        wsx.sync.serve(wsx_echo, ping_interval=0)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"factor": float("nan")}, "reconnect.factor must be a finite number of at least 1, not NaN"),
        ({"factor": 0.5}, "reconnect.factor must be a finite number of at least 1, not 0.5"),
        ({"initial_delay": 3.0, "max_delay": 2.0}, "reconnect.initial_delay (3000 ms) must not exceed"),
    ],
)
def test_bad_reconnect_policies_are_refused_by_the_core(options: dict[str, Any], message: str) -> None:
    with pytest.raises(wsx.InvalidArgument) as info:
        wsx.Reconnect(**options)
    assert message in str(info.value)


def test_a_refusal_is_400_to_599_with_valid_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same values C and C# refuse: status 200 and 600, a header name with
    a space, a value with a line break. The hook's answer is refused by the
    core (InvalidArgument, reported like any exception of the hook) and the
    handshake gets a 500, never the status or header that was asked."""
    raised: list[BaseException] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: raised.append(u.exc_value))
    answers = {
        "/200": (200, "no"),
        "/600": 600,
        "/space": (401, "no", {"X Bad": "1"}),
        "/crlf": (401, "no", [("X-A", "1\r\nX-B: 2")]),
        "/reserved": (401, "no", {"Content-Length": "0"}),
    }

    def process_request(conn: wsx.sync.ServerConnection, request: wsx.Request) -> Any:
        return answers[request.path]

    with wsx_server(wsx_echo, process_request=process_request) as server:
        for path in answers:
            with pytest.raises(wsx.InvalidStatus) as info:
                wsx.sync.connect(f"ws://127.0.0.1:{server.port}{path}")
            assert info.value.status == 500, path
    assert len(raised) == len(answers)
    assert all(isinstance(e, wsx.InvalidArgument) for e in raised), raised
    messages = [str(e) for e in raised]
    assert "refusal status 200 is not in 400-599" in messages[0]
    assert "refusal status 600 is not in 400-599" in messages[1]
    assert 'header name "X Bad" is not an HTTP token' in messages[2]
    assert 'the value of header "X-A" contains CR, LF' in messages[3]
    assert 'header "Content-Length" is set by the handshake itself' in messages[4]
