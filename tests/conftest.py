"""What every test shares: loopback only, and a case cache of the test session's own, never the user's."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from misbehaving import loopback_only

from conformance.case_cache import CACHE_DIR_ENV


@pytest.fixture(scope="session", autouse=True)
def loopback_only_in_this_process() -> Iterator[None]:
    """No test can reach a host off loopback (the production hosts some tests name included): in this
    process host names other than localhost fail to resolve, as they do in CLI subprocesses (guarded_env)."""
    with loopback_only():
        yield


@pytest.fixture(scope="session", autouse=True)
def own_case_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs in this process and CLI runs in subprocesses keep generated cases in a temporary folder."""
    saved = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("case-cache"))
    yield
    if saved is None:
        os.environ.pop(CACHE_DIR_ENV, None)
    else:
        os.environ[CACHE_DIR_ENV] = saved
