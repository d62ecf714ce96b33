"""Running the reference target: in a child process, in the foreground, and pointing the suite at it.

* :func:`main` (``python -m conformance.reference``) binds the socket, prints one
  JSON line with the URLs and serves until SIGTERM or SIGINT. The tenants'
  secrets come from the environment (ENROLMENT_API_SECRET and
  ENROLMENT_OTHER_API_SECRET), never from the command line.
* :class:`ReferenceServer` runs :func:`main` in a child process on a free
  loopback port, for the CLI and the tests.
* :func:`serve` is ``enrolment-conformance serve``: the target in the foreground.
* :func:`config_toml` and :func:`reference_settings` describe a running target
  to the suite, as a config file or as Settings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_urlsafe
from types import TracebackType
from typing import IO

import uvicorn
from starlette.applications import Starlette

import conformance
from conformance.config import (
    DEFAULT_OTHER_SECRET_ENV,
    DEFAULT_SECRET_ENV,
    Credentials,
    FixtureEnrolment,
    Settings,
    Target,
)
from conformance.reference.app import create_app
from conformance.reference.data import TENANT_A, TENANT_B, Fixture
from conformance.reference.faults import FAULTS, UnknownFault, checked
from conformance.reference.mutations import dataset
from conformance.toml_text import toml_string

LOOPBACK = "127.0.0.1"
SECRET_ENVS = {TENANT_A: DEFAULT_SECRET_ENV, TENANT_B: DEFAULT_OTHER_SECRET_ENV}
STARTUP_TIMEOUT = 15.0  # seconds to wait for the child's ready line
STOP_TIMEOUT = 5.0  # seconds to wait for the child to exit after SIGTERM, before SIGKILL


@dataclass(frozen=True)
class Endpoints:
    """Where a running reference target answers (token URLs are templates with ``{tenantId}``)."""

    base_url: str
    token_url: str
    webhooks_token_url: str

    @classmethod
    def at(cls, host: str, port: int) -> Endpoints:
        """The endpoints of a target listening on host:port."""
        origin = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        return cls(
            f"{origin}/rest/v1",
            f"{origin}/oauth2/token/{{tenantId}}",
            f"{origin}/webhooks/oauth2/token/{{tenantId}}",
        )


@dataclass(frozen=True)
class Fixtures:
    """The enrolments of each tenant that a suite config names."""

    tenant: tuple[Fixture, ...]
    other_tenant: tuple[Fixture, ...]

    @classmethod
    def of(cls, faults: Collection[str]) -> Fixtures:
        """The fixtures of a reference target running with these faults."""
        data = dataset(datetime.now(UTC), faults)
        return cls(data.fixtures(TENANT_A), data.fixtures(TENANT_B))


def config_toml(endpoints: Endpoints, fixtures: Fixtures, faults: Collection[str] = ()) -> str:
    """A suite config file (TOML) for a running reference target; secrets are named, never written."""

    lines = [
        "# enrolment-conformance config for the bundled reference target on loopback.",
        f"# Faults switched on: {', '.join(faults) or 'none'}.",
        f"# Export the API secrets in {DEFAULT_SECRET_ENV} and {DEFAULT_OTHER_SECRET_ENV} before a run.",
        "",
        "[target]",
        f"base_url = {toml_string(endpoints.base_url)}",
        f"token_url = {toml_string(endpoints.token_url)}",
        f"webhooks_token_url = {toml_string(endpoints.webhooks_token_url)}",
        "",
        "[credentials]",
        f"tenant_id = {toml_string(TENANT_A)}",
        f"api_secret_env = {toml_string(DEFAULT_SECRET_ENV)}",
        "",
        "[credentials.other_tenant]",
        f"tenant_id = {toml_string(TENANT_B)}",
        f"api_secret_env = {toml_string(DEFAULT_OTHER_SECRET_ENV)}",
    ]
    for fixture in fixtures.tenant:
        lines += [
            "",
            "[[fixtures.enrolments]]",
            f"assignment_id = {toml_string(fixture.assignment_id)}",
            f"enrolment_id = {toml_string(fixture.enrolment_id)}",
            f"status = {toml_string(fixture.status)}",
        ]
    for fixture in fixtures.other_tenant:
        lines += [
            "",
            "[[fixtures.other_tenant_enrolments]]",
            f"assignment_id = {toml_string(fixture.assignment_id)}",
            f"enrolment_id = {toml_string(fixture.enrolment_id)}",
        ]
    return "\n".join(lines) + "\n"


class ReferenceServer:
    """The reference target in a child process on a free loopback port (a context manager).

    The secrets reach the child only through its environment; random ones are
    generated when none are given. ``environ`` holds them under the variable
    names the suite's config uses.
    """

    def __init__(
        self,
        faults: Sequence[str] = (),
        secrets: Mapping[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        retry_after: str = "0",
    ) -> None:
        checked(faults)
        self.faults = tuple(faults)
        self.retry_after = retry_after  # what the throttling faults send as Retry-After
        self.secrets = dict(secrets) if secrets else {tenant: token_urlsafe(24) for tenant in SECRET_ENVS}
        if set(self.secrets) != set(SECRET_ENVS):
            raise ValueError(f"secrets must be given for exactly {', '.join(SECRET_ENVS)}")
        self.fixtures = Fixtures.of(self.faults)
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._endpoints: Endpoints | None = None
        self._stderr: IO[bytes] | None = None  # the child's stderr until its ready line is read
        self._started = 0.0  # time.monotonic() when the child was started

    @property
    def environ(self) -> dict[str, str]:
        """The secrets as environment variables (name -> secret), as the suite reads them."""
        return {SECRET_ENVS[tenant]: secret for tenant, secret in self.secrets.items()}

    @property
    def pid(self) -> int | None:
        """The child's process ID while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def endpoints(self) -> Endpoints:
        """The running target's URLs (RuntimeError before it has started)."""
        if self._endpoints is not None:
            return self._endpoints
        if self._stderr is None:
            raise RuntimeError("the reference server is not running")
        return self._await_ready()

    @property
    def base_url(self) -> str:
        return self.endpoints.base_url

    @property
    def token_url(self) -> str:
        return self.endpoints.token_url

    @property
    def webhooks_token_url(self) -> str:
        return self.endpoints.webhooks_token_url

    def __enter__(self) -> ReferenceServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, wait: bool = True) -> None:
        """Start the child and wait for its ready line (RuntimeError if it does not come in time).

        With wait=False the child starts and the ready line is awaited on the first use of the
        endpoints, so that the caller's own start-up (imports, collection) overlaps the child's.
        """
        package_root = str(Path(conformance.__file__).resolve().parent.parent)
        python_path = os.pathsep.join(filter(None, (package_root, os.environ.get("PYTHONPATH"))))
        env = {**os.environ, **self.environ, "PYTHONPATH": python_path}
        args = [sys.executable, "-m", "conformance.reference", "--host", LOOPBACK, "--port", "0"]
        for fault in self.faults:
            args += ["--fault", fault]
        args += ["--retry-after", self.retry_after]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 -- closed on the ready line, or by stop()
        self._process = subprocess.Popen(
            args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self._started = time.monotonic()
        if wait:
            self._await_ready()

    def _await_ready(self) -> Endpoints:
        """The endpoints from the child's ready line, read once (the child is stopped if it fails)."""
        assert self._stderr is not None
        with self._stderr as stderr:
            self._stderr = None
            try:
                self._endpoints = Endpoints(**json.loads(self._ready_line()))
            except (RuntimeError, ValueError, TypeError) as exc:
                self.stop()
                stderr.seek(0)
                detail = stderr.read().decode(errors="replace").strip().splitlines()
                reason = detail[-1] if detail else exc
                raise RuntimeError(f"the reference target did not start: {reason}") from None
        return self._endpoints

    def _ready_line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        timeout = max(0.0, self._started + self.startup_timeout - time.monotonic())
        readable, _, _ = select.select([self._process.stdout], [], [], timeout)
        if not readable:
            raise RuntimeError(f"no ready line within {self.startup_timeout:g} s")
        line = self._process.stdout.readline().decode()
        if not line:
            raise RuntimeError(f"the child exited with code {self._process.wait()}")
        return line

    def terminate(self) -> None:
        """Ask the child to exit (SIGTERM) without waiting: stop() then waits for it (and kills it if it
        lingers), while the caller goes on with work that no longer needs the target."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL if it lingers) and wait for it."""
        process, self._process, self._endpoints = self._process, None, None
        if self._stderr is not None:  # stopped before its ready line was read
            self._stderr.close()
            self._stderr = None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


def reference_settings(server: ReferenceServer) -> Settings:
    """The suite Settings for a running ReferenceServer (what its config_toml says, plus the secrets)."""
    endpoints = server.endpoints
    return Settings(
        target=Target(endpoints.base_url, endpoints.token_url, endpoints.webhooks_token_url),
        tenant=Credentials(TENANT_A, server.secrets[TENANT_A], SECRET_ENVS[TENANT_A]),
        other_tenant=Credentials(TENANT_B, server.secrets[TENANT_B], SECRET_ENVS[TENANT_B]),
        fixtures=tuple(FixtureEnrolment(*fixture) for fixture in server.fixtures.tenant),
        other_tenant_fixtures=tuple(
            FixtureEnrolment(f.assignment_id, f.enrolment_id) for f in server.fixtures.other_tenant
        ),
        reference=True,
        faults=server.faults,
    )


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    # Accepted connections inherit TCP_NODELAY. Without it, uvicorn's separate writes of
    # headers and body meet the client's delayed ACK and every response takes ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _run(app: Starlette, sock: socket.socket) -> None:
    """Serve on the bound socket until SIGTERM or SIGINT."""
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it shut down on
        uvicorn.Server(config).run(sockets=[sock])


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m conformance.reference``: print the URLs as one JSON line, then serve."""
    parser = argparse.ArgumentParser(
        prog="python -m conformance.reference",
        description="Serve the reference target. Secrets are read from "
        f"{DEFAULT_SECRET_ENV} (tenant {TENANT_A}) and {DEFAULT_OTHER_SECRET_ENV} (tenant {TENANT_B}).",
    )
    parser.add_argument("--host", default=LOOPBACK, help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME", help="switch on a fault")
    parser.add_argument(
        "--retry-after", default="0", metavar="S", help="Retry-After of the throttling faults (default: 0)"
    )
    args = parser.parse_args(argv)
    try:
        faults = checked(args.fault)
    except UnknownFault as exc:
        print(exc, file=sys.stderr)
        return 2
    missing = [env for env in SECRET_ENVS.values() if not os.environ.get(env)]
    if missing:
        print(f"set {' and '.join(missing)} to the tenants' API secrets", file=sys.stderr)
        return 2
    secrets = {tenant: os.environ[env] for tenant, env in SECRET_ENVS.items()}
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(json.dumps(asdict(Endpoints.at(args.host, sock.getsockname()[1]))), flush=True)
    _run(create_app(secrets, faults, retry_after=args.retry_after), sock)
    return 0


def serve(port: int, faults: Sequence[str], write_config: Path | None) -> int:
    """``enrolment-conformance serve``: the reference target in the foreground on loopback until Ctrl+C.

    Prints the URLs, tenants and secret variable names; when a secret variable
    is not set it generates a throwaway secret and prints its ``export`` line
    (otherwise secret values are never printed). Returns the exit code.
    """
    try:
        active = checked(faults)
    except UnknownFault as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    generated = {env: token_urlsafe(24) for env in SECRET_ENVS.values() if not os.environ.get(env)}
    secrets = {tenant: os.environ.get(env) or generated[env] for tenant, env in SECRET_ENVS.items()}
    try:
        sock = _listen(LOOPBACK, port)
    except OSError as exc:
        print(f"error: cannot listen on {LOOPBACK}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    endpoints = Endpoints.at(LOOPBACK, sock.getsockname()[1])
    if write_config is not None:
        try:
            write_config.write_text(config_toml(endpoints, Fixtures.of(faults), faults))
        except OSError as exc:
            sock.close()
            print(f"error: cannot write {write_config}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    print(_banner(endpoints, faults, generated, write_config), flush=True)
    _run(create_app(secrets, active), sock)
    return 0


def _banner(
    endpoints: Endpoints, faults: Sequence[str], generated: Mapping[str, str], config: Path | None
) -> str:
    lines = [
        "enrolment-conformance reference target (loopback only)",
        f"  base_url            {endpoints.base_url}",
        f"  token_url           {endpoints.token_url}",
        f"  webhooks_token_url  {endpoints.webhooks_token_url}",
        f"  tenant              {TENANT_A}  (API secret in ${DEFAULT_SECRET_ENV})",
        f"  other tenant        {TENANT_B}  (API secret in ${DEFAULT_OTHER_SECRET_ENV})",
    ]
    lines += (
        ["faults:"] + [f"  {name}: {FAULTS[name].description}" for name in faults]
        if faults
        else ["faults: none"]
    )
    if generated:
        lines.append(
            "throwaway secrets for this loopback server (the variables were not set); in the suite's shell:"
        )
        lines += [f"  export {env}={secret}" for env, secret in generated.items()]
    if config is not None:
        lines.append(f"config written to {config}: point the suite at it with --config {config}")
    else:
        lines.append("write a suite config for this server with --write-config FILE")
    lines.append("stop with Ctrl+C")
    return "\n".join(lines)
