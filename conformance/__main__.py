"""``python -m conformance``: the enrolment-conformance command line (conformance.cli)."""

from conformance.entry import main

raise SystemExit(main())
