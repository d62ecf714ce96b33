"""The conformance checks, one module per area; run by pytest through conformance.plugin.

Each check is a function named ``check_*`` marked with the requirement it
enforces (``@pytest.mark.requirement(id="AUTH-003")``), taking the plugin's
fixtures: ``client``, ``basic``, ``bearer``, ``tokens``, ``tenant``,
``other_tenant``, ``enrolment`` (parametrized over the fixture enrolments),
``enrolment_read`` (that enrolment's 200 body, read once per run),
``known_enrolment``, ``note`` and ``now``. It fails by raising
``conformance.expect.CheckFailed`` with a message saying what was received and
what was expected.

Requests and judgement are apart: a check's requests are its fixtures (the
once-per-run ``enrolment_read``) or its first lines, and what it concludes from
an answer is a judgement that sends nothing. The body checks (``schema``,
``status``, ``dates``) are judgements whole: they take a read, never the client.
A check that sends its own requests hands each answer to a named judgement
(``auth.judge_refused``, ``errors.judge_not_found``, ``errors.judge_error_body``
...). ``enrolment-conformance judge`` (``conformance.judging``) runs the same
judgements over recorded exchanges.
"""
