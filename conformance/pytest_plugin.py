"""The pytest11 entry point: the checks in a team's own session, ``--conformance-config FILE``.

``pytest --pyargs conformance.checks --conformance-config staging.toml`` runs the
checks with the session's own options (-k, -m, -x, --lf, --junitxml, pytest-html,
pytest-xdist's -n) and writes the CLI's three reports and verdict at the end
(see conformance/session.py). Without --conformance-config the plugin only adds
its options: it collects nothing and changes nothing, so it is inert in every
other session. The conformance modules are imported only when it is switched on.
"""

from __future__ import annotations

from typing import Any

import pytest

# The session's options, as the CLI's `run` flags of the same name (without the prefix).
OPTIONS: dict[str, dict[str, Any]] = {
    "--conformance-config": {
        "metavar": "FILE",
        "help": "Run the conformance checks (pytest --pyargs conformance.checks) against the target of "
        "this TOML config; secrets come from the environment variables it names.",
    },
    "--conformance-reports": {
        "metavar": "DIR",
        "default": "reports",
        "help": "Where results.json, report.html and junit.xml go [default: reports].",
    },
    "--conformance-claim": {"metavar": "CLASSES", "help": "Narrow the claim (e.g. core,oauth)."},
    "--conformance-strict": {"action": "store_true", "help": "A failed SHOULD fails the run."},
    "--conformance-max-requests": {
        "metavar": "N",
        "type": int,
        "default": 2000,
        "help": "Request budget of the whole run, shared out among xdist workers [default: 2000].",
    },
    "--conformance-max-rps": {
        "metavar": "R",
        "type": float,
        "help": "Requests per second of the whole run, shared out among xdist workers; 0: unlimited "
        "[default: 20, or unlimited when every URL is on loopback, as for run].",
    },
    "--conformance-allow-unsafe-methods": {
        "action": "store_true",
        "help": "Also send POST, PUT, PATCH and DELETE to the API (the methods class). Off: read-only.",
    },
    "--conformance-confirm-production": {
        "action": "store_true",
        "help": "Required to run against a production environment or host.",
    },
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("enrolment-conformance", "enrolment-conformance (the conformance checks)")
    for flag, settings in OPTIONS.items():
        group.addoption(flag, **settings)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("conformance_config") is None:
        return
    from conformance.session import ConformanceSession

    session = ConformanceSession.from_config(config)
    config.pluginmanager.register(session.plugin, "enrolment-conformance-checks")
    config.pluginmanager.register(session, "enrolment-conformance-session")
