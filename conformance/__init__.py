"""enrolment-conformance: the conformance suite for GET /assignments/{assignmentId}/enrolments/{enrolmentId}."""

__version__ = "0.1.0"
