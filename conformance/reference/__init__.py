"""The bundled reference target: a real HTTP implementation of the contract, with switchable faults.

It serves ``GET /rest/v1/assignments/{assignmentId}/enrolments/{enrolmentId}`` and
the two OAuth 2.0 token endpoints on loopback, from deterministic seeded data. It
is the default target of ``enrolment-conformance run``; with faults switched on
(:mod:`conformance.reference.faults`) it proves that each check of the suite can
fail.
"""
