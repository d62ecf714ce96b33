"""The reference target's data and its enrolment resource, in process (Starlette TestClient).

``readings`` checks an enrolment document against every reading of CONTRACT.md,
so the seeded data is proven to obey the contract at any clock time, and so is
what the resource serves (also with the benign faults on).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from conformance.reference.app import create_app
from conformance.reference.data import TENANT_A, TENANT_B, Fixture, seed
from conformance.reference.faults import FAULTS, UnknownFault
from conformance.reference.throttling import THROTTLING

SECRETS = {TENANT_A: "reference-secret-a-0123456789", TENANT_B: "reference-secret-b-0123456789"}
NOW = datetime(2024, 3, 15, 12, 34, 56, 789_000, tzinfo=UTC)
STATUSES = ("archived", "complete", "open", "overdue", "scheduled", "unassigned")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
ID = re.compile(r"[0-9a-f]{24}")
FIXTURES_A = seed(NOW).fixtures(TENANT_A)
FIXTURES_B = seed(NOW).fixtures(TENANT_B)
BASIC_A = (TENANT_A, SECRETS[TENANT_A])
BASIC_B = (TENANT_B, SECRETS[TENANT_B])
# the benign faults that change the form of the answers (the throttling ones change when they come)
BENIGN = [name for name, fault in FAULTS.items() if fault.benign and name not in THROTTLING]


def readings(doc: dict[str, Any], now: datetime) -> list[str]:
    """Every way the document breaks a reading of CONTRACT.md (empty when it obeys them all)."""
    problems = [
        f"{key} missing" for key in ("id", "userId", "assignmentId", "status", "updatedAt") if key not in doc
    ]
    events = doc["eventLog"]
    dates: dict[str, datetime] = {}

    def date(where: str, value: str) -> datetime:
        if not RFC3339.fullmatch(value):
            problems.append(f"{where} = {value!r} is not RFC 3339 with a zone")
        dates[where] = datetime.fromisoformat(value)
        return dates[where]

    for key in ("availableDate", "dueDate", "lastCompletedAt", "updatedAt"):
        if doc.get(key) is not None:
            date(key, doc[key])
    status, available, due = doc["status"], dates.get("availableDate"), dates.get("dueDate")
    completed, updated = dates.get("lastCompletedAt"), dates["updatedAt"]
    if status not in STATUSES or status == "unassigned":
        problems.append(f"status {status!r}")
    if not events or events[0]["previousStatus"] != "unassigned":
        problems.append("the first event does not come from unassigned")
    if events and events[-1]["newStatus"] != status:
        problems.append("status is not the latest newStatus")
    previous = None
    for index, event in enumerate(events):
        if not event["type"] or {event["previousStatus"], event["newStatus"]} - set(STATUSES):
            problems.append(f"eventLog[{index}] type or status")
        if previous is not None and event["previousStatus"] != previous["newStatus"]:
            problems.append(f"eventLog[{index}] breaks the status chain")
        if ("completionId" in event) != (event["newStatus"] == "complete"):
            problems.append(f"eventLog[{index}] completionId on a non-completion event (or missing)")
        created = date(f"eventLog[{index}].createdAt", event["createdAt"])
        if event.get("updatedAt") is not None and created > date(
            f"eventLog[{index}].updatedAt", event["updatedAt"]
        ):
            problems.append(f"eventLog[{index}] created after updated")
        if previous is not None and created < dates[f"eventLog[{index - 1}].createdAt"]:
            problems.append(f"eventLog[{index}] out of time order")
        previous = event
    if any(updated < value for key, value in dates.items() if key.startswith("eventLog")):
        problems.append("updatedAt before an event")
    past = [
        key
        for key, value in dates.items()
        if key.startswith("eventLog") or key in ("updatedAt", "lastCompletedAt")
    ]
    problems += [f"{key} is in the future" for key in past if dates[key] > now]
    if available and due and available > due:
        problems.append("availableDate after dueDate")
    if status == "complete" and (completed is None or (due is not None and completed > due)):
        problems.append("complete without a completion before dueDate")
    if status == "overdue" and (due is None or due >= now or completed is not None):
        problems.append("overdue without a past dueDate, or with a completion")
    if status == "scheduled" and (available is None or available <= now):
        problems.append("scheduled without a future availableDate")
    if status == "open" and ((available is not None and available > now) or (due is not None and due <= now)):
        problems.append("open before its availableDate or after its dueDate")
    return problems


def make_client(faults: Collection[str] = (), now: datetime = NOW) -> TestClient:
    return TestClient(create_app(SECRETS, faults, lambda: now))


def url(assignment_id: str, enrolment_id: str) -> str:
    return f"/rest/v1/assignments/{assignment_id}/enrolments/{enrolment_id}"


def fixture(status: str) -> Fixture:
    return next(f for f in FIXTURES_A if f.status == status)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return make_client()


# --- the seeded data ---------------------------------------------------------------


def test_ids_are_fixed_lowercase_hex_and_unique() -> None:
    first, later = seed(NOW), seed(NOW + timedelta(days=400))
    assert [e.id for e in first.enrolments] == [e.id for e in later.enrolments]
    ids = [e.id for e in first.enrolments]
    assert len(set(ids)) == len(ids)
    for e in first.enrolments:
        values = [e.id, e.user_id, e.assignment_id, e.audience_id, e.primary_content_id]
        values += [event.completion_id for event in e.events]
        assert all(ID.fullmatch(value) for value in values if value is not None)


def test_tenant_a_holds_every_status_under_two_assignments_and_b_its_own() -> None:
    assert sorted(f.status for f in FIXTURES_A) == ["archived", "complete", "open", "overdue", "scheduled"]
    per_assignment = sorted(
        sum(f.assignment_id == a for f in FIXTURES_A) for a in {f.assignment_id for f in FIXTURES_A}
    )
    assert len(per_assignment) >= 2 and per_assignment[-1] >= 2
    assert len(FIXTURES_B) == 2
    assert not {f.assignment_id for f in FIXTURES_A} & {f.assignment_id for f in FIXTURES_B}


def test_the_published_example_ids_name_tenant_a_open_enrolment() -> None:
    assert fixture("open")[:2] == ("12347d805d8ecbf46f5b5278", "63f57d805d8ecbf46f5b5278")


@pytest.mark.parametrize(
    "now", [NOW, datetime(2031, 1, 1, tzinfo=UTC), datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)]
)
def test_every_seeded_enrolment_obeys_the_readings(now: datetime) -> None:
    client = make_client(now=now)
    for auth, fixtures in ((BASIC_A, FIXTURES_A), (BASIC_B, FIXTURES_B)):
        for f in fixtures:
            doc = client.get(url(f.assignment_id, f.enrolment_id), auth=auth).json()
            assert readings(doc, now) == [], f


def test_optional_fields_are_absent_when_there_is_nothing_to_say(client: TestClient) -> None:
    docs = {
        f.status: client.get(url(f.assignment_id, f.enrolment_id), auth=BASIC_A).json() for f in FIXTURES_A
    }
    assert any("audienceId" not in doc for doc in docs.values())
    assert sum("audienceId" in doc and "primaryContentId" in doc for doc in docs.values()) >= 3
    for status in ("open", "overdue", "scheduled"):
        assert "lastCompletedAt" not in docs[status]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", docs["open"]["updatedAt"])


def test_dates_stay_the_same_all_day_and_move_with_the_day() -> None:
    f = fixture("open")

    def read(now: datetime) -> dict[str, Any]:
        return make_client(now=now).get(url(f.assignment_id, f.enrolment_id), auth=BASIC_A).json()

    morning, evening = read(NOW.replace(hour=0, minute=0, second=1)), read(NOW.replace(hour=23, minute=59))
    assert morning == evening
    assert read(NOW + timedelta(days=1))["updatedAt"] != morning["updatedAt"]


# --- 200 ----------------------------------------------------------------------------


@pytest.mark.parametrize("f", FIXTURES_A, ids=lambda f: f.status)
def test_basic_reads_each_fixture(client: TestClient, f: Fixture) -> None:
    response = client.get(url(f.assignment_id, f.enrolment_id), auth=BASIC_A)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    assert (doc["id"], doc["assignmentId"], doc["status"]) == (f.enrolment_id, f.assignment_id, f.status)


@pytest.mark.parametrize("name", BENIGN)
def test_benign_faults_change_only_the_form(name: str) -> None:
    client = make_client([name])
    for f in FIXTURES_A:
        response = client.get(url(f.assignment_id, f.enrolment_id), auth=BASIC_A)
        assert response.status_code == 200
        assert readings(response.json(), NOW) == []


@pytest.mark.parametrize("name", THROTTLING)
def test_a_throttling_fault_answers_every_fourth_request_of_its_surface(name: str) -> None:
    throttle = THROTTLING[name]
    client = TestClient(create_app(SECRETS, [name], lambda: NOW, retry_after="7"))
    f = fixture("open")
    token_form = {"grant_type": "client_credentials", "scope": "api/read"}
    send = {
        "api": lambda: client.get(url(f.assignment_id, f.enrolment_id), auth=BASIC_A),
        "token": lambda: client.post(f"/oauth2/token/{TENANT_A}", data=token_form, auth=BASIC_A),
    }
    other = send.pop("token" if throttle.surface == "api" else "api")
    answers = [send[throttle.surface]() for _ in range(12)]
    assert [r.status_code for r in answers] == [200, 200, 200, throttle.status] * 3
    assert all(r.headers.get("retry-after") == ("7" if throttle.retry_after else None) for r in answers[3::4])
    assert all(other().status_code == 200 for _ in range(8))  # the other surface is not throttled


def test_head_is_get_without_a_body(client: TestClient) -> None:
    f = fixture("complete")
    get = client.get(url(f.assignment_id, f.enrolment_id), auth=BASIC_A)
    head = client.head(url(f.assignment_id, f.enrolment_id), auth=BASIC_A)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == get.headers["content-type"]


# --- 401 ----------------------------------------------------------------------------


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


BAD_CREDENTIALS = {
    "none": None,
    "wrong-secret": basic(f"{TENANT_A}:wrong".encode()),
    "unknown-tenant": basic(f"eu-west-2_Unknown000:{SECRETS[TENANT_A]}".encode()),
    "empty-tenant": basic(f":{SECRETS[TENANT_A]}".encode()),
    "not-base64": "Basic !!!not*base64!!!",
    "no-colon": basic(TENANT_A.encode()),
    "non-utf8": basic(b"\xff\xfe:\xc3\x28"),
    "empty": "Basic",
    "unknown-scheme": "Digest username=x, response=0",
    "empty-bearer": "Bearer",
}


@pytest.mark.parametrize("kind", BAD_CREDENTIALS)
def test_bad_credentials_get_401_with_both_challenges(client: TestClient, kind: str) -> None:
    f = fixture("open")
    header = BAD_CREDENTIALS[kind]
    response = client.get(
        url(f.assignment_id, f.enrolment_id), headers={"Authorization": header} if header else {}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="enrolments", Bearer realm="enrolments"'
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error", "message"}


@pytest.mark.parametrize("which", ["assignment", "enrolment"])
def test_authentication_comes_before_validation(client: TestClient, which: str) -> None:
    f = fixture("open")
    ids = (f.assignment_id, "not-an-id") if which == "enrolment" else ("not-an-id", f.enrolment_id)
    assert client.get(url(*ids)).status_code == 401


# --- 422 ----------------------------------------------------------------------------

VALID = "63f57d805d8ecbf46f5b5278"
MALFORMED = {
    "too-short": VALID[:23],
    "too-long": VALID + "0",
    "uppercase": VALID.upper(),
    "non-hex": VALID[:22] + "gz",
    "unicode": VALID[:23] + "é",
    "encoded-slash": VALID[:12] + "%2F" + VALID[13:],
    "encoded-newline": VALID + "%0A",
    "very-long": "a" * 5000,
    "empty": "",
}


@pytest.mark.parametrize("kind", MALFORMED)
@pytest.mark.parametrize("which", ["assignmentId", "enrolmentId"])
def test_malformed_ids_get_422(client: TestClient, kind: str, which: str) -> None:
    f = fixture("open")
    ids = (f.assignment_id, MALFORMED[kind]) if which == "enrolmentId" else (MALFORMED[kind], f.enrolment_id)
    response = client.get(url(*ids), auth=BASIC_A)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert which in response.json()["message"]


# --- 404 ----------------------------------------------------------------------------


def test_unknown_or_misplaced_enrolments_get_404(client: TestClient) -> None:
    open_a, archived_a, b = fixture("open"), fixture("archived"), FIXTURES_B[0]
    unknown = "ffffffffffffffff00000000"
    for assignment_id, enrolment_id, auth in [
        (open_a.assignment_id, unknown, BASIC_A),  # unknown enrolment, known assignment
        (unknown, open_a.enrolment_id, BASIC_A),  # known enrolment, unknown assignment
        (archived_a.assignment_id, open_a.enrolment_id, BASIC_A),  # under another existing assignment
        (open_a.assignment_id, open_a.enrolment_id, BASIC_B),  # tenant B reads tenant A's
        (b.assignment_id, b.enrolment_id, BASIC_A),  # tenant A reads tenant B's
    ]:
        response = client.get(url(assignment_id, enrolment_id), auth=auth)
        assert (response.status_code, response.json()["error"]) == (404, "not_found")


def test_tenant_b_reads_its_own(client: TestClient) -> None:
    for f in FIXTURES_B:
        assert client.get(url(f.assignment_id, f.enrolment_id), auth=BASIC_B).status_code == 200


@pytest.mark.parametrize(
    "path", ["/rest/v1/assignments/x", "/elsewhere", url(VALID, VALID) + "/", url(VALID, VALID) + "/x"]
)
def test_other_paths_get_a_json_404(client: TestClient, path: str) -> None:
    response = client.get(path, auth=BASIC_A, follow_redirects=False)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"


# --- 405 ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_get_405_with_allow(client: TestClient, method: str) -> None:
    f = fixture("open")
    response = client.request(method, url(f.assignment_id, f.enrolment_id), auth=BASIC_A)
    assert (response.status_code, response.headers["allow"]) == (405, "GET, HEAD")
    assert response.json()["error"] == "method_not_allowed"


def test_unknown_fault_names_are_refused() -> None:
    with pytest.raises(UnknownFault, match="no-such-fault"):
        create_app(SECRETS, ["no-such-fault"])
