"""The redactor's own rules, each one a leak or a broken repro line a hostile target once caused."""

from __future__ import annotations

from conformance.redact import Redactor

TOKEN = "fake-ACCESS-token-0-620cadc02e005b1b"


def test_a_secret_is_masked_in_any_case() -> None:
    """The HTTP client lowercases header names: a header named after a token held the token, lowercased."""
    redactor = Redactor([TOKEN, "Qz9X"])
    assert redactor.headers([("x-" + TOKEN.lower(), "1")]) == {"x-***": "1"}
    assert redactor.text(f"{TOKEN.upper()} qz9x QZ9X") == "*** *** ***"


def test_the_longest_secret_is_masked_whole() -> None:
    redactor = Redactor(["abcdefgh", "abcdefgh-wrong"])
    assert redactor.text("got abcdefgh-wrong") == "got ***"


def test_a_short_secret_is_left_alone_in_the_suites_own_words() -> None:
    redactor = Redactor(["open"])
    assert (redactor.text("status open"), redactor.fixed("status open")) == ("status ***", "status open")


def test_an_unregistered_query_token_is_masked_and_the_closing_quote_kept() -> None:
    """A repro line's URL is a quoted shell word: the mask of ?access_token= stops at the quote."""
    redactor = Redactor()
    line = "curl 'http://h/x?access_token=abc123' -i"
    assert redactor.text(line) == "curl 'http://h/x?access_token=***' -i"
    form = "grant_type=x&client_secret=s3cr3t&scope=a"
    assert redactor.text(form) == "grant_type=x&client_secret=***&scope=a"


def test_overlapping_secrets_and_a_text_whose_lowercase_is_longer() -> None:
    redactor = Redactor(["abcdef", "defghi"])
    assert redactor.text("x ABCDEFGHI y") == "x *** y"  # one stretch, one mask
    assert redactor.text("\u0130 AbCdEf") == "\u0130 ***"  # İ lowercases to two characters


def test_a_text_already_masked_once_is_masked_again_after_a_new_secret() -> None:
    """Masked texts are remembered: a secret added later must still be masked in a text seen before."""
    redactor = Redactor(["first-secret"])
    assert redactor.text("late-secret first-secret") == "late-secret ***"
    redactor.add("late-secret")
    assert redactor.text("late-secret first-secret") == "*** ***"


def test_a_quoted_authorization_value_is_masked_in_any_case_and_spelling() -> None:
    """The Authorization pattern is tried whenever a scheme may be named: in any case, and outside
    ASCII, where (?i) matches letters str.lower() does not fold (a long s matches s)."""
    redactor = Redactor()
    credentials = "dXNlcjpwYXNzd29yZDEyMw=="
    for scheme in ("Basic", "BASIC", "bEaReR", "Ba\u017fic"):
        assert redactor.text(f'{{"echo": "{scheme} {credentials}"}}') == f'{{"echo": "{scheme} ***"}}'
    assert redactor.text('{"access_token": "tok-1"}') == '{"access_token": "***"}'
    assert redactor.text("Basic credentials required") == "Basic credentials required"
