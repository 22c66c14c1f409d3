"""A bounded schemathesis run against /openapi.json: no generated request makes the
server fail (every answer is < 500)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from hybridir import Collection, Document  # noqa: E402
from hybridir.server.app import create_app  # noqa: E402
from hybridir.server.config import ServerConfig  # noqa: E402

KEY = "fuzz-key"


def _app():  # type: ignore[no-untyped-def]
    root = Path(tempfile.mkdtemp(prefix="hybridir-fuzz-"))
    col = Collection.create(root / "energy")
    col.add([Document(f"d{i}", f"solar wind hydro {i}", metadata={"n": i}) for i in range(20)])
    return create_app(ServerConfig({"energy": root / "energy"}, frozenset({KEY})))


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call(headers={"X-API-Key": KEY})
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
