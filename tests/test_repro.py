"""Repro lines parse as shell and reproduce what was sent, secrets as expressions over their variable."""

from __future__ import annotations

import base64
import subprocess

import pytest

from conformance import repro
from conformance.auth import RawAuthorization, basic_credentials, decoded_basic
from conformance.checks.auth import wrong_secrets

SECRET = "fake-SECRET/value+4b1d=9e7a"
ENV = "ENROLMENT_API_SECRET"
WORDS = repro.Words({ENV: SECRET}, lambda text: text.replace(SECRET, "***"))


def shell_value(word: str) -> str:
    done = subprocess.run(
        ["bash", "-c", f"printf %s {word}"],
        capture_output=True,
        text=True,
        env={ENV: SECRET, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("kind", "wrong"), sorted(wrong_secrets(SECRET).items()))
def test_a_derived_secret_is_a_shell_expression_that_gives_it_back(kind: str, wrong: str) -> None:
    word = WORDS.value(wrong)
    assert SECRET not in word and (not wrong or wrong not in word), kind
    assert shell_value(word) == wrong, kind


def test_a_token_request_line_parses_and_keeps_its_quotes() -> None:
    line = repro.curl_command(
        "POST",
        "http://127.0.0.1:1/oauth2/token/t",
        [("Content-Type", "application/x-www-form-urlencoded")],
        WORDS,
        form={"grant_type": "client_credentials", "client_id": "t", "client_secret": SECRET},
    )
    assert SECRET not in line and f'"${ENV}"' in line
    assert subprocess.run(["bash", "-n", "-c", line]).returncode == 0, line


@pytest.mark.parametrize("query", ["access_token=TOKEN", "x=1&access_token=TOKEN&y=2"])
def test_a_token_in_the_query_is_sent_again_from_access_token(query: str) -> None:
    """OAUTH-013's request: the repro sends $ACCESS_TOKEN where the token was, so it reproduces."""
    token = "eyJhbGciOi.J9-token_value"
    url = f"http://127.0.0.1:1/assignments/a/enrolments/e?{query.replace('TOKEN', token)}"
    words = repro.Words({}, lambda text: text.replace(token, "***"))
    line = repro.curl_command("GET", url, [], words)
    assert token not in line and "***" not in line and line.endswith("# with a token in ACCESS_TOKEN")
    url_word = line.split(" ", 4)[4].split("  #")[0]
    done = subprocess.run(
        ["bash", "-c", f"printf %s {url_word}"],
        capture_output=True,
        text=True,
        env={"ACCESS_TOKEN": token, "PATH": "/usr/bin:/bin"},
    )
    assert done.stdout == url


@pytest.mark.parametrize(
    ("payload", "pair"),
    [
        (basic_credentials("tenant", SECRET), ("tenant", SECRET)),
        (basic_credentials("", SECRET), ("", SECRET)),  # an empty user is still user:password
        (base64.b64encode(b"no colon").decode(), None),
        ("not base64!", None),
        (base64.b64encode(b"\xff:\xfe").decode(), None),  # not UTF-8
        (" " + basic_credentials("tenant", SECRET), None),  # taken as it is: callers strip if they mean to
    ],
)
def test_a_basic_payload_decodes_to_user_and_password_or_none(
    payload: str, pair: tuple[str, str] | None
) -> None:
    assert decoded_basic(payload) == pair


def test_a_hand_made_basic_header_over_the_secret_is_rebuilt_from_its_variable() -> None:
    payload = basic_credentials("tenant", SECRET + "-wrong")
    value = f"Basic {payload}"
    words = repro.Words({ENV: SECRET}, lambda text: WORDS.mask(text).replace(payload, "***"))  # as the run's
    line = repro.curl_command("GET", "http://127.0.0.1:1/e", [], words, auth=RawAuthorization(value).repro())
    header = line.split(" -H ", 1)[1].rsplit(" ", 1)[0]
    assert SECRET not in line and "base64" in header
    assert shell_value(header) == f"Authorization: {value}"
