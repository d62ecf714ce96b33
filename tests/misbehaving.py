"""Small HTTP servers on loopback that misbehave on purpose, and helpers to run the CLI at them.

Every server listens on 127.0.0.1 only, serves each connection in a daemon
thread, and stops by itself after ``lifetime`` seconds if the test does not
stop it first; a handler that "hangs" waits only until the server stops. No
test that uses this module talks to anything but loopback: the CLI runs in a
subprocess with ``loopback_guard/`` on its PYTHONPATH, whose sitecustomize
makes every host name other than localhost and loopback addresses fail to
resolve (as a ``.invalid`` name would) without sending a DNS query.

- :class:`LoopbackServer`: the socket server; a handler ``(conn, request) -> keep``
  answers each request (True keeps the connection for the next one).
- :class:`FakeTarget`: a handler conformant enough for the AUTH checks, the
  token endpoint and the SCOPE checks, with per-request overrides
  (``target.when(predicate, handler)``) to make one kind of request misbehave.
- ``hang``, ``reset``, ``truncated``, ``html``, ``not_json``, ``huge``,
  ``redirect``, ``throttle``, ``drip``: misbehaviours to plug in.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LOOPBACK = "127.0.0.1"
GUARD_DIR = Path(__file__).parent / "loopback_guard"
CLI = [sys.executable, "-m", "conformance"]

TENANT = "eu-west-2_FakeTenant1"
SECRET = "fake-SECRET/value+4b1d=9e7a"  # with characters that URL- and form-encoding change
ASSIGNMENT_ID = "12347d805d8ecbf46f5b5278"
ENROLMENT_ID = "63f57d805d8ecbf46f5b5278"
ID = re.compile(r"^[0-9a-f]{24}$")
ENROLMENT_PATH = re.compile(r"^/rest/v1/assignments/([^/?]*)/enrolments/([^/?]*)$")
TOKEN_PATH = re.compile(r"^/oauth2/token/([^/?]*)$")


@dataclass
class Received:
    """One request as the server read it."""

    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float  # time.monotonic() when it was read

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


class Conn:
    """One accepted connection, with helpers to answer on it."""

    def __init__(self, sock: socket.socket, server: LoopbackServer) -> None:
        self.sock = sock
        self.server = server

    def send(self, data: bytes) -> bool:
        """Send bytes; False when the client has gone."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def respond(
        self,
        status: int,
        body: bytes | str | dict | list = b"",
        headers: dict[str, str] | None = None,
        content_type: str | None = "application/json",
        head: bool = False,
    ) -> bool:
        if isinstance(body, dict | list):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Content-Length: {len(body)}"]
        if content_type and body:
            lines.append(f"Content-Type: {content_type}")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        echoed = getattr(self, "echo_headers", None)
        lines += [f"{name}: {value}" for name, value in (echoed or {}).items()]
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else body)
        return self.send(payload)

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


Handler = Callable[[Conn, Received], bool]
REASONS = {
    200: "OK",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class LoopbackServer:
    """An HTTP/1.1 server on 127.0.0.1 that answers with a handler; a context manager."""

    def __init__(
        self, handler: Handler, *, tls: ssl.SSLContext | None = None, lifetime: float = 60.0
    ) -> None:
        self.handler = handler
        self.tls = tls
        self.lifetime = lifetime
        self.received: list[Received] = []
        self.connections = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{LOOPBACK}:{self.port}"

    @property
    def netloc(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2)
        self._listener.close()

    def _accept_loop(self) -> None:
        deadline = time.monotonic() + self.lifetime
        while not self.stopping.is_set():
            if time.monotonic() > deadline:  # stops by itself
                threading.Thread(target=self.stop, daemon=True).start()
                return
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(5.0)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if self.tls is not None:
                try:
                    sock = self.tls.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError):
                    return  # the client refused our certificate
                with self._lock:
                    self._socks.append(sock)
            conn = Conn(sock, self)
            buffer = b""
            while not self.stopping.is_set():
                request, buffer = self._read_request(sock, buffer)
                if request is None:
                    return
                with self._lock:
                    self.received.append(request)
                if not self.handler(conn, request):
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    @staticmethod
    def _read_request(sock: socket.socket, buffer: bytes) -> tuple[Received | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > 65536:
                return None, b""
            chunk = sock.recv(65536)
            if not chunk:
                return None, b""
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*lines[0].split(" "), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(buffer) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return None, b""
            buffer += chunk
        body, buffer = buffer[:length], buffer[length:]
        parts = urlsplit(target)
        return Received(method, parts.path, parts.query, headers, body, time.monotonic()), buffer


# --- a target that answers like the contract says --------------------------------------------


def enrolment_body(assignment_id: str = ASSIGNMENT_ID, enrolment_id: str = ENROLMENT_ID) -> dict:
    return {
        "id": enrolment_id,
        "userId": "63feb359efcdc6f51a621bcd",
        "assignmentId": assignment_id,
        "audienceId": "63feb36222c0c0685b9d1eb7",
        "primaryContentId": "63feb366c1fcc8d6a4a8abc7",
        "status": "open",
        "availableDate": "2023-08-23T09:09:16.076Z",
        "dueDate": "2099-09-23T09:09:16.076Z",
        "eventLog": [
            {
                "type": "created",
                "previousStatus": "unassigned",
                "newStatus": "open",
                "createdAt": "2023-08-23T09:09:16.076Z",
                "updatedAt": "2023-08-23T09:09:16.076Z",
            }
        ],
        "updatedAt": "2023-08-23T09:09:16.076Z",
    }


@dataclass
class FakeTarget:
    """A handler answering the enrolment endpoint and the token endpoint, for one tenant.

    ``when(predicate, handler)`` makes the requests the predicate picks misbehave; the first
    matching override answers. ``issued`` lists every access token handed out.
    """

    tenant: str = TENANT
    secret: str = SECRET
    echo: bool = False  # quote the request's Authorization and body back in every answer
    issued: dict[str, set[str]] = field(default_factory=dict)
    overrides: list[tuple[Callable[[Received], bool], Handler]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def when(self, predicate: Callable[[Received], bool], handler: Handler) -> FakeTarget:
        self.overrides.append((predicate, handler))
        return self

    def __call__(self, conn: Conn, request: Received) -> bool:
        if self.echo:  # quote the credentials back in headers too (a debugging proxy, a careless target)
            conn.echo_headers = {
                "X-Debug-Authorization": request.authorization or "-",
                "Set-Cookie": f"session={request.authorization}; HttpOnly",
                "X-Debug-Body": request.body.decode("utf-8", "replace")[:200] or "-",
            }
        for predicate, handler in self.overrides:
            if predicate(request):
                return handler(conn, request)
        return self.answer(conn, request)

    # what a conformant target says

    def answer(self, conn: Conn, request: Received) -> bool:
        token_path = TOKEN_PATH.match(request.path)
        if token_path:
            return self._token(conn, request, unquote(token_path.group(1)))
        match = ENROLMENT_PATH.match(request.path)
        if not match:
            return conn.respond(404, self._body({"error": "not found"}, request))
        if request.method not in ("GET", "HEAD"):
            return conn.respond(
                405, self._body({"error": "method not allowed"}, request), {"Allow": "GET, HEAD"}
            )
        scopes = self._scopes(request)
        if scopes is None:
            challenge = 'Basic realm="enrolments", Bearer realm="enrolments"'
            if (request.authorization or "").startswith("Bearer "):
                challenge = 'Basic realm="enrolments", Bearer realm="enrolments", error="invalid_token"'
            return conn.respond(
                401,
                self._body({"error": "unauthorized"}, request),
                {"WWW-Authenticate": challenge},
                head=request.method == "HEAD",
            )
        if not scopes & {"api/read", "api/all"}:
            return conn.respond(
                403, self._body({"error": "forbidden"}, request), head=request.method == "HEAD"
            )
        assignment_id, enrolment_id = (unquote(part) for part in match.groups())
        if not (ID.match(assignment_id) and ID.match(enrolment_id)):
            return conn.respond(
                422, self._body({"error": "malformed id"}, request), head=request.method == "HEAD"
            )
        if (assignment_id, enrolment_id) != (ASSIGNMENT_ID, ENROLMENT_ID):
            return conn.respond(
                404, self._body({"error": "not found"}, request), head=request.method == "HEAD"
            )
        return conn.respond(200, self._body(enrolment_body(), request), head=request.method == "HEAD")

    def _body(self, body: dict, request: Received) -> dict:
        if self.echo:
            body = {
                **body,
                "debug": {
                    "authorization": request.authorization,
                    "request_body": request.body.decode("utf-8", "replace"),
                    "message": f"request had Authorization {request.authorization}",
                },
            }
        return body

    def _scopes(self, request: Received) -> set[str] | None:
        """The scopes the request's credentials grant, or None when they are missing or wrong."""
        value = request.authorization or ""
        scheme, _, credentials = value.partition(" ")
        scheme = scheme.lower()  # RFC 9110 §11.1: auth scheme names are case-insensitive
        if scheme == "basic" and credentials == self.basic_payload:
            return {"api/all"}
        if scheme == "bearer":
            with self._lock:
                return self.issued.get(credentials)
        return None

    def new_token(self, n: int) -> str:
        """The n-th access token handed out (unique, opaque)."""
        return f"fake-ACCESS-token-{n}-{os.urandom(8).hex()}"

    @property
    def basic_payload(self) -> str:
        return base64.b64encode(f"{self.tenant}:{self.secret}".encode()).decode()

    def _token(self, conn: Conn, request: Received, path_tenant: str) -> bool:
        if request.method != "POST":
            return conn.respond(405, {"error": "method not allowed"}, {"Allow": "POST"})
        form = {key: values[0] for key, values in parse_qs(request.body.decode()).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if (request.authorization or "").startswith("Basic "):
            decoded = base64.b64decode(request.authorization.split(" ", 1)[1]).decode(errors="replace")
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.tenant or client_secret != self.secret or path_tenant != self.tenant:
            return conn.respond(
                401,
                self._body({"error": "invalid_client"}, request),
                {"WWW-Authenticate": 'Basic realm="token"'},
            )
        if form.get("grant_type") != "client_credentials":
            return conn.respond(400, {"error": "unsupported_grant_type"})
        requested = set(form.get("scope", "api/read").split())
        if not requested <= {"api/read", "api/write", "api/all", "api/webhooks"}:
            return conn.respond(400, {"error": "invalid_scope"})
        with self._lock:
            token = self.new_token(len(self.issued))
            self.issued[token] = requested
        body = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": " ".join(sorted(requested)),
        }
        return conn.respond(
            200, self._body(body, request), {"Cache-Control": "no-store", "Pragma": "no-cache"}
        )


# --- predicates ----------------------------------------------------------------------------------


def fixture_read(request: Received) -> bool:
    """A GET of the fixture enrolment with valid Basic credentials (AUTH-001's, the fixture read)."""
    valid = "Basic " + base64.b64encode(f"{TENANT}:{SECRET}".encode()).decode()
    return (
        request.path == f"/rest/v1/assignments/{ASSIGNMENT_ID}/enrolments/{ENROLMENT_ID}"
        and request.method == "GET"
        and request.authorization == valid
    )


def token_request(request: Received) -> bool:
    return request.path.startswith("/oauth2/token/")


def enrolment_request(request: Received) -> bool:
    return request.path.startswith("/rest/v1/assignments/")


def everything(request: Received) -> bool:
    return True


# --- misbehaviours -------------------------------------------------------------------------------


def hang(conn: Conn, request: Received) -> bool:
    """Accept the request and never answer (until the server stops)."""
    conn.server.stopping.wait(conn.server.lifetime)
    return False


def reset(conn: Conn, request: Received) -> bool:
    """Start an answer, then reset the connection mid-body."""
    conn.send(
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id": "63f5'
    )
    time.sleep(0.05)
    conn.reset()
    return False


def truncated(conn: Conn, request: Received) -> bool:
    """Promise 1000 bytes, send 10, close."""
    conn.send(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id": "6')
    return False


def html(status: int = 502) -> Handler:
    """An HTML error page, as a proxy in front of a broken target sends."""

    def handler(conn: Conn, request: Received) -> bool:
        page = f"<html><head><title>{status} Bad Gateway</title></head><body><h1>{status}</h1></body></html>"
        return conn.respond(status, page, content_type="text/html; charset=utf-8")

    return handler


def not_json(status: int = 200) -> Handler:
    """A body that claims to be JSON and is not."""

    def handler(conn: Conn, request: Received) -> bool:
        return conn.respond(
            status, b'{"id": "63f57d805d8ecbf46f5b5278", "status": ', content_type="application/json"
        )

    return handler


def huge(size: int = 50_000_000) -> Handler:
    """A body of `size` bytes, streamed in 64 KiB pieces until sent or the client goes away."""

    def handler(conn: Conn, request: Received) -> bool:
        if not conn.send(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n".encode()
        ):
            return False
        piece = b'{"pad": "' + b"x" * 65_000 + b'"},'
        sent = 0
        while sent < size and not conn.server.stopping.is_set():
            chunk = piece[: size - sent]
            if not conn.send(chunk):
                return False
            sent += len(chunk)
        return False

    return handler


def redirect(location: str, status: int = 307) -> Handler:
    def handler(conn: Conn, request: Received) -> bool:
        return conn.respond(status, b"", {"Location": location + request.path}, content_type=None)

    return handler


def throttle(times: int, retry_after: str = "0", then: Handler | None = None, status: int = 429) -> Handler:
    """Answer `status` with Retry-After to the first `times` requests it gets, then pass on to `then`."""
    count = {"n": 0}
    lock = threading.Lock()

    def handler(conn: Conn, request: Received) -> bool:
        with lock:
            count["n"] += 1
            throttled = count["n"] <= times
        if throttled or then is None:
            return conn.respond(status, {"error": "slow down"}, {"Retry-After": retry_after})
        return then(conn, request)

    return handler


def drip(interval: float = 0.2) -> Handler:
    """Send the headers, then one byte of body every `interval` seconds."""

    def handler(conn: Conn, request: Received) -> bool:
        if not conn.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        ):
            return False
        while not conn.server.stopping.wait(interval):
            if not conn.send(b" "):
                return False
        return False

    return handler


# --- running the CLI at a target -----------------------------------------------------------------


def write_config(
    directory: Path,
    base_url: str,
    token_url: str | None = None,
    *,
    tenant: str = TENANT,
) -> Path:
    """A suite config for a fake target with its one fixture enrolment."""
    lines = ["[target]", f'base_url = "{base_url}"']
    if token_url:
        lines.append(f'token_url = "{token_url}"')
    lines += [
        "",
        "[credentials]",
        f'tenant_id = "{tenant}"',
        'api_secret_env = "FAKE_TARGET_SECRET"',
        "",
        "[[fixtures.enrolments]]",
        f'assignment_id = "{ASSIGNMENT_ID}"',
        f'enrolment_id = "{ENROLMENT_ID}"',
        'status = "open"',
    ]
    path = directory / "target.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """In this process too: host names other than localhost fail to resolve, nothing leaves loopback."""
    real = socket.getaddrinfo
    spec = importlib.util.spec_from_file_location("_loopback_guard", GUARD_DIR / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    guard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guard)  # installs itself
    try:
        yield
    finally:
        socket.getaddrinfo = real


def cli_main(*args: str) -> tuple[int, str, str]:
    """Run `enrolment-conformance ARGS` in this process (for runs that end before any request)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from conformance.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = ["enrolment-conformance", *args]
    try:
        with redirect_stdout(out), redirect_stderr(err), loopback_only():
            try:
                code = main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    return code, out.getvalue(), err.getvalue()


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    reports: Path
    max_rss_kb: int = 0

    @property
    def error_line(self) -> str:
        """The last line on stderr (the one-line reason of a non-zero exit)."""
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""

    def results(self) -> dict:
        return json.loads((self.reports / "results.json").read_text(encoding="utf-8"))

    def outcomes(self) -> dict[str, str]:
        return {r["id"]: r["outcome"] for r in self.results()["requirements"]}

    def messages(self, requirement: str) -> str:
        return " | ".join(
            r for req in self.results()["requirements"] if req["id"] == requirement for r in req["messages"]
        )

    def reports_written(self) -> bool:
        return all((self.reports / name).is_file() for name in ("results.json", "junit.xml", "report.html"))


def guarded_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI subprocess: the loopback guard, the fake secret, no proxies."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.pop("PYTEST_ADDOPTS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(GUARD_DIR), env.get("PYTHONPATH"))))
    env["FAKE_TARGET_SECRET"] = SECRET
    env.update(extra or {})
    return env


@contextlib.contextmanager
def served(config: Path, *faults: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`enrolment-conformance serve --write-config CONFIG` with faults, listening; stopped with SIGINT."""
    fault_args = [arg for fault in faults for arg in ("--fault", fault)]
    server = subprocess.Popen(
        [*CLI, "serve", "--port", "0", *fault_args, "--write-config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=guarded_env(env),
    )
    try:
        deadline = time.monotonic() + 30
        while not _listening(config) and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        assert _listening(config), server.stderr.read() if server.poll() is not None else "serve is not up"
        yield server
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)


def _listening(config: Path) -> bool:
    """serve wrote its config (just before it listens) and its port takes connections."""
    if not config.exists():
        return False
    url = urlsplit(tomllib.loads(config.read_text())["target"]["base_url"])
    with contextlib.suppress(OSError), socket.create_connection((url.hostname, url.port), timeout=1):
        return True
    return False


def run_cli(
    *args: str,
    reports: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    measure_rss: bool = False,
) -> CliRun:
    """Run `enrolment-conformance run ARGS --reports REPORTS` in a subprocess, timed."""
    command = [*CLI, "run", *args, "--reports", str(reports)]
    if measure_rss:  # run it under a small wrapper that reports the child's peak RSS on its last stderr line
        wrapper = (
            "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
            "print('maxrss', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
            "sys.exit(p.returncode)"
        )
        command = [sys.executable, "-c", wrapper, *command]
    started = time.monotonic()
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=guarded_env(env),
        stdin=subprocess.DEVNULL,
    )
    seconds = time.monotonic() - started
    stderr, rss = proc.stderr, 0
    if measure_rss:
        lines = stderr.rstrip("\n").split("\n")
        rss = int(lines[-1].split()[1])
        stderr = "\n".join(lines[:-1]) + "\n"
    return CliRun(proc.returncode, proc.stdout, stderr, seconds, reports, rss)
