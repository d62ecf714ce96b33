"""Configuration: the TOML schema, the flags that override it, the production and plain-http guards.

Every error is one line naming the key, flag or variable, what was expected and
what was found. The CLI cases run the real command line with the loopback
guard (misbehaving.py), so that nothing can leave the machine even if a guard
under test let a run start.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator
from misbehaving import SECRET, cli_main, run_cli

from conformance.catalogue import load_classes
from conformance.config import (
    STATUSES,
    ConfigError,
    Overrides,
    Target,
    connect_host,
    is_loopback,
    load_settings,
    production_host,
    production_target,
)
from conformance.schemas import key_path, load_schema

SECRETS = {"ENROLMENT_API_SECRET": "s3cret-value-A", "ENROLMENT_OTHER_API_SECRET": "s3cret-value-B"}
FULL = """
[target]
base_url = "http://127.0.0.1:8000/rest/v1/"
token_url = "http://127.0.0.1:8000/oauth2/token/{tenantId}"
webhooks_token_url = "http://127.0.0.1:8001/oauth2/token/{tenantId}"

[credentials]
tenant_id = "eu-west-2_AbcdEfghI"
api_secret_env = "ENROLMENT_API_SECRET"

[credentials.other_tenant]
tenant_id = "eu-west-2_Other"
api_secret_env = "ENROLMENT_OTHER_API_SECRET"

[[fixtures.enrolments]]
assignment_id = "12347d805d8ecbf46f5b5278"
enrolment_id = "63f57d805d8ecbf46f5b5278"
status = "open"

[[fixtures.other_tenant_enrolments]]
assignment_id = "22347d805d8ecbf46f5b5278"
enrolment_id = "73f57d805d8ecbf46f5b5278"
"""
MINIMAL = '[target]\nbase_url = "https://h.test/"\n[credentials]\ntenant_id = "t"\n'
FIXTURE = '[[fixtures.enrolments]]\nassignment_id = "12347d805d8ecbf46f5b5278"\n'
IDNA_PRODUCTION = "https://public\u3002api\u3002learn\u3002link/rest/v1"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conformance.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str | None, overrides: Overrides = Overrides(), environ=SECRETS) -> str:  # type: ignore[no-untyped-def]  # noqa: B008
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, text) if text is not None else None, overrides, environ)
    message = str(error.value)
    assert "\n" not in message
    return message


# --- what a good configuration gives -------------------------------------------------------------------


def test_full_config_is_read(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL), Overrides(), SECRETS)
    assert settings.target.base_url == "http://127.0.0.1:8000/rest/v1"
    assert settings.target.token_url_for("t1") == "http://127.0.0.1:8000/oauth2/token/t1"
    assert settings.target.hosts() == {"127.0.0.1:8000", "127.0.0.1:8001"}
    assert settings.tenant.tenant_id == "eu-west-2_AbcdEfghI"
    assert settings.tenant.secret == "s3cret-value-A"
    assert settings.other_tenant is not None and settings.other_tenant.secret == "s3cret-value-B"
    assert [f.status for f in settings.fixtures] == ["open"]
    assert settings.other_tenant_fixtures[0].enrolment_id == "73f57d805d8ecbf46f5b5278"
    assert production_target(settings) is None


def test_secret_never_in_repr(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FULL), Overrides(), SECRETS)
    assert "s3cret-value" not in repr(settings)


def test_flags_override_the_file(tmp_path: Path) -> None:
    overrides = Overrides(
        base_url="http://127.0.0.1:9000/v2", tenant_id="eu-west-2_Flag", seed=7, max_examples=5
    )
    settings = load_settings(write(tmp_path, FULL), overrides, SECRETS)
    assert settings.target.base_url == "http://127.0.0.1:9000/v2"
    assert settings.tenant.tenant_id == "eu-west-2_Flag"
    assert (settings.seed, settings.max_examples) == (7, 5)


def test_the_claim_is_narrowed_in_the_file_and_the_flag_wins(tmp_path: Path) -> None:
    config = write(tmp_path, FULL + '\n[conformance]\nclaim = ["core", "oauth"]\n')
    assert load_settings(config, Overrides(), SECRETS).claimed_classes() == ("core", "oauth")
    flagged = load_settings(config, Overrides(claim=("isolation",)), SECRETS)
    assert flagged.claimed_classes() == ("isolation",)
    assert load_settings(write(tmp_path, FULL), Overrides(), SECRETS).claim is None  # every class


def test_the_claimable_classes_are_the_catalogue_classes() -> None:
    assert tuple(load_schema("config")["$defs"]["class_id"]["enum"]) == tuple(load_classes())


def test_env_preset_fills_urls() -> None:
    settings = load_settings(None, Overrides(environment="staging-mea", tenant_id="eu-west-2_X"), SECRETS)
    assert settings.target.base_url == "https://public.api.meastaging.learn.tech/rest/v1"
    assert settings.target.token_url_for("T") == "https://public.api.meastaging.learn.tech/oauth2/token/T"
    assert (
        settings.target.token_url_for("T", webhooks=True)
        == "https://user.api.meastaging.learn.tech/oauth2/token/T"
    )
    assert production_target(settings) is None


def test_the_statuses_are_the_schema_enum() -> None:
    assert STATUSES == ("archived", "complete", "open", "overdue", "scheduled", "unassigned")


@pytest.mark.parametrize("name", ["config", "baseline"])
def test_the_shipped_schemas_are_valid_json_schema(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)

    def closed(node: object) -> bool:  # every table in the schema refuses unknown keys
        if isinstance(node, dict):
            if node.get("type") == "object" and node.get("additionalProperties") is not False:
                return False
            return all(closed(value) for value in node.values())
        return all(closed(value) for value in node) if isinstance(node, list) else True

    assert closed(schema)


def test_key_paths_read_as_written_in_toml() -> None:
    assert key_path(["fixtures", "enrolments", 0, "enrolment_id"]) == "fixtures.enrolments[0].enrolment_id"
    assert key_path(["accepted", 2]) == "accepted[2]"
    assert key_path(["target", "a b", "\x1b[2K"]) == 'target."a b"."\\u001B[2K"'


def test_a_hostile_key_cannot_reach_the_terminal(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[target]\n"base_url\\u001b]52;c;eA==\\u0007\\n" = 1')
    assert "\x1b" not in message and "\x07" not in message
    assert 'unknown key target."base_url\\u001B]52;c;eA==\\u0007\\n" (known: ' in message


# --- errors in the file and the flags: one line, the key, what was expected, what was found -------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[target\nbase_url=", "is not valid TOML"),
        (MINIMAL.replace("https://h.test/", "ftp://x/y"), "must be an http:// or https:// URL with a host"),
        (MINIMAL.replace("https://h.test/", "https://u:p@h.test/"), "must not carry credentials"),
        (
            MINIMAL + '[target]\ntoken_url = "https://h/token"',
            "is not valid TOML",  # a table given twice
        ),
        (
            MINIMAL.replace("[credentials]", 'token_url = "https://h.test/token"\n[credentials]'),
            "target.token_url must be a URL with the placeholder {tenantId}, got 'https://h.test/token'",
        ),
        (
            MINIMAL.replace("[credentials]", 'base_uri = "x"\n[credentials]'),
            "unknown key target.base_uri: did you mean target.base_url? "
            "(known: allow_plain_http, base_url, token_url, webhooks_token_url)",
        ),
        ('targets = "x"\n' + MINIMAL, "unknown key targets: did you mean target?"),
        ("[target]\n[credentials]\n[fixture]", "unknown key fixture: did you mean fixtures?"),
        ('[target]\nbase_url = "https://h.test/"', "no tenant"),
        ('[credentials]\ntenant_id="t"', "no target"),
        (
            MINIMAL + 'api_secret_env="MISSING_VAR"',
            "environment variable MISSING_VAR (credentials.api_secret_env) is not set: "
            "export the API secret in it",
        ),
        (
            MINIMAL + 'api_secret_env="not a name"',
            "credentials.api_secret_env must be the NAME of an environment variable "
            "(letters, digits and '_'), got 'not a name'",
        ),
        (
            MINIMAL + FIXTURE.replace("12347d805d8ecbf46f5b5278", "ABC") + 'enrolment_id = "x"',
            "fixtures.enrolments[0].assignment_id must be 24 lowercase hex characters, got 'ABC'",
        ),
        (MINIMAL + FIXTURE, "fixtures.enrolments[0].enrolment_id is missing"),
        (
            MINIMAL + FIXTURE + 'enrolment_id = "63f57d805d8ecbf46f5b5278"\nstatus = "Open"',
            "fixtures.enrolments[0].status must be one of archived, complete, open, overdue, scheduled, "
            "unassigned, got 'Open'",
        ),
        (
            MINIMAL + FIXTURE + 'enrolment_id = "63f57d805d8ecbf46f5b5278"\nstate = "open"',
            "unknown key fixtures.enrolments[0].state: did you mean fixtures.enrolments[0].status?",
        ),
        (MINIMAL + "[fixtures]\nenrolments = 3", "fixtures.enrolments must be an array of tables"),
        (
            MINIMAL + '[credentials.other_tenant]\ntenant_id = "t"',
            "credentials.other_tenant.tenant_id must differ from credentials.tenant_id",
        ),
        (
            MINIMAL + '[credentials.other_tenant]\napi_secret_env = "X"',
            "credentials.other_tenant.tenant_id is missing",
        ),
        (
            '[target]\nbase_url = 5\n[credentials]\ntenant_id="t"',
            "target.base_url must be a non-empty string (an http:// or https:// URL), got 5",
        ),
        (MINIMAL.replace('"https://h.test/"', '"  "'), "target.base_url must be a non-empty string"),
        ('target = "x"', "target must be a table, got 'x'"),
        (
            MINIMAL.replace("[credentials]", 'allow_plain_http = "yes"\n[credentials]'),
            "target.allow_plain_http must be true or false, got 'yes'",
        ),
        (
            MINIMAL + '[conformance]\nclaim = ["core", "oath"]',
            "conformance.claim[1] must be one of core, oauth, isolation, methods, generated, got 'oath'",
        ),
        (MINIMAL + "[conformance]\nclaim = []", "conformance.claim must be a non-empty array of distinct"),
        (MINIMAL + '[conformance]\nclaim = "core"', "conformance.claim must be a non-empty array"),
        (MINIMAL + '[conformance]\nclaims = ["core"]', "did you mean conformance.claim?"),
    ],
)
def test_config_errors_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    assert message in error_of(tmp_path, text)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conformance.toml"
    assert error_of(tmp_path, 'target = "x"') == f"config file {path}: target must be a table, got 'x'"


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", Overrides(), SECRETS)


def test_unknown_environment_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'moon'"):
        load_settings(None, Overrides(environment="moon", tenant_id="t"), SECRETS)


def test_bad_max_examples_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--max-examples must be at least 1"):
        load_settings(write(tmp_path, FULL), Overrides(max_examples=0), SECRETS)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            Overrides(base_url="https://h.test/", token_url="https://h.test/token"),
            "--token-url must be a URL with the placeholder {tenantId}, got 'https://h.test/token'",
        ),
        (
            Overrides(base_url="https://h.test/", webhooks_token_url="ftp://h/{tenantId}"),
            "--webhooks-token-url must be an http:// or https:// URL with a host, got 'ftp://h/{tenantId}'",
        ),
        (Overrides(base_url="https://[::1/", tenant_id="t"), "--base-url must be a URL, got 'https://[::1/'"),
    ],
)
def test_flag_errors_name_the_flag(tmp_path: Path, overrides: Overrides, message: str) -> None:
    assert message in error_of(tmp_path, None, overrides)


# --- the secrets --------------------------------------------------------------------------------------


def test_every_missing_secret_variable_is_named_at_once(tmp_path: Path) -> None:
    assert error_of(tmp_path, FULL, environ={}) == (
        "environment variables ENROLMENT_API_SECRET (credentials.api_secret_env) and "
        "ENROLMENT_OTHER_API_SECRET (credentials.other_tenant.api_secret_env) are not set: "
        "export the API secrets in them"
    )
    only_other = {"ENROLMENT_API_SECRET": "x"}
    assert error_of(tmp_path, FULL, environ=only_other) == (
        "environment variable ENROLMENT_OTHER_API_SECRET (credentials.other_tenant.api_secret_env) is not "
        "set: export the API secret in it"
    )


# --- the tenant ID: a safe path segment, a Basic-auth username -------------------------------------------


BAD_TENANTS = ["eu:west", "../../rest/v1/assignments/x", "..", ".", "a/b", "a b", "t$(id)", "x\u00e9", ""]


@pytest.mark.parametrize("tenant", BAD_TENANTS)
def test_a_tenant_id_outside_the_safe_characters_is_refused(tmp_path: Path, tenant: str) -> None:
    expected = "a tenant ID of letters, digits, '.', '_' and '-' (and not dots alone)"
    file_tenant = MINIMAL.replace('tenant_id = "t"', f"tenant_id = {tenant!r}".replace("'", '"'))
    assert f"credentials.tenant_id must be {expected}, got {tenant!r}" in error_of(tmp_path, file_tenant)
    other = MINIMAL + f'[credentials.other_tenant]\ntenant_id = "{tenant}"'
    assert f"credentials.other_tenant.tenant_id must be {expected}" in error_of(tmp_path, other)
    if tenant:  # an empty flag is a flag not given
        flag = Overrides(base_url="https://h.test/", tenant_id=tenant)
        assert error_of(tmp_path, None, flag) == f"--tenant-id must be {expected}, got {tenant!r}"


@pytest.mark.parametrize("tenant", ["eu-west-2_AbcdEfghI", "a.b", "a..b", "T-1_x.y"])
def test_good_tenant_ids_are_taken(tenant: str) -> None:
    settings = load_settings(None, Overrides(base_url="https://h.test/", tenant_id=tenant), SECRETS)
    assert settings.tenant.tenant_id == tenant


def test_the_tenant_is_one_path_segment_of_the_token_url() -> None:
    target = Target("https://h.test/rest/v1", "https://h.test/oauth2/token/{tenantId}")
    url = target.token_url_for("../../rest/v1/assignments/a/enrolments/e")
    assert url == "https://h.test/oauth2/token/..%2F..%2Frest%2Fv1%2Fassignments%2Fa%2Fenrolments%2Fe"
    # the request the token POST would make stays on the token endpoint
    assert httpx.Request("POST", url).url.path.startswith("/oauth2/token/")
    assert target.token_url_for("a?b#c") == "https://h.test/oauth2/token/a%3Fb%23c"


# --- plain http ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "host", "where"),
    [
        (Overrides(base_url="http://staging.example.test/rest/v1"), "staging.example.test", "--base-url"),
        (Overrides(base_url="HTTP://10.0.0.5:8080/rest/v1"), "10.0.0.5", "--base-url"),
        (
            Overrides(base_url="https://h.test/", token_url="http://auth.example.test/t/{tenantId}"),
            "auth.example.test",
            "--token-url",
        ),
        (
            Overrides(base_url="https://h.test/", webhooks_token_url="http://user.example.test/{tenantId}"),
            "user.example.test",
            "--webhooks-token-url",
        ),
        (Overrides(base_url="http://localhost.example.test/"), "localhost.example.test", "--base-url"),
    ],
)
def test_plain_http_off_loopback_is_refused(
    tmp_path: Path, overrides: Overrides, host: str, where: str
) -> None:
    assert error_of(tmp_path, None, Overrides(**{**vars(overrides), "tenant_id": "t"})) == (
        f"refusing plain http:// to {host} ({where}): the API secret and the client secret would cross the "
        "network unencrypted; use https://, or add --allow-plain-http if you mean it"
    )


def test_plain_http_in_the_file_is_named_by_its_key(tmp_path: Path) -> None:
    text = MINIMAL.replace("https://h.test/", "http://h.test/")
    assert "refusing plain http:// to h.test (target.base_url)" in error_of(tmp_path, text)
    opted_in = text.replace("[credentials]", "allow_plain_http = true\n[credentials]")
    assert load_settings(write(tmp_path, opted_in), Overrides(), SECRETS).target.base_url == "http://h.test"


def test_plain_http_is_allowed_with_the_flag() -> None:
    overrides = Overrides(base_url="http://h.test/rest/v1", tenant_id="t", allow_plain_http=True)
    assert load_settings(None, overrides, SECRETS).target.base_url == "http://h.test/rest/v1"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://127.8.9.10/x",
        "http://[::1]:8000/x",
        "http://localhost/x",
        "http://LOCALHOST./x",
    ],
)
def test_plain_http_on_loopback_needs_no_opt_in(url: str) -> None:
    assert load_settings(None, Overrides(base_url=url, tenant_id="t"), SECRETS).target.base_url == url


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        *[("127.0.0.1", True), ("127.255.0.1", True), ("::1", True), ("localhost", True)],
        *[("128.0.0.1", False), ("::ffff:7f00:1", False), ("localhost.test", False), ("0.0.0.0", False)],
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# --- the production guard: the host as the client connects to it ------------------------------------------


PRODUCTION_SPELLINGS = [
    "https://public.api.learn.link/rest/v1",
    "HTTPS://PUBLIC.API.LEARN.LINK/rest/v1",
    "https://public.api.learn.link./rest/v1",
    "https://public.api.learn.link../rest/v1",
    "https://public.api.learn.link:443/rest/v1",
    IDNA_PRODUCTION,
    "https://public\uff0eapi\uff0elearn\uff0elink/rest/v1",
    "https://public\uff61api\uff61learn\uff61link\uff61/rest/v1",
    "https://PUBLIC\u3002API.Learn\uff0eLINK/rest/v1",
    "https://user.api.learn.link/oauth2/token/{tenantId}",
    "https://public.api.mea.learn.tech/oauth2/token/{tenantId}",
    "https://user\u3002api\u3002mea\u3002learn\u3002tech/oauth2/token/{tenantId}",
]


@pytest.mark.parametrize("url", PRODUCTION_SPELLINGS)
def test_every_spelling_of_a_production_host_is_production(url: str) -> None:
    assert production_host(url) in {
        "public.api.learn.link",
        "user.api.learn.link",
        "public.api.mea.learn.tech",
        "user.api.mea.learn.tech",
    }


@pytest.mark.parametrize(
    "url",
    [
        "https://public.api.learnstaging.link/rest/v1",
        "https://public.api.learn.link.example.test/rest/v1",
        "https://api.learn.link/rest/v1",
        "http://127.0.0.1:8000/rest/v1",
    ],
)
def test_other_hosts_are_not_production(url: str) -> None:
    assert production_host(url) is None


def test_the_guard_sees_the_host_the_client_connects_to() -> None:
    """What connect_host says is what httpx puts on the wire (the request's host), for every spelling."""
    seen: list[str] = []
    transport = httpx.MockTransport(lambda request: seen.append(request.url.host) or httpx.Response(204))
    with httpx.Client(transport=transport) as client:
        for url in PRODUCTION_SPELLINGS:
            client.get(url.replace("{tenantId}", "t"))
    assert [host.lower().rstrip(".") for host in seen] == [connect_host(url) for url in PRODUCTION_SPELLINGS]


@pytest.mark.parametrize("key", ["base_url", "token_url", "webhooks_token_url"])
def test_every_configured_url_is_checked_for_production(key: str) -> None:
    urls = {
        "base_url": "https://h.test/rest/v1",
        "token_url": "https://h.test/oauth2/token/{tenantId}",
        "webhooks_token_url": "https://h.test/webhooks/{tenantId}",
    }
    urls[key] = "https://public\uff0eapi\u3002learn\uff61link./x/{tenantId}"
    settings = load_settings(None, Overrides(**urls, tenant_id="t"), SECRETS)
    assert production_target(settings) == "public.api.learn.link is a production host"


@pytest.mark.parametrize("env", ["production", "production-mea"])
def test_a_production_environment_is_production(env: str) -> None:
    settings = load_settings(None, Overrides(environment=env, tenant_id="eu-west-2_X"), SECRETS)
    assert production_target(settings) == f"--env {env}"


# --- through the command line, before any request -------------------------------------------------------


def test_an_idna_spelling_of_production_is_refused_before_any_request(tmp_path: Path) -> None:
    run = run_cli(
        "--base-url", IDNA_PRODUCTION, "--tenant-id", "eu-west-2_X", reports=tmp_path / "reports",
        env={"ENROLMENT_API_SECRET": SECRET},
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().splitlines() == [
        "error: refusing to run against production (public.api.learn.link is a production host) without "
        "confirmation: the suite would send up to 2000 read-only requests with your credentials; add "
        "--confirm-production if you mean it"
    ]
    assert run.stdout == "" and not (tmp_path / "reports").exists()


def test_confirmed_the_idna_spelling_goes_to_the_production_host(tmp_path: Path) -> None:
    """The client does connect to public.api.learn.link (the loopback guard stops it)."""
    run = run_cli(
        "--base-url", IDNA_PRODUCTION, "--tenant-id", "eu-west-2_X", "--confirm-production", "--timeout", "1",
        reports=tmp_path / "reports", env={"ENROLMENT_API_SECRET": SECRET},
    )  # fmt: skip
    assert run.returncode == 3, run.stdout + run.stderr
    assert "DNS lookup failed" in run.error_line and "loopback guard" in run.error_line
    assert run.results()["mode"]["production"] is True


def test_plain_http_is_refused_before_any_request_unless_allowed(tmp_path: Path) -> None:
    args = (
        "--base-url",
        "http://staging.example.test/rest/v1",
        "--tenant-id",
        "eu-west-2_X",
        "--timeout",
        "1",
    )
    run = run_cli(*args, reports=tmp_path / "refused", env={"ENROLMENT_API_SECRET": SECRET})
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().splitlines() == [
        "error: refusing plain http:// to staging.example.test (--base-url): the API secret and the client "
        "secret would cross the network unencrypted; use https://, or add --allow-plain-http if you mean it"
    ]
    assert run.stdout == "" and not (tmp_path / "refused").exists()
    allowed = run_cli(
        *args,
        "--allow-plain-http",
        "--timeout",
        "1",
        reports=tmp_path / "allowed",
        env={"ENROLMENT_API_SECRET": SECRET},
    )
    assert allowed.returncode == 3 and "loopback guard" in allowed.error_line, allowed.stderr


def test_a_bad_tenant_flag_is_refused_before_any_request(tmp_path: Path) -> None:
    code, out, err = cli_main(
        "run",
        "--base-url",
        "http://127.0.0.1:9/rest/v1",
        "--tenant-id",
        "x:y",
        "--reports",
        str(tmp_path / "r"),
    )
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "error: --tenant-id must be a tenant ID of letters, digits, '.', '_' and '-' (and not dots alone), "
        "got 'x:y'"
    ]
    assert not (tmp_path / "r").exists()


def test_an_unknown_requirements_area_is_a_usage_error() -> None:
    code, out, err = cli_main("requirements", "--area", "AUTHS")
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "error: unknown area 'AUTHS': choose one of "
        "AUTH, OAUTH, SCOPE, STATUS, DATE, SCHEMA, ERR, ISO, HTTP, FUZZ"
    ]
    code, out, _ = cli_main("requirements", "--area", "iso")
    assert code == 0 and out.startswith("ISO-001")
