"""enrolment-conformance: the conformance suite for the "Returns the enrolment" endpoint.

GET /assignments/{assignmentId}/enrolments/{enrolmentId}
"""

__version__ = "0.1.0"
