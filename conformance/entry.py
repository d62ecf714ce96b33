"""The command's entry point: the garbage collector paused while the suite starts up.

Starting a run imports pytest, schemathesis, hypothesis, httpx and the checks: a few hundred thousand
objects that live as long as the run, which CPython's collector would traverse again and again while
they are made (about a tenth of a default run's CPU). It is paused here, before the first import, and
once the imports are done those objects are frozen out of its view and it resumes for what the run
allocates (``conformance.cli._startup_done``, :func:`gc.freeze`).
"""

import gc


def main() -> int:
    """``enrolment-conformance``: conformance.cli.main, started with the collector paused."""
    gc.disable()
    from conformance.cli import main as cli_main

    return cli_main()
