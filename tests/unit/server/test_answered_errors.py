"""Error answers in the server log: a client's malformed params are one warning line, a server
fault keeps its traceback."""

from __future__ import annotations

import logging

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from server.features.memory import MemoryService
from server.setup import create_server

PYGLS = logging.getLogger("pygls.protocol.json_rpc")


@pytest.fixture(autouse=True)
def server_filters() -> None:
    create_server().service(
        MemoryService
    ).close()  # installs the filter; the memory worker is stopped


def _log_raising(exc: Exception) -> None:
    try:
        raise exc
    except Exception:
        PYGLS.exception("Failed to handle request %s %s %s", 7, "kenetic/skill", {"id": 3})


def test_invalid_params_are_one_warning_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=PYGLS.name):
        _log_raising(JsonRpcInvalidParams("id: Input should be a valid string"))
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "Traceback" not in caplog.text
    assert "kenetic/skill" in record.getMessage()
    assert "answered JsonRpcInvalidParams: id: Input should be a valid string" in caplog.text


def test_a_server_fault_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=PYGLS.name):
        _log_raising(KeyError("boom"))
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert "Traceback" in caplog.text and "KeyError" in caplog.text
