"""Unit tests for conformance.fuzzing: generated requests sent through the suite's client to a fake target."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from conformance import case_cache, jsonbody
from conformance.auth import BasicAuth, BearerAuth
from conformance.client import Client, ClientLimits, RequestBudgetExhausted
from conformance.config import Credentials, FixtureEnrolment
from conformance.fuzzing import Fuzzer, FuzzSession, fuzz_document, load_operation
from conformance.redact import Redactor
from conformance.spec import default_spec_path, load_spec

BASE_URL = "http://target.test/rest/v1"
TENANT = Credentials("eu-west-2_FuzzTenant", "fuzz-secret-value", "FUZZ_SECRET")
TOKEN = "good-token-0123456789"
FIXTURE = FixtureEnrolment("0123456789abcdef01234567", "89abcdef0123456789abcdef", "open")
ID = re.compile(r"[0-9a-f]{24}")
UNSAFE_IN_PATH = re.compile(r"%(5C|[01][0-9A-F]|7F)", re.IGNORECASE)  # backslash and control characters
ROUTE = re.compile(r"/rest/v1/assignments/([^/]+)/enrolments/([^/]+)")
EVENT = {
    "type": "created",
    "previousStatus": "unassigned",
    "newStatus": "open",
    "createdAt": "2024-01-01T10:00:00Z",
}
ENROLMENT = {
    "id": FIXTURE.enrolment_id,
    "userId": "63feb359efcdc6f51a621bcd",
    "assignmentId": FIXTURE.assignment_id,
    "status": "open",
    "eventLog": [EVENT],
    "updatedAt": "2024-01-01T10:00:00+01:00",
}
Handler = Callable[[httpx.Request], httpx.Response]


def error(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"message": f"error {status}"}, headers=headers)


def correct_target(request: httpx.Request) -> httpx.Response:
    """A target keeping the contract: 401, then 422, then 404; a '/' decoded from %2F misses the route."""
    expected_basic = "Basic " + base64.b64encode(f"{TENANT.tenant_id}:{TENANT.secret}".encode()).decode()
    if request.headers.get("authorization") not in (expected_basic, f"Bearer {TOKEN}"):
        return error(401, **{"WWW-Authenticate": 'Basic realm="api"'})
    match = ROUTE.fullmatch(unquote(request.url.raw_path.decode("ascii")))
    if match is None:
        return error(404)
    assignment_id, enrolment_id = match.groups()
    if not (ID.fullmatch(assignment_id) and ID.fullmatch(enrolment_id)):
        return error(422)
    if (assignment_id, enrolment_id) != (FIXTURE.assignment_id, FIXTURE.enrolment_id):
        return error(404)
    return httpx.Response(200, json=ENROLMENT)


def broken(change: Callable[[httpx.Request, httpx.Response], httpx.Response | None]) -> Handler:
    """The correct target, with its answer replaced wherever change returns one."""

    def handler(request: httpx.Request) -> httpx.Response:
        response = correct_target(request)
        return change(request, response) or response

    return handler


# fault -> (the broken target, the check that must catch it, the mode whose requests show it)
FAULTS: dict[str, tuple[Handler, str, str]] = {
    "malformed-500": (
        broken(lambda _, response: error(500) if response.status_code == 422 else None),
        "not_a_server_error",
        "negative",
    ),
    "malformed-400": (
        broken(lambda _, response: error(400) if response.status_code == 422 else None),
        "status_code_conformance",
        "negative",
    ),
    "errors-text": (
        broken(lambda _, response: httpx.Response(404, text="no") if response.status_code == 404 else None),
        "content_type_conformance",
        "positive",
    ),
    "error-array": (
        broken(lambda _, response: httpx.Response(422, json=[]) if response.status_code == 422 else None),
        "response_schema_conformance",
        "negative",
    ),
    "malformed-200": (
        broken(lambda _, response: httpx.Response(200, json={}) if response.status_code == 422 else None),
        "negative_data_rejection",
        "negative",
    ),
    "no-auth-needed": (
        broken(
            lambda request, response: (
                httpx.Response(200, json=ENROLMENT)
                if response.status_code == 401 and request.url.path.endswith(FIXTURE.enrolment_id)
                else None
            )
        ),
        "ignored_auth",
        "positive",
    ),
}


@pytest.fixture
def spec() -> dict:
    return load_spec(default_spec_path())


@pytest.fixture(autouse=True)
def in_empty_directory(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Each test runs in an empty working directory, checked to stay empty, with a cache of its own."""
    monkeypatch.setenv(case_cache.CACHE_DIR_ENV, str(tmp_path_factory.mktemp("cache")))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert os.listdir(tmp_path) == [], "fuzzing wrote to the current directory"


def make_client(
    handler: Handler, hosts: list[str] | None = None, max_requests: int | None = None, concurrency: int = 4
) -> Client:
    def recording(request: httpx.Request) -> httpx.Response:
        if hosts is not None:
            hosts.append(f"{request.url.scheme}://{request.url.netloc.decode()}")
        answer = handler(request)
        # Unread, as a real transport hands it over: the client streams every body itself.
        stream = httpx.ByteStream(answer.content)
        return httpx.Response(answer.status_code, headers=answer.headers, stream=stream)

    redactor = Redactor()
    redactor.add_basic(TENANT.tenant_id, TENANT.secret)
    return Client(
        BASE_URL,
        allowed_hosts=frozenset({"target.test"}),
        redactor=redactor,
        limits=ClientLimits(max_requests=max_requests, concurrency=concurrency),
        transport=httpx.MockTransport(recording),
    )


def run(
    spec: dict, handler: Handler, mode: str, scheme: str = "basic", *, seed: int = 0, max_examples: int = 50
) -> FuzzSession:
    fuzzer = Fuzzer(spec, make_client(handler), [FIXTURE], seed=seed, max_examples=max_examples)
    return session_of(fuzzer, mode, scheme)


def session_of(fuzzer: Fuzzer, mode: str, scheme: str = "basic") -> FuzzSession:
    if scheme == "basic":
        wrong = Credentials(TENANT.tenant_id, TENANT.secret + "-invalid", TENANT.secret_env)
        return fuzzer.session(mode, scheme, BasicAuth(TENANT), BasicAuth(wrong))
    return fuzzer.session(mode, scheme, BearerAuth(TOKEN), BearerAuth("invalid"))


def test_the_document_targets_only_the_base_url_and_the_fixtures(spec: dict) -> None:
    document = fuzz_document(spec, BASE_URL, [FIXTURE])
    assert document["servers"] == [{"url": BASE_URL}]
    assert list(document["paths"]) == ["/assignments/{assignmentId}/enrolments/{enrolmentId}"]
    parameters = document["components"]["parameters"]
    assert parameters["AssignmentId"]["examples"] == {"fixture-1": {"value": FIXTURE.assignment_id}}
    assert parameters["EnrolmentId"]["examples"] == {"fixture-1": {"value": FIXTURE.enrolment_id}}
    assert "example" not in parameters["EnrolmentId"]
    assert spec["servers"][0]["url"].startswith("https://public.api."), "the loaded spec must not be changed"


def test_the_token_endpoint_is_never_offered_to_schemathesis(spec: dict) -> None:
    document = fuzz_document(spec, BASE_URL, [FIXTURE])
    operation = load_operation(document, BASE_URL)
    assert operation.label == "GET /assignments/{assignmentId}/enrolments/{enrolmentId}"
    assert [op.ok().label for op in operation.schema.get_all_operations()] == [operation.label]


@pytest.mark.parametrize(("mode", "scheme"), [("positive", "basic"), ("negative", "bearer")])
def test_every_request_goes_to_the_target(spec: dict, mode: str, scheme: str) -> None:
    hosts: list[str] = []
    fuzzer = Fuzzer(spec, make_client(correct_target, hosts), [FIXTURE], seed=0, max_examples=30)
    session = session_of(fuzzer, mode, scheme)
    assert session.judged > 10
    assert set(hosts) == {"http://target.test"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_correct_target_has_no_failures(spec: dict, seed: int) -> None:
    fuzzer = Fuzzer(spec, make_client(correct_target), [FIXTURE], seed=seed, max_examples=50)
    for mode in ("positive", "negative"):
        for scheme in ("basic", "bearer"):
            session = session_of(fuzzer, mode, scheme)
            assert session.error is None
            assert session.findings == {}, (mode, scheme)
            assert session.generated == 50
            assert session.auth_probed == (mode == "positive")


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_attributed_to_its_check(spec: dict, fault: str) -> None:
    handler, check, mode = FAULTS[fault]
    session = run(spec, handler, mode, max_examples=30)
    assert check in session.findings, session.findings.keys()
    finding = session.failures(check)[0]
    assert finding.response.extensions["exchange"].url.startswith(BASE_URL)


def test_negative_cases_break_only_the_path(spec: dict) -> None:
    requests: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return correct_target(request)

    run(spec, recording, "negative", max_examples=30)
    probe, *cases = requests
    assert "authorization" not in probe.headers
    assert {request.headers["authorization"].split()[0] for request in cases} == {"Basic"}
    assert all(not request.url.query for request in cases)
    assert all("applied-by-the-suite" not in json.dumps(dict(request.headers)) for request in cases)
    assert any(UNSAFE_IN_PATH.search(request.url.raw_path.decode()) for request in cases)


def test_the_same_seed_sends_the_same_requests(spec: dict) -> None:
    def urls(seed: int) -> list[str]:
        sent: list[str] = []

        def recording(request: httpx.Request) -> httpx.Response:
            sent.append(str(request.url))
            return correct_target(request)

        run(spec, recording, "negative", seed=seed, max_examples=20)
        return sent

    assert urls(7) == urls(7)
    assert urls(7) != urls(8)


def test_identical_requests_are_sent_once(spec: dict) -> None:
    sent: list[str] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.headers.get('authorization')} {request.url}")
        return correct_target(request)

    fuzzer = Fuzzer(spec, make_client(recording), [FIXTURE], seed=0, max_examples=50)
    positive = session_of(fuzzer, "positive")
    negative = session_of(fuzzer, "negative")
    assert len(sent) == len(set(sent))
    assert len(sent) <= 1 + positive.judged + negative.judged + 2  # + the path probe, the two FUZZ-006 probes
    assert session_of(fuzzer, "positive") is positive


def test_a_spent_budget_stops_the_session_with_the_error(spec: dict) -> None:
    client = make_client(correct_target, max_requests=5, concurrency=1)
    fuzzer = Fuzzer(spec, client, [FIXTURE], seed=0, max_examples=30)
    session = session_of(fuzzer, "negative")
    assert isinstance(session.error, RequestBudgetExhausted)
    assert session.judged == 4  # the path probe and four cases were sent, the fifth found the budget spent


def test_a_spent_budget_stops_a_concurrent_session_within_the_budget(spec: dict) -> None:
    client = make_client(correct_target, max_requests=5, concurrency=4)
    session = session_of(Fuzzer(spec, client, [FIXTURE], seed=0, max_examples=30), "negative")
    assert isinstance(session.error, RequestBudgetExhausted)
    assert client.requests_sent == 5
    assert session.judged <= 4  # judged in generation order up to the first case the budget refused


def test_a_server_refusing_control_characters_in_paths_is_not_blamed_for_it(spec: dict) -> None:
    """Like Tomcat: a bare 400 for a backslash or control character in the path, before routing."""
    paths: list[str] = []

    def strict_decoder(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode("ascii"))
        return httpx.Response(400) if UNSAFE_IN_PATH.search(paths[-1]) else correct_target(request)

    session = run(spec, strict_decoder, "negative", max_examples=30)
    assert paths[0] == "/rest/v1/schemathesis-probe%5C%1B%01"  # the probe
    assert session.findings == {}
    assert not any(UNSAFE_IN_PATH.search(path) for path in paths[1:])


def test_without_fixtures_authentication_is_not_probed(spec: dict) -> None:
    fuzzer = Fuzzer(spec, make_client(correct_target), [], seed=0, max_examples=20)
    session = session_of(fuzzer, "positive")
    assert session.fixture_cases == 0 and session.successes == 0
    assert not session.auth_probed and session.findings == {}


@pytest.mark.parametrize(
    ("body", "findings"), [({"title": "Not Found"}, set()), ([], {"response_schema_conformance"})]
)
def test_problem_json_is_taken_for_the_documented_json(spec: dict, body: object, findings: set[str]) -> None:
    """application/problem+json passes content_type_conformance, and its body is still validated."""

    def problem(request: httpx.Request) -> httpx.Response:
        answer = correct_target(request)
        if answer.status_code != 404:
            return answer
        return httpx.Response(
            404, content=json.dumps(body), headers={"Content-Type": "application/problem+json"}
        )

    session = run(spec, problem, "positive", max_examples=10)
    assert set(session.findings) == findings


def sent_requests(handler: Handler) -> tuple[Handler, list[str]]:
    sent: list[str] = []

    def recording(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.headers.get('authorization')} {request.url}")
        return handler(request)

    return recording, sent


def test_a_second_run_reads_the_cases_from_the_cache_and_sends_the_same(
    spec: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, sent_first = sent_requests(correct_target)
    fresh = run(spec, first, "negative", max_examples=20)

    def no_generation(*_: object) -> None:
        raise AssertionError("generated again despite the cache")

    monkeypatch.setattr(Fuzzer, "_generate", no_generation)
    second, sent_second = sent_requests(correct_target)
    cached = run(spec, second, "negative", max_examples=20)
    assert sorted(sent_second) == sorted(sent_first)  # sent 4 at a time: in the order the threads go
    assert (cached.generated, cached.judged, cached.findings) == (fresh.generated, fresh.judged, {})


def test_cached_negative_cases_are_still_judged_as_negative(spec: dict) -> None:
    handler, check, mode = FAULTS["malformed-200"]
    run(spec, handler, mode, max_examples=20)
    assert check in run(spec, handler, mode, max_examples=20).findings  # the second from the cache


def cache_files() -> list[Path]:
    return sorted((case_cache.cache_dir() / "cases").glob("*.pickle"))


@pytest.mark.parametrize("spoil", ["corrupt", "writable by others", "truncated"])
def test_a_spoiled_cache_entry_is_generated_again(spec: dict, spoil: str) -> None:
    first, sent_first = sent_requests(correct_target)
    run(spec, first, "negative", max_examples=10)
    (entry,) = cache_files()
    if spoil == "corrupt":
        entry.write_bytes(b"not a pickle")
    elif spoil == "truncated":
        entry.write_bytes(entry.read_bytes()[:100])
    else:
        entry.chmod(0o666)
    assert case_cache.load(entry.stem) is None
    second, sent_second = sent_requests(correct_target)
    run(spec, second, "negative", max_examples=10)
    assert sorted(sent_second) == sorted(sent_first)  # the same cases (sent 4 at a time, in any order)
    assert case_cache.load(entry.stem) is not None  # rewritten, private again


def test_other_inputs_are_other_cache_entries(spec: dict) -> None:
    run(spec, correct_target, "negative", max_examples=5)
    run(spec, correct_target, "negative", seed=1, max_examples=5)
    run(spec, correct_target, "negative", max_examples=6)
    run(spec, correct_target, "positive", max_examples=5)
    assert len(cache_files()) == 4


def test_findings_keep_only_the_first_response_of_each_check(spec: dict) -> None:
    """A target failing every request with a large body: the findings are counted, not all kept."""
    body = b'{"padding": "' + b"x" * 200_000 + b'"}'

    def large(_: httpx.Request) -> httpx.Response:
        return httpx.Response(500, content=body, headers={"Content-Type": "application/json"})

    session = run(spec, large, "negative", max_examples=30)
    assert session.count("not_a_server_error") == session.judged > 10
    assert all(len(kept) == 1 for kept in session.findings.values())


def test_json_nested_too_deep_is_a_schema_finding(spec: dict) -> None:
    deep = "[" * 100_000 + "]" * 100_000

    def nested(request: httpx.Request) -> httpx.Response:
        answer = correct_target(request)
        if answer.status_code != 404:
            return answer
        return httpx.Response(404, content=deep, headers={"Content-Type": "application/json"})

    session = run(spec, nested, "positive", max_examples=10)
    (finding,) = session.failures("response_schema_conformance")
    assert "nested too deep" in finding.detail
    assert session.error is None and set(session.findings) == {"response_schema_conformance"}
    assert jsonbody.MAX_DEPTH < 1000


def test_a_request_a_check_already_sent_is_not_sent_again(spec: dict) -> None:
    handler, sent = sent_requests(correct_target)
    client = make_client(handler)
    client.get_enrolment(FIXTURE.assignment_id, FIXTURE.enrolment_id, auth=BasicAuth(TENANT))  # a check
    client.get_enrolment(FIXTURE.assignment_id, FIXTURE.enrolment_id, auth=None)  # another check
    fuzzer = Fuzzer(spec, client, [FIXTURE], seed=0, max_examples=20)
    session = session_of(fuzzer, "positive")
    assert session.auth_probed and session.successes >= 1
    assert len(sent) == len(set(sent))


def test_an_unwritable_cache_entry_leaves_no_temporary_file(monkeypatch: pytest.MonkeyPatch) -> None:

    def disk_full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(case_cache.os, "replace", disk_full)
    case_cache.store("k" * 64, [1, 2, 3])  # skipped, as a cache that cannot be written is
    assert list((case_cache.cache_dir() / "cases").iterdir()) == []
