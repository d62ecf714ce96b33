"""The conformance checks, one module per area; run by pytest through conformance.plugin.

Each check is a function named ``check_*`` marked with the requirement it
enforces (``@pytest.mark.requirement(id="AUTH-003")``), taking the plugin's
fixtures: ``client``, ``basic``, ``bearer``, ``tokens``, ``tenant``,
``other_tenant``, ``enrolment`` (parametrized over the fixture enrolments),
``enrolment_read`` (that enrolment's 200 body, read once per run),
``known_enrolment``, ``note`` and ``now``. It fails by raising
``conformance.expect.CheckFailed`` with a message saying what was received and
what was expected.
"""
