"""Config parsing: the TOML shape, the flags that override it, and every error it reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.config import ConfigError, Overrides, is_production, load_settings

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


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conformance.toml"
    path.write_text(text, encoding="utf-8")
    return path


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


def test_env_preset_fills_urls() -> None:
    settings = load_settings(None, Overrides(environment="staging-mea", tenant_id="eu-west-2_X"), SECRETS)
    assert settings.target.base_url == "https://public.api.meastaging.learn.tech/rest/v1"
    assert settings.target.token_url_for("T") == "https://public.api.meastaging.learn.tech/oauth2/token/T"
    assert (
        settings.target.token_url_for("T", webhooks=True)
        == "https://user.api.meastaging.learn.tech/oauth2/token/T"
    )
    assert not is_production(settings)


@pytest.mark.parametrize("env", ["production", "production-mea"])
def test_production_is_recognised(env: str) -> None:
    assert is_production(load_settings(None, Overrides(environment=env, tenant_id="eu-west-2_X"), SECRETS))


def test_production_host_given_as_url_is_recognised() -> None:
    overrides = Overrides(base_url="https://public.api.learn.link/rest/v1", tenant_id="eu-west-2_X")
    assert is_production(load_settings(None, overrides, SECRETS))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[target\nbase_url=", "is not valid TOML"),
        (
            '[target]\nbase_url = "ftp://x/y"\n[credentials]\ntenant_id="t"',
            "must be an http:// or https:// URL",
        ),
        ('[target]\nbase_url = "http://u:p@h/"\n[credentials]\ntenant_id="t"', "must not carry credentials"),
        (
            '[target]\nbase_url = "http://h/"\ntoken_url = "http://h/token"\n[credentials]\ntenant_id="t"',
            "must contain the placeholder {tenantId}",
        ),
        (
            '[target]\nbase_url = "http://h/"\nbase_uri = "x"\n[credentials]\ntenant_id="t"',
            "unknown config key target.base_uri",
        ),
        ('[target]\nbase_url = "http://h/"', "no tenant"),
        ('[credentials]\ntenant_id="t"', "no target"),
        (
            '[target]\nbase_url = "http://h/"\n[credentials]\ntenant_id="t"\napi_secret_env="MISSING_VAR"',
            "environment variable MISSING_VAR (credentials.api_secret_env) is not set",
        ),
        (
            '[target]\nbase_url = "http://h/"\n[credentials]\ntenant_id="t"\napi_secret_env="not a name"',
            "must be the NAME of an environment variable",
        ),
        (
            '[target]\nbase_url = "http://h/"\n[credentials]\ntenant_id="t"\n[[fixtures.enrolments]]\n'
            'assignment_id = "ABC"\nenrolment_id = "63f57d805d8ecbf46f5b5278"',
            "fixtures.enrolments[0].assignment_id must be 24 lowercase hex characters",
        ),
        (
            '[target]\nbase_url = "http://h/"\n[credentials]\ntenant_id="t"\n[[fixtures.enrolments]]\n'
            'assignment_id = "12347d805d8ecbf46f5b5278"\n'
            'enrolment_id = "63f57d805d8ecbf46f5b5278"\nstatus = "Open"',
            "status must be one of",
        ),
        (
            '[target]\nbase_url = "http://h/"\n[credentials]\ntenant_id="t"\n[credentials.other_tenant]\n'
            'tenant_id = "t"',
            "must differ from credentials.tenant_id",
        ),
        (
            '[target]\nbase_url = 5\n[credentials]\ntenant_id="t"',
            "target.base_url must be a non-empty string",
        ),
        ('target = "x"', "target must be a table"),
    ],
)
def test_config_errors_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, text), Overrides(), SECRETS)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", Overrides(), SECRETS)


def test_unknown_environment_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown environment 'moon'"):
        load_settings(None, Overrides(environment="moon", tenant_id="t"), SECRETS)


def test_bad_max_examples_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--max-examples must be at least 1"):
        load_settings(write(tmp_path, FULL), Overrides(max_examples=0), SECRETS)
