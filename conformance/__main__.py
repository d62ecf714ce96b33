"""``python -m conformance``: the enrolment-conformance command line (conformance.cli)."""

from conformance.cli import main

raise SystemExit(main())
