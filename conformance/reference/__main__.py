"""``python -m conformance.reference``: serve the reference target (see conformance.reference.server.main)."""

import sys

from conformance.reference.server import main

raise SystemExit(main(sys.argv[1:]))
