"""Ctrl-C during blocking calls, and connections dropped without close()."""

from __future__ import annotations

import _thread
import gc
import inspect
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from typing import Iterator

import pytest

import wsx
from conftest import Recorder, silent_server, wsx_echo, wsx_server


# Python's own SIGINT handler, whatever this process inherited: a shell starts
# background jobs with SIGINT ignored, and Python then leaves it ignored, so
# Ctrl-C (and _thread.interrupt_main) would do nothing and a wait for it would
# never end. The first line of the child script below does the same.
RAISE_ON_SIGINT = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)"


@pytest.fixture(autouse=True)
def sigint_raises() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_when_blocked() -> threading.Thread:
    """Starts a thread that interrupts the main thread, as Ctrl-C does, once the
    calling test has stayed 0.2 s on its line marked ``# interrupted here`` (a
    fixed timer can fire before the call blocks, on a loaded machine)."""
    code = sys._getframe(1).f_code
    lines, first = inspect.getsourcelines(code)
    line = first + next(i for i, text in enumerate(lines) if "# interrupted here" in text)
    main = threading.main_thread().ident
    assert main is not None

    def run() -> None:
        steady, deadline = 0, time.monotonic() + 30
        while steady < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
            frame = sys._current_frames().get(main)
            at_line = frame is not None and frame.f_code is code and frame.f_lineno == line
            steady = steady + 1 if at_line else 0
        if steady == 4:
            _thread.interrupt_main()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_keyboard_interrupt_during_recv() -> None:
    with wsx_server(wsx_echo) as server, wsx.sync.connect(f"ws://127.0.0.1:{server.port}/") as ws:
        interrupter = interrupt_when_blocked()
        with pytest.raises(KeyboardInterrupt):
            ws.recv()  # interrupted here: no timeout, only the interrupt ends it
        interrupter.join()
        ws.send("still usable")
        assert ws.recv(timeout=5) == "still usable"


def test_pong_wait_timeout_and_interrupt() -> None:
    with silent_server() as port:
        ws = wsx.sync.connect(f"ws://127.0.0.1:{port}/", close_timeout=0.5)
        waiter = ws.ping(b"unanswered")
        with pytest.raises(TimeoutError):
            waiter.wait(timeout=0.3)
        assert not waiter.done()
        interrupter = interrupt_when_blocked()
        with pytest.raises(KeyboardInterrupt):
            waiter.wait()  # interrupted here
        interrupter.join()
        ws.close()  # the peer never answers: dropped after close_timeout
        assert ws.close_code == 1006
        with pytest.raises(wsx.ConnectionClosedError):
            waiter.wait()


def test_sigint_to_a_blocked_process() -> None:
    with wsx_server(wsx_echo) as server:
        script = textwrap.dedent(
            f"""
            import sys, wsx; {RAISE_ON_SIGINT}
            ws = wsx.sync.connect("ws://127.0.0.1:{server.port}/")
            try:
                print("ready", flush=True)
                ws.recv()  # line 6 of this script
            except KeyboardInterrupt as exc:
                print("interrupted at line", exc.__traceback__.tb_lineno, flush=True)
                sys.exit(42)
            """
        )
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(0.5)  # let it block in recv (the line check below makes sure)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 42
            assert proc.stdout.read().strip() == "interrupted at line 6"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_ctrl_c_in_serve_forever_waits_for_the_server_threads() -> None:
    """Ctrl-C reaching the main thread in a sync server's serve_forever shuts
    the server down and returns only once its threads are done, so the
    process then exits cleanly (on Python before 3.13 an interrupted
    Thread.join marks a running thread dead: the interpreter finalized under
    the acceptor, which aborted with "FATAL: exception not rethrown")."""
    script = textwrap.dedent(
        f"""
        import signal, threading, wsx; {RAISE_ON_SIGINT}
        def echo(ws):
            for message in ws:
                ws.send(message)
        left = []
        for _ in range(3):
            with wsx.sync.serve(echo, "127.0.0.1", 0) as server:
                main = threading.main_thread().ident
                threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT)).start()
                try:
                    server.serve_forever()
                except KeyboardInterrupt:
                    pass
            left += [t.name for t in threading.enumerate() if t.name.startswith("wsx-")]
        print("threads left:", left, flush=True)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "threads left: []", "")


def test_a_process_ending_with_threads_blocked_in_wsx_exits_cleanly() -> None:
    """A script that ends without shutting its server down or closing its
    client, with a server's threads and a daemon thread reading the client
    blocked in wsx: the exit closes them, and each thread that then wakes
    while the interpreter finalizes is parked, not killed by an unwinding
    across Rust frames (which aborted: "FATAL: exception not rethrown")."""
    script = textwrap.dedent(
        """
        import threading, time, wsx
        def echo(ws):
            for message in ws:
                ws.send(message)
        server = wsx.sync.serve(echo, "127.0.0.1", 0)
        ws = wsx.sync.connect(f"ws://127.0.0.1:{server.port}/")
        ws.send("hi")
        assert ws.recv(timeout=10) == "hi"
        def read():
            for message in ws:
                pass
        threading.Thread(target=read, daemon=True).start()
        time.sleep(0.1)
        print("done", flush=True)
        """
    )
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "done", "")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts file descriptors through /proc")
def test_unclosed_connections_are_collected() -> None:
    seen = Recorder()

    def handler(ws: wsx.sync.ServerConnection) -> None:
        try:
            for message in ws:
                ws.send(message)
        finally:
            seen.events.put(("closed", ws.close_code))

    with wsx_server(handler) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        # Warm up: the native loop, its thread and the server exist already.
        with wsx.sync.connect(url) as ws:
            ws.send("warm")
            assert ws.recv(timeout=5) == "warm"
        assert seen.get() == ("closed", 1000)
        baseline = open_fds()

        refs = []
        for i in range(20):
            ws = wsx.sync.connect(url)
            ws.send(f"m{i}")
            assert ws.recv(timeout=5) == f"m{i}"
            pong = ws.ping(b"x")  # a waiter outliving its connection object
            refs.append(weakref.ref(ws))
            del ws
            gc.collect()
            pong.wait(timeout=10)
        assert all(r() is None for r in refs)
        # Each dropped connection was closed with 1001 (going away).
        assert [seen.get() for _ in range(20)] == [("closed", 1001)] * 20
        deadline = time.monotonic() + 10
        while open_fds() > baseline and time.monotonic() < deadline:
            time.sleep(0.05)
        assert open_fds() <= baseline


def test_server_object_collected_without_shutdown() -> None:
    server = wsx.sync.serve(wsx_echo, "127.0.0.1", 0)
    port = server.port
    ws = wsx.sync.connect(f"ws://127.0.0.1:{port}/")
    ws.send("x")
    assert ws.recv(timeout=5) == "x"
    server.shutdown()
    del server
    gc.collect()
    with pytest.raises(wsx.ConnectionClosed):
        ws.recv(timeout=10)


def test_send_waits_under_backpressure_until_closed() -> None:
    total, size = 48, 1 << 20  # far past the send queue's high-water mark (17 MiB)
    with silent_server() as port:
        ws = wsx.sync.connect(f"ws://127.0.0.1:{port}/", close_timeout=0.5)
        sent: list[int] = []
        outcome: list[BaseException] = []

        def flood() -> None:
            try:
                for i in range(total):
                    ws.send(b"\x00" * size)
                    sent.append(i)
            except BaseException as exc:
                outcome.append(exc)

        thread = threading.Thread(target=flood)
        thread.start()
        thread.join(2)
        assert thread.is_alive()  # blocked in send: the peer reads nothing
        assert len(sent) < total
        ws.close()  # releases the blocked sender
        thread.join(10)
        assert not thread.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], wsx.ConnectionClosed)
