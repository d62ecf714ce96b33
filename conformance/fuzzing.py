"""Property-based fuzzing of GET enrolment: schemathesis generates and judges, the suite's client sends.

schemathesis turns the OpenAPI document into a hypothesis strategy of test cases
for the one operation the suite certifies (``operationId: getEnrolment``), in
*positive* mode (inputs the spec allows) or *negative* mode (inputs it forbids:
here, path parameters that do not match ``^[0-9a-f]{24}$``). Every case is sent
through :class:`conformance.client.Client`, never through schemathesis's own
transport, so the request budget, rate limit, redirect policy, host allow-list
and redaction apply and every exchange is recorded as evidence. Each response is
then judged by schemathesis's checks *one at a time*
(``case.validate_response(response, checks=[check])``), so every failure is
attributed to the check, and so to the requirement, that found it (``CHECKS``).

Where the requests go. The spec's ``servers`` are the real production and
staging hosts. The copy of the document handed to schemathesis has them
replaced by the target's base URL, and each request URL is built here as the
client's base URL plus the case's already percent-encoded path (and checked to
be so), so no generated request can go anywhere else. Operations marked
``x-conformance-fuzz: false`` (the token endpoint) are removed from that copy:
schemathesis never sees them.

Credentials. The run's credentials are applied by the client, not generated:
schemathesis is given a placeholder ``Authorization`` header, which keeps it
from generating (or, in negative mode, breaking) credentials itself, and the
placeholder is replaced by the real header when the request is sent.

FUZZ-006 (``ignored_auth``). schemathesis's ``ignored_auth`` replays requests
itself through ``requests``, outside the budget, the rate limit and the
redaction. So the rule is implemented here with the suite's client instead:
the first time, in a positive session, a request with valid credentials gets a
2xx, the same request is sent without credentials and with invalid credentials
of the same scheme; each must be refused (401 or 403, or a redirect, exactly as
``ignored_auth`` judges it). As in ``ignored_auth``, this is done once per
operation per session, and never in negative mode (an invalid path may miss the
route, so its answer says nothing about authentication).

Servers that refuse some paths before routing. Like schemathesis's engine,
one unauthenticated probe (``PATH_DECODER_PROBE``) asks whether the server's
URL decoder refuses backslashes and control characters with a bare 400 (Tomcat,
some WAFs); if it does, generation leaves those characters out, since the
application behind it never sees them.

Negative data (FUZZ-005). A negative case must get a 4xx (the contract's code
for a malformed ID is 422; ERR-003/ERR-004 hold it to exactly that); a 5xx is
left to FUZZ-001, so one crash is not reported twice.

Content types. The contract publishes no error body shape ("expect a JSON
object"), so a JSON media type with a ``+json`` suffix (e.g.
``application/problem+json``) is taken for the ``application/json`` the spec
documents (unless the spec documents it by name): it passes
``content_type_conformance`` and its body is validated against the
``application/json`` schema. Any other undocumented media type fails.

Reproducibility and speed. hypothesis runs derandomized and seeded with ``--seed``,
with no deadline, no example database and no shrinking: the same seed and
``--max-examples`` generate the same requests. Each mode is generated once and its
cases are sent with each set of credentials (Basic, then Bearer); generated cases
are kept between runs by :mod:`conformance.case_cache`, and hypothesis's own cache
(unicode tables, source constants) lives in the same user cache directory, so
nothing is written to the current directory (no ``.hypothesis/``).

No request twice. A request identical to one judged earlier in the session is
skipped; one identical (credentials included) to a request the run already sent,
in another session or in a hand-written check, is not sent again: the client's
remembered answer is judged (``conformance.client._memo``).

Bounded memory. Only the first finding of each check keeps its response (the rest
are counted), and no response is kept here otherwise, so a target answering every
request with a megabyte body costs no more memory than one answering small ones.
A JSON body nested too deep to be usable (:mod:`conformance.jsonbody`) fails
FUZZ-004 with that finding rather than breaking the check.

What the two libraries do not offer publicly is reached through
:mod:`conformance.internals`, one function per use.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.config import (
    ChecksConfig,
    GenerationConfig,
    ProjectConfig,
    ProjectsConfig,
    SchemathesisConfig,
)
from schemathesis.errors import FailureGroup

from conformance import case_cache, internals, jsonbody
from conformance.auth import Auth
from conformance.client import INFRASTRUCTURE_ERRORS, Client, UnsafeRequest
from conformance.config import FixtureEnrolment
from conformance.expect import is_json_content_type, media_type

OPERATION_ID = "getEnrolment"
AUTHORIZATION = "Authorization"
AUTH_PLACEHOLDER = "applied-by-the-suite"
MODES = {"positive": GenerationMode.POSITIVE, "negative": GenerationMode.NEGATIVE}
NEGATIVE_EXPECTED_STATUSES = ["4xx", "5xx"]  # FUZZ-005 fails what is accepted; a 5xx is FUZZ-001's finding
IGNORED_AUTH = "ignored_auth"
SCHEMA_CHECK = "response_schema_conformance"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# The path schemathesis's UnsafePathDecoder probe requests: a backslash and control characters.
PATH_DECODER_PROBE = "schemathesis-probe%5C%1B%01"
KEPT_FINDINGS = 1  # findings of one check kept with their response per session (the rest are counted)
# The code that decides what is generated (this module's settings and the internals it uses): an edit
# to either makes cached cases stale, whatever the version number says.
GENERATION_CODE = hashlib.sha256(
    Path(__file__).read_bytes() + Path(internals.__file__).read_bytes()
).hexdigest()


def _summary(failure: BaseException) -> str:
    """A failure's title and the first paragraph of its message (the rest is the schema it quotes)."""
    title = getattr(failure, "title", failure.__class__.__name__)
    first = str(getattr(failure, "message", failure)).strip().split("\n\n", 1)[0]
    return f"{title}: {first}" if first else title


# The schemathesis check that enforces each FUZZ requirement (ignored_auth is implemented here, see above).
CHECKS: dict[str, str] = {
    "FUZZ-001": "not_a_server_error",
    "FUZZ-002": "status_code_conformance",
    "FUZZ-003": "content_type_conformance",
    "FUZZ-004": SCHEMA_CHECK,
    "FUZZ-005": "negative_data_rejection",
    "FUZZ-006": IGNORED_AUTH,
}
_CHECK_FUNCTIONS = internals.check_functions(tuple(name for name in CHECKS.values() if name != IGNORED_AUTH))


class Request(NamedTuple):
    """A generated request as sent, credentials aside."""

    url: str
    headers: tuple[tuple[str, str], ...]


@dataclass
class Finding:
    """One generated request that a check failed."""

    check: str
    inputs: dict[str, str]  # the path parameters as generated (decoded)
    response: httpx.Response
    detail: str  # what the check reported


@dataclass
class FuzzSession:
    """The outcome of one property-based session: one generation mode with one kind of credentials."""

    mode: str
    auth: str
    seed: int
    max_examples: int
    generated: int = 0  # cases hypothesis generated
    fixture_cases: int = 0  # fixture enrolments requested before generation (positive mode)
    judged: int = 0  # distinct requests judged
    successes: int = 0  # distinct requests answered 2xx
    auth_probed: bool = False
    # the first KEPT_FINDINGS findings of each check, with their responses; found counts them all
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)
    error: BaseException | None = None  # why the session stopped early (budget, transport ...)

    def failures(self, check: str) -> list[Finding]:
        """The findings of check kept with their responses (the first ones)."""
        return self.findings.get(check, [])

    def count(self, check: str) -> int:
        """How many distinct requests check failed."""
        return self.found.get(check, 0)

    def record(self, finding: Finding) -> None:
        """Count the finding; keep it (and its response) only if it is among the first of its check, so
        that a target failing every request with a large body cannot fill the memory."""
        self.found[finding.check] = self.count(finding.check) + 1
        kept = self.findings.setdefault(finding.check, [])
        if len(kept) < KEPT_FINDINGS:
            kept.append(finding)

    def summary(self) -> str:
        fixtures = f" and {self.fixture_cases} fixture enrolment(s)" if self.fixture_cases else ""
        return (
            f"{self.generated} {self.mode} cases generated with {self.auth} credentials{fixtures}, "
            f"{self.judged} distinct requests judged, {self.successes} answered 2xx "
            f"(seed {self.seed}, max examples {self.max_examples})"
        )


def fuzz_document(
    spec: dict[str, Any], base_url: str, fixtures: Sequence[FixtureEnrolment]
) -> dict[str, Any]:
    """The copy of the spec that schemathesis works from.

    Its only server is the target, operations marked x-conformance-fuzz: false are removed, and the
    fixture IDs are the examples of the path parameters, so that positive cases reach real records.
    """
    document = copy.deepcopy(spec)
    document["servers"] = [{"url": base_url}]
    for path, item in list(document.get("paths", {}).items()):
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict) and item[method].get("x-conformance-fuzz") is False:
                del item[method]
        if not any(method in item for method in HTTP_METHODS):
            del document["paths"][path]
    examples = {
        "assignmentId": list(dict.fromkeys(fixture.assignment_id for fixture in fixtures)),
        "enrolmentId": list(dict.fromkeys(fixture.enrolment_id for fixture in fixtures)),
    }
    for item in document["paths"].values():
        for parameter in item.get("parameters", []) + item.get("get", {}).get("parameters", []):
            target = resolve_ref(document, parameter)
            values = examples.get(target.get("name", "")) if target.get("in") == "path" else None
            if values:
                target.pop("example", None)
                target["examples"] = {f"fixture-{n}": {"value": value} for n, value in enumerate(values, 1)}
    return document


def resolve_ref(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """The node itself, or the object its local $ref ('#/components/...') names, followed to the end."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def load_operation(document: dict[str, Any], base_url: str) -> APIOperation:
    """The getEnrolment operation of a fuzz_document as schemathesis sees it, configured here (no config
    file is read)."""
    project = ProjectConfig(
        base_url=base_url,
        # Same characters as the default utf-8 codec (all but lone surrogates), without hypothesis
        # scanning every code point to build the codec's table on each run (about two seconds).
        generation=GenerationConfig(codec=None),
        checks=ChecksConfig.from_dict(
            {"negative_data_rejection": {"expected-statuses": NEGATIVE_EXPECTED_STATUSES}}
        ),
    )
    config = SchemathesisConfig(projects=ProjectsConfig(default=project))
    schema = schemathesis.openapi.from_dict(document, config=config)
    path = next(
        path
        for path, item in document["paths"].items()
        if item.get("get", {}).get("operationId") == OPERATION_ID
    )
    return schema[path]["GET"]


class Fuzzer:
    """Runs the property-based sessions against the target, one per (mode, credentials), each once."""

    def __init__(
        self,
        spec: dict[str, Any],
        client: Client,
        fixtures: Sequence[FixtureEnrolment],
        *,
        seed: int,
        max_examples: int,
    ) -> None:
        self.client = client
        self.fixtures = tuple(fixtures)
        self.seed = seed
        self.max_examples = max_examples
        self.document = fuzz_document(spec, client.base_url, fixtures)
        self._origin = httpx.URL(client.base_url)  # parsed once: every generated request is held to it
        self.operation = load_operation(self.document, client.base_url)
        self.safe_paths_only = False  # the server refuses unsafe path characters before routing
        self._sessions: dict[tuple[str, str], FuzzSession] = {}
        self._cases: dict[str, list[Case]] = {}

    def session(self, mode: str, label: str, auth: Auth, invalid: Auth) -> FuzzSession:
        """The session for mode ('positive'/'negative') with these credentials, run on first request."""
        key = (mode, label)
        if key not in self._sessions:
            self._sessions[key] = self._run(mode, label, auth, invalid)
        return self._sessions[key]

    # --- one session ---------------------------------------------------------

    def _run(self, mode: str, label: str, auth: Auth, invalid: Auth) -> FuzzSession:
        session = FuzzSession(mode, label, self.seed, self.max_examples)
        fixtures = [self._fixture_case(fixture) for fixture in self.fixtures] if mode == "positive" else []
        try:
            generated = self._generated(mode)
        except INFRASTRUCTURE_ERRORS as exc:  # the path decoder probe could not be sent
            session.error = exc
            return session
        session.fixture_cases, session.generated = len(fixtures), len(generated)

        def send(distinct: tuple[int, Case, Request]) -> tuple[Case, Request, httpx.Response]:
            number, case, request = distinct
            return case, request, self._send(request, auth, f"FUZZ {mode} case {number} ({label})")

        answers = self.client.concurrently(send, self._distinct(fixtures + generated))
        try:
            for case, request, response in answers:
                self._judge(session, case, request, response, label, invalid)
        except INFRASTRUCTURE_ERRORS as exc:
            session.error = exc
        return session

    def _distinct(self, cases: list[Case]) -> Iterator[tuple[int, Case, Request]]:
        """The cases whose requests differ from every one before, numbered, each with its request."""
        seen: set[Request] = set()
        for case in cases:
            request = self._request(case)
            if request not in seen:
                seen.add(request)
                yield len(seen), case, request

    def _generated(self, mode: str) -> list[Case]:
        """The cases generated for mode: generated once (or read from the cache), then judged with each
        set of credentials."""
        if not self._cases:
            self._probe_path_decoder()
        if mode not in self._cases:
            key = case_cache.digest(
                self.document,
                mode=mode,
                seed=self.seed,
                max_examples=self.max_examples,
                safe_paths_only=self.safe_paths_only,
                code=GENERATION_CODE,
            )
            parts = case_cache.load(key)
            if parts is None:
                parts = [internals.case_parts(case) for case in self._generate(mode)]
                case_cache.store(key, parts)
            self._cases[mode] = [internals.rebuild_case(self.operation, part) for part in parts]
        return self._cases[mode]

    def _generate(self, mode: str) -> list[Case]:
        """Run hypothesis over schemathesis's strategy for mode, collecting --max-examples cases."""
        cases: list[Case] = []

        @hypothesis.seed(self.seed)
        @hypothesis.settings(
            max_examples=self.max_examples,
            database=None,
            deadline=None,
            derandomize=True,
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )
        def collect(case: Case) -> None:
            cases.append(case)

        with internals.hypothesis_home(case_cache.cache_dir() / "hypothesis"):
            strategy = self.operation.as_strategy(
                generation_mode=MODES[mode], headers={AUTHORIZATION: AUTH_PLACEHOLDER}
            )
            hypothesis.given(strategy)(collect)()
        return cases

    def _probe_path_decoder(self) -> None:
        """schemathesis's own probe, sent by our client: when the server's URL decoder refuses backslashes
        and control characters before routing (Tomcat, some WAFs: a bare 400), the application never
        sees such requests, so generation leaves those characters out of path parameters, as
        schemathesis does."""
        url = f"{self.client.base_url}/{PATH_DECODER_PROBE}"
        note = "FUZZ: does the server refuse backslashes and control characters in paths before routing?"
        response = self.client.request("GET", url, note=note)
        self.safe_paths_only = internals.adapt_to_path_decoder(self.operation, response)

    def _fixture_case(self, fixture: FixtureEnrolment) -> Case:
        return self.operation.Case(
            path_parameters={"assignmentId": fixture.assignment_id, "enrolmentId": fixture.enrolment_id},
            headers={AUTHORIZATION: AUTH_PLACEHOLDER},
        )

    def _request(self, case: Case) -> Request:
        """What goes on the wire for a case, credentials aside: the target's base URL and the case's
        path (its parameters already percent-encoded) and query, and the case's other headers."""
        path = case.formatted_path
        url = httpx.URL(self.client.base_url + path, params=case.query or None)
        if not path.startswith("/") or (url.scheme, url.netloc) != (self._origin.scheme, self._origin.netloc):
            raise UnsafeRequest(f"refusing a generated request outside the target: {url}")
        headers = sorted(
            (name, str(value)) for name, value in case.headers.items() if name.lower() != "authorization"
        )
        return Request(str(url), tuple(headers))

    def _judge(
        self,
        session: FuzzSession,
        case: Case,
        request: Request,
        response: httpx.Response,
        label: str,
        invalid: Auth,
    ) -> None:
        """Record what each check finds wrong with the response to the case's request."""
        session.judged += 1
        inputs = {name: unquote(str(value)) for name, value in case.path_parameters.items()}
        for name, detail in self._verdicts(session.mode, case, response):
            session.record(Finding(name, inputs, response, detail))
        if 200 <= response.status_code < 300:
            session.successes += 1
            if session.mode == "positive" and not session.auth_probed:
                session.auth_probed = True
                self._probe_auth(session, request, inputs, label, invalid)

    def _verdicts(self, mode: str, case: Case, response: httpx.Response) -> list[tuple[str, str]]:
        """(check, what it found) for each schemathesis check the response fails.

        The checks are run together first; only a response that fails some is judged again one check
        at a time, to attribute each failure to its check. A JSON body nested too deep to be usable
        (conformance.jsonbody) fails the schema check with that finding; it is not handed to
        schemathesis, whose parser would hit Python's recursion limit.
        """
        unusable = _unusable_json(response)
        converted = schemathesis.Response.from_any(self._as_documented_json(response))
        checks = {
            name: check
            for name, check in _CHECK_FUNCTIONS.items()
            if (mode == "negative" or name != "negative_data_rejection")
            and not (unusable and name == SCHEMA_CHECK)
        }
        found = [(SCHEMA_CHECK, unusable)] if unusable else []
        if _failures(case, converted, list(checks.values())) is None:
            return found
        for name, check in checks.items():
            failures = _failures(case, converted, [check])
            if failures is not None:
                found.append((name, failures))
        return found

    def _as_documented_json(self, response: httpx.Response) -> httpx.Response:
        """A +json response (e.g. application/problem+json) relabelled as the application/json the spec
        documents for its status, so that its body is still validated against that schema."""
        received = media_type(response.headers.get("content-type", ""))
        if not received.endswith("+json"):
            return response
        converted = schemathesis.Response.from_any(response)
        documented = set(map(media_type, internals.documented_media_types(self.operation, converted)))
        if received in documented or "application/json" not in documented:
            return response
        relabelled = httpx.Response(response.status_code, content=response.content, request=response.request)
        relabelled.headers = httpx.Headers(response.headers)
        relabelled.headers["content-type"] = "application/json"
        relabelled.elapsed = response.elapsed
        return relabelled

    def _probe_auth(
        self, session: FuzzSession, request: Request, inputs: dict[str, str], label: str, invalid: Auth
    ) -> None:
        """ignored_auth: the accepted request, replayed without and with invalid credentials, is refused."""
        probes: tuple[tuple[str, Auth | None], ...] = (
            ("without credentials", None),
            (f"with invalid {label} credentials", invalid),
        )
        for how, probe_auth in probes:
            note = f"FUZZ-006: the accepted request replayed {how}"
            response = self._send(request, probe_auth, note)
            status = response.status_code
            if status not in (401, 403) and not 300 <= status < 400:
                detail = f"the request accepted with valid {label} credentials, sent {how}, got {status}"
                session.record(Finding(IGNORED_AUTH, inputs, response, detail))

    def _send(self, request: Request, auth: Auth | None, note: str) -> httpx.Response:
        """Send a request, unless an identical one (credentials included) was answered earlier in the
        run, by a check or by another session: then the client's remembered answer is judged."""
        headers = dict(request.headers)
        response = self.client.request("GET", request.url, auth=auth, headers=headers, note=note)
        exchange = response.extensions.get("exchange")
        response.elapsed = timedelta(milliseconds=exchange.elapsed_ms if exchange else 0.0)
        return response


def _failures(case: Case, response: schemathesis.Response, checks: list[Any]) -> str | None:
    """What the checks find wrong with the response to the case, or None."""
    try:
        case.validate_response(response, checks=checks)
    except FailureGroup as group:
        return "; ".join(_summary(failure) for failure in group.exceptions)
    return None


def _unusable_json(response: httpx.Response) -> str | None:
    """Why a JSON response's body is not usable JSON (nested too deep), or None."""
    if not is_json_content_type(response):
        return None
    try:
        jsonbody.parse(response.content)
    except jsonbody.UnusableJSON as exc:
        return str(exc)
    except ValueError:  # not JSON at all: schemathesis reports that itself
        return None
    return None
