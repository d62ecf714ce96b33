"""Run configuration: the TOML file, the command-line overrides, the secrets.

A configuration error is always a :class:`ConfigError` carrying one line that
names the offending key, flag or environment variable; the CLI turns it into
exit code 2. Secrets are only ever read from environment variables whose
*names* the configuration gives.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.catalogue import load_classes

ID_PATTERN = re.compile(r"^[0-9a-f]{24}$")
STATUSES = ("archived", "complete", "open", "overdue", "scheduled", "unassigned")
DEFAULT_SECRET_ENV = "ENROLMENT_API_SECRET"
DEFAULT_OTHER_SECRET_ENV = "ENROLMENT_OTHER_API_SECRET"


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
PRODUCTION_HOSTS = frozenset(
    urlsplit(env.base_url).hostname for env in ENVIRONMENTS.values() if env.production
)


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
        template = self.webhooks_token_url if webhooks else self.token_url
        return template.replace("{tenantId}", tenant_id) if template else None

    def hosts(self) -> frozenset[str]:
        """The host:port pairs the suite may send credentials to."""
        urls = (self.base_url, self.token_url, self.webhooks_token_url)
        return frozenset(urlsplit(url).netloc for url in urls if url)


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

    def claimed_classes(self) -> tuple[str, ...]:
        """The classes this run claims, in catalogue order (every class unless narrowed on purpose)."""
        return tuple(cls for cls in load_classes() if self.claim is None or cls in self.claim)

    def secrets(self) -> tuple[str, ...]:
        """Every secret this run holds, for redaction."""
        tenants = (self.tenant, self.other_tenant)
        return tuple(t.secret for t in tenants if t is not None)


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


_TOP_KEYS = {"target", "credentials", "fixtures"}
_TARGET_KEYS = {"base_url", "token_url", "webhooks_token_url"}
_CREDENTIAL_KEYS = {"tenant_id", "api_secret_env"}
_FIXTURE_LIST_KEYS = {"enrolments", "other_tenant_enrolments"}
_FIXTURE_KEYS = {"assignment_id", "enrolment_id", "status"}


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML file, turning every I/O or syntax problem into a ConfigError."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    _reject_unknown(data, _TOP_KEYS, "")
    return data


def load_settings(
    config_file: Path | None, overrides: Overrides, environ: Mapping[str, str] | None = None
) -> Settings:
    """Merge the config file (if any), the flags and the environment into Settings."""
    environ = os.environ if environ is None else environ
    data = read_config_file(config_file) if config_file else {}
    target_data = _table(data, "target")
    _reject_unknown(target_data, _TARGET_KEYS, "target.")
    cred_data = _table(data, "credentials")
    _reject_unknown(cred_data, _CREDENTIAL_KEYS | {"other_tenant"}, "credentials.")
    fixture_data = _table(data, "fixtures")
    _reject_unknown(fixture_data, _FIXTURE_LIST_KEYS, "fixtures.")

    preset = _environment(overrides.environment)
    base_url = overrides.base_url or _str(target_data, "base_url", "target.") or (preset and preset.base_url)
    if not base_url:
        raise ConfigError("no target: give --base-url, --env or a config file with target.base_url")
    token_url = (
        overrides.token_url or _str(target_data, "token_url", "target.") or (preset and preset.token_url)
    )
    webhooks_token_url = (
        overrides.webhooks_token_url
        or _str(target_data, "webhooks_token_url", "target.")
        or (preset and preset.webhooks_token_url)
    )
    target = Target(
        base_url=_check_url(base_url, "base_url").rstrip("/"),
        token_url=_check_token_url(token_url, "token_url") if token_url else None,
        webhooks_token_url=(
            _check_token_url(webhooks_token_url, "webhooks_token_url") if webhooks_token_url else None
        ),
    )

    tenant_id = overrides.tenant_id or _str(cred_data, "tenant_id", "credentials.")
    if not tenant_id:
        raise ConfigError("no tenant: give --tenant-id or credentials.tenant_id in the config file")
    secret_env = _str(cred_data, "api_secret_env", "credentials.") or DEFAULT_SECRET_ENV
    tenant = Credentials(tenant_id, _secret(environ, secret_env, "credentials.api_secret_env"), secret_env)

    other_tenant = None
    other_data = _table(cred_data, "other_tenant", "credentials.")
    if other_data:
        _reject_unknown(other_data, _CREDENTIAL_KEYS, "credentials.other_tenant.")
        other_id = _str(other_data, "tenant_id", "credentials.other_tenant.")
        if not other_id:
            raise ConfigError("credentials.other_tenant.tenant_id is missing")
        if other_id == tenant.tenant_id:
            raise ConfigError("credentials.other_tenant.tenant_id must differ from credentials.tenant_id")
        other_env = (
            _str(other_data, "api_secret_env", "credentials.other_tenant.") or DEFAULT_OTHER_SECRET_ENV
        )
        other_secret = _secret(environ, other_env, "credentials.other_tenant.api_secret_env")
        other_tenant = Credentials(other_id, other_secret, other_env)

    settings = Settings(
        target=target,
        tenant=tenant,
        other_tenant=other_tenant,
        fixtures=_fixtures(fixture_data, "enrolments"),
        other_tenant_fixtures=_fixtures(fixture_data, "other_tenant_enrolments"),
        environment=preset.name if preset else None,
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
    )


def is_production(settings: Settings) -> bool:
    """True when the run would touch a production host, whichever way it was named."""
    if settings.environment and ENVIRONMENTS[settings.environment].production:
        return True
    return urlsplit(settings.target.base_url).hostname in PRODUCTION_HOSTS


def _environment(name: str | None) -> Environment | None:
    if name is None:
        return None
    try:
        return ENVIRONMENTS[name]
    except KeyError:
        choices = ", ".join(ENVIRONMENTS)
        raise ConfigError(f"unknown environment {name!r}: choose one of {choices}") from None


def _table(data: Mapping[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{prefix}{key} must be a table, got {type(value).__name__}")
    return value


def _str(data: Mapping[str, Any], key: str, prefix: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{prefix}{key} must be a non-empty string, got {value!r}")
    return value.strip()


def _reject_unknown(data: Mapping[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]} (known: {', '.join(sorted(known))})")


def _check_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL with a host, got {url!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{name} must not carry credentials in the URL; use the credentials table")
    return url


def _check_token_url(url: str, name: str) -> str:
    _check_url(url.replace("{tenantId}", "tenant"), name)
    if "{tenantId}" not in url:
        raise ConfigError(f"{name} must contain the placeholder {{tenantId}}, got {url!r}")
    return url


def _secret(environ: Mapping[str, str], name: str, key: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ConfigError(f"{key} must be the NAME of an environment variable, got {name!r}")
    value = environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} ({key}) is not set: export the API secret in it")
    return value


def _fixtures(data: Mapping[str, Any], key: str) -> tuple[FixtureEnrolment, ...]:
    entries = data.get(key, [])
    if not isinstance(entries, list):
        raise ConfigError(f"fixtures.{key} must be an array of tables ([[fixtures.{key}]])")
    fixtures = []
    for index, entry in enumerate(entries):
        where = f"fixtures.{key}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        _reject_unknown(entry, _FIXTURE_KEYS, f"{where}.")
        ids = {}
        for id_key in ("assignment_id", "enrolment_id"):
            value = entry.get(id_key)
            if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
                raise ConfigError(f"{where}.{id_key} must be 24 lowercase hex characters, got {value!r}")
            ids[id_key] = value
        status = entry.get("status")
        if status is not None and status not in STATUSES:
            raise ConfigError(f"{where}.status must be one of {', '.join(STATUSES)}, got {status!r}")
        fixtures.append(FixtureEnrolment(ids["assignment_id"], ids["enrolment_id"], status))
    return tuple(fixtures)


# Every host of a production environment: its API and both token endpoints.
PRODUCTION_ANY_HOSTS = frozenset(
    urlsplit(url).hostname
    for env in ENVIRONMENTS.values()
    if env.production
    for url in (env.base_url, env.token_url, env.webhooks_token_url)
)


def production_target(settings: Settings) -> str | None:
    """Why the run would touch production (the --env, or a production host in any target URL), or None."""
    if settings.environment and ENVIRONMENTS[settings.environment].production:
        return f"--env {settings.environment}"
    target = settings.target
    for url in (target.base_url, target.token_url, target.webhooks_token_url):
        host = urlsplit(url.replace("{tenantId}", "tenant")).hostname if url else None
        if host and host.lower().rstrip(".") in PRODUCTION_ANY_HOSTS:
            return f"{host} is a production host"
    return None
