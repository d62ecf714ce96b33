"""Run configuration: the TOML file, the command-line overrides, the secrets, the production guard.

The file is checked against ``schemas/config.schema.json`` (unknown keys are
errors, with the closest known key suggested), and each flag against the same
schema entry as the key it overrides. A configuration error is always a
:class:`ConfigError` carrying one line that names the offending key, flag or
environment variable; the CLI turns it into exit code 2. Secrets are only ever
read from environment variables whose *names* the configuration gives.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from conformance.catalogue import load_classes
from conformance.schemas import first_problem, load_schema
from conformance.selection import Selection

STATUSES: tuple[str, ...] = tuple(load_schema("config")["$defs"]["status"]["enum"])
DEFAULT_SECRET_ENV = "ENROLMENT_API_SECRET"
DEFAULT_OTHER_SECRET_ENV = "ENROLMENT_OTHER_API_SECRET"
TENANT_PLACEHOLDER = "{tenantId}"


@dataclass(frozen=True)
class Environment:
    """A published environment: its API base and its two token endpoints."""

    name: str
    base_url: str
    token_url: str
    webhooks_token_url: str
    production: bool


ENVIRONMENTS: dict[str, Environment] = {
    env.name: env
    for env in (
        Environment(
            "staging",
            "https://public.api.learnstaging.link/rest/v1",
            "https://public.api.learnstaging.link/oauth2/token/{tenantId}",
            "https://user.api.learnstaging.link/oauth2/token/{tenantId}",
            production=False,
        ),
        Environment(
            "production",
            "https://public.api.learn.link/rest/v1",
            "https://public.api.learn.link/oauth2/token/{tenantId}",
            "https://user.api.learn.link/oauth2/token/{tenantId}",
            production=True,
        ),
        Environment(
            "staging-mea",
            "https://public.api.meastaging.learn.tech/rest/v1",
            "https://public.api.meastaging.learn.tech/oauth2/token/{tenantId}",
            "https://user.api.meastaging.learn.tech/oauth2/token/{tenantId}",
            production=False,
        ),
        Environment(
            "production-mea",
            "https://public.api.mea.learn.tech/rest/v1",
            "https://public.api.mea.learn.tech/oauth2/token/{tenantId}",
            "https://user.api.mea.learn.tech/oauth2/token/{tenantId}",
            production=True,
        ),
    )
}


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line saying why."""


@dataclass(frozen=True)
class Credentials:
    """A tenant's identity and API secret. The secret never appears in repr()."""

    tenant_id: str
    secret: str = field(repr=False)
    secret_env: str


@dataclass(frozen=True)
class FixtureEnrolment:
    """An enrolment known to exist on the target, with its expected status if given."""

    assignment_id: str
    enrolment_id: str
    status: str | None = None

    @property
    def label(self) -> str:
        return f"{self.assignment_id}/{self.enrolment_id}"


@dataclass(frozen=True)
class Target:
    """Where the suite sends requests: the API base and the token endpoints (URL templates)."""

    base_url: str
    token_url: str | None = None
    webhooks_token_url: str | None = None

    def token_url_for(self, tenant_id: str, *, webhooks: bool = False) -> str | None:
        """The token endpoint of tenant_id; the tenant is one percent-encoded path segment, never a path."""
        template = self.webhooks_token_url if webhooks else self.token_url
        return template.replace(TENANT_PLACEHOLDER, quote(tenant_id, safe="")) if template else None

    def urls(self) -> Iterator[str]:
        """Every configured URL (token endpoints as templates)."""
        yield from (url for url in (self.base_url, self.token_url, self.webhooks_token_url) if url)

    def hosts(self) -> frozenset[str]:
        """The addresses (host, or host:port) the suite may send credentials to, as the client connects."""
        return frozenset(connect_address(url) for url in self.urls())


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, after merging the file, the flags and the environment."""

    target: Target
    tenant: Credentials
    other_tenant: Credentials | None = None
    fixtures: tuple[FixtureEnrolment, ...] = ()
    other_tenant_fixtures: tuple[FixtureEnrolment, ...] = ()
    environment: str | None = None
    reports_dir: Path = Path("reports")
    spec_path: Path | None = None
    select: str | None = None
    seed: int = 0
    max_examples: int = 100
    strict: bool = False
    reference: bool = False  # True when the target is the bundled reference implementation
    faults: tuple[str, ...] = ()  # reference target faults switched on for this run
    claim: tuple[str, ...] | None = None  # the conformance classes claimed; None: every class
    only: Selection | None = None  # an exact selection of requirements (--area, --only, a rerun)

    def selection_words(self) -> str | None:
        """How the run was narrowed to some checks (-k, --area, --only, a rerun), or None."""
        words = [f"-k {self.select}"] if self.select else []
        words += [self.only.label] if self.only is not None else []
        return " and ".join(words) or None

    def selects(self, requirement: str) -> bool:
        """Whether the exact selection, if any, keeps this requirement's checks (-k is pytest's)."""
        return self.only is None or requirement in self.only

    def claimed_classes(self) -> tuple[str, ...]:
        """The classes this run claims, in catalogue order (every class unless narrowed on purpose)."""
        return tuple(cls for cls in load_classes() if self.claim is None or cls in self.claim)


@dataclass(frozen=True)
class Overrides:
    """Command-line flags; None means 'not given'."""

    base_url: str | None = None
    token_url: str | None = None
    webhooks_token_url: str | None = None
    tenant_id: str | None = None
    environment: str | None = None
    reports_dir: Path | None = None
    spec_path: Path | None = None
    select: str | None = None
    seed: int | None = None
    max_examples: int | None = None
    strict: bool = False
    claim: tuple[str, ...] | None = None
    allow_plain_http: bool = False
    only: Selection | None = None


# each target URL: its key in [target], its flag, and its entry in the schema's $defs
_URLS = (
    ("base_url", "--base-url", "url"),
    ("token_url", "--token-url", "token_url"),
    ("webhooks_token_url", "--webhooks-token-url", "token_url"),
)


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML file and check it against the schema; every problem is a one-line ConfigError."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    problem = first_problem("config", data)
    if problem:
        raise ConfigError(f"config file {path}: {problem}")
    return data


def load_settings(
    config_file: Path | None, overrides: Overrides, environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge the config file (if any), the flags and the environment into Settings."""
    return settings_from_data(read_config_file(config_file) if config_file else {}, overrides, environ)


def settings_from_data(
    data: Mapping[str, Any], overrides: Overrides, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from a configuration already read and checked against the schema (a file's, or the one
    a saved run recorded), the flags and the environment."""
    preset = _environment(overrides.environment)
    target = _target(data.get("target", {}), overrides, preset)
    environ = os.environ if environ is None else environ
    tenant, other_tenant = _tenants(data.get("credentials", {}), overrides.tenant_id, environ)
    fixtures = data.get("fixtures", {})
    settings = Settings(
        target=target,
        tenant=tenant,
        other_tenant=other_tenant,
        fixtures=_fixtures(fixtures.get("enrolments", [])),
        other_tenant_fixtures=_fixtures(fixtures.get("other_tenant_enrolments", [])),
        environment=preset.name if preset else None,
        claim=_claim(data.get("conformance", {}).get("claim")),
    )
    return apply_run_options(settings, overrides)


def apply_run_options(settings: Settings, overrides: Overrides) -> Settings:
    """Apply the flags that do not name the target (reports, spec, selection, generation)."""
    if overrides.max_examples is not None and overrides.max_examples < 1:
        raise ConfigError(f"--max-examples must be at least 1, got {overrides.max_examples}")
    if overrides.spec_path is not None and not overrides.spec_path.is_file():
        raise ConfigError(f"--spec {overrides.spec_path} does not exist")
    return replace(
        settings,
        reports_dir=overrides.reports_dir or settings.reports_dir,
        spec_path=overrides.spec_path or settings.spec_path,
        select=overrides.select or settings.select,
        seed=settings.seed if overrides.seed is None else overrides.seed,
        max_examples=overrides.max_examples or settings.max_examples,
        strict=overrides.strict or settings.strict,
        claim=overrides.claim or settings.claim,
        only=overrides.only or settings.only,
    )


# --- the production guard and plain http ----------------------------------------------------------------


def connect_host(url: str | httpx.URL) -> str:
    """The host of url as the HTTP client connects to it.

    IDNA-mapped as httpx maps it (the full stops U+3002, U+FF0E and U+FF61 are
    dots, capitals are small), then lowercased, without trailing dots. Raises
    httpx.InvalidURL for what is not a URL.
    """
    return httpx.URL(url).host.lower().rstrip(".")


def connect_address(url: str | httpx.URL) -> str:
    """The host of url as the client connects to it (see connect_host), with its port unless the default."""
    parsed = httpx.URL(url)
    host = connect_host(parsed)
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parsed.port}" if parsed.port is not None else host


_PRODUCTION_HOSTS = frozenset(
    connect_host(url)
    for env in ENVIRONMENTS.values()
    if env.production
    for url in (env.base_url, env.token_url, env.webhooks_token_url)
)


def production_host(url: str | httpx.URL) -> str | None:
    """The production host url would connect to (its API or a token endpoint), or None.

    A check of the name only: an IP literal of a production host, or a name
    whose DNS points at one (a CNAME), is not recognised.
    """
    host = connect_host(url)
    return host if host in _PRODUCTION_HOSTS else None


def production_target(settings: Settings) -> str | None:
    """Why the run would touch production (the --env, or a production host in any target URL), or None."""
    if settings.environment and ENVIRONMENTS[settings.environment].production:
        return f"--env {settings.environment}"
    hosts = (production_host(url) for url in settings.target.urls())
    host = next((host for host in hosts if host), None)
    return f"{host} is a production host" if host else None


def is_loopback(host: str) -> bool:
    """Whether host (as :func:`connect_host` gives it) is localhost, in 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- the pieces of load_settings ------------------------------------------------------------------------


def _environment(name: str | None) -> Environment | None:
    if name is None:
        return None
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        choices = ", ".join(ENVIRONMENTS)
        raise ConfigError(f"unknown environment {name!r}: choose one of {choices}") from None


def _target(data: Mapping[str, Any], overrides: Overrides, preset: Environment | None) -> Target:
    """Each URL from its flag, else the file, else the --env preset; checked under the name it came by."""
    plain_http = overrides.allow_plain_http or data.get("allow_plain_http", False)
    urls: dict[str, str | None] = {}
    for key, flag, definition in _URLS:
        url, where = getattr(overrides, key), flag
        if not url:
            url, where = data.get(key), f"target.{key}"
        if not url and preset is not None:
            url, where = getattr(preset, key), f"--env {preset.name}"
        if key == "base_url" and not url:
            raise ConfigError("no target: give --base-url, --env or a config file with target.base_url")
        urls[key] = _checked_url(_checked(url, where, definition), where, plain_http) if url else None
    base_url = urls.pop("base_url") or ""
    return Target(base_url.rstrip("/"), **urls)


def _checked(value: str, where: str, definition: str) -> str:
    """value, if it fits the schema's entry definition; else a ConfigError naming it by where."""
    problem = first_problem("config", value, definition=definition, where=where)
    if problem:
        raise ConfigError(problem)
    return value


def _checked_url(url: str, where: str, allow_plain_http: bool) -> str:
    """url (stripped) if the HTTP client can use it safely: http(s), a host, no userinfo, TLS off loopback."""
    url = url.strip()
    try:
        parsed = httpx.URL(url.replace(TENANT_PLACEHOLDER, "tenant"))
    except httpx.InvalidURL as exc:
        raise ConfigError(f"{where} must be a URL, got {url!r} ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(f"{where} must be an http:// or https:// URL with a host, got {url!r}")
    if parsed.userinfo:
        raise ConfigError(f"{where} must not carry credentials in the URL; use the credentials table")
    host = connect_host(parsed)
    if parsed.scheme == "http" and not allow_plain_http and not is_loopback(host):
        raise ConfigError(
            f"refusing plain http:// to {host} ({where}): the API secret and the client secret would cross "
            "the network unencrypted; use https://, or add --allow-plain-http if you mean it"
        )
    return url


def _tenants(
    data: Mapping[str, Any], tenant_flag: str | None, environ: Mapping[str, str]
) -> tuple[Credentials, Credentials | None]:
    """The tenant (--tenant-id over credentials.tenant_id) and the other tenant, with their secrets."""
    tenant_id = _checked(tenant_flag, "--tenant-id", "tenant_id") if tenant_flag else data.get("tenant_id")
    if not tenant_id:
        raise ConfigError("no tenant: give --tenant-id or credentials.tenant_id in the config file")
    wanted = [(tenant_id, data.get("api_secret_env", DEFAULT_SECRET_ENV), "credentials.api_secret_env")]
    other = data.get("other_tenant")
    if other:
        if other["tenant_id"] == tenant_id:
            raise ConfigError("credentials.other_tenant.tenant_id must differ from credentials.tenant_id")
        env = other.get("api_secret_env", DEFAULT_OTHER_SECRET_ENV)
        wanted.append((other["tenant_id"], env, "credentials.other_tenant.api_secret_env"))
    missing = [f"{env} ({key})" for _, env, key in wanted if not environ.get(env)]
    if len(missing) == 1:
        raise ConfigError(f"environment variable {missing[0]} is not set: export the API secret in it")
    if missing:
        raise ConfigError(
            f"environment variables {' and '.join(missing)} are not set: export the API secrets in them"
        )
    tenants = [Credentials(tenant, environ[env], env) for tenant, env, _ in wanted]
    return tenants[0], tenants[1] if other else None


def _fixtures(entries: list[dict[str, str]]) -> tuple[FixtureEnrolment, ...]:
    return tuple(FixtureEnrolment(e["assignment_id"], e["enrolment_id"], e.get("status")) for e in entries)


def _claim(classes: list[str] | None) -> tuple[str, ...] | None:
    """conformance.claim (checked by the schema) as a tuple; None: every class."""
    return tuple(classes) if classes else None


DEFAULT_MAX_RPS = 20.0  # for a target the user names; the bundled reference target is not rate-limited


def default_rate(settings: Settings) -> tuple[float | None, str]:
    """The rate limit a run gets unless told (None: unlimited), and why, for the header: none for the
    bundled target and for targets all on loopback, DEFAULT_MAX_RPS for any other."""
    if settings.reference:
        return None, "the bundled reference target is the suite's own"
    if all(is_loopback(connect_host(url.replace("{tenantId}", "t"))) for url in settings.target.urls()):
        return None, "the target is on loopback (a port-forward to a shared system: limit it, --max-rps N)"
    return DEFAULT_MAX_RPS, "that is the default for a target you name (--max-rps N to change, 0: unlimited)"
