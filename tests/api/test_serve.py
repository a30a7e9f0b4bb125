"""`lims serve` runs a real uvicorn server with the API (and the UI) on the given port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from lims.cli import app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_takes_a_host_and_a_port():
    result = CliRunner().invoke(app, ["serve", "--help"])

    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output


def test_serve_answers_over_http_on_the_given_port(seeded_template: Path, tmp_path: Path):
    database = tmp_path / "lims.db"
    shutil.copy(seeded_template, database)
    port = free_port()
    env = {**os.environ, "LIMS_DATABASE_URL": f"sqlite:///{database}"}
    server = subprocess.Popen(
        [sys.executable, "-c", "from lims.cli import app; app()", "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 60
        while True:
            try:
                schema = httpx.get(f"{base}/openapi.json")
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        login = httpx.post(f"{base}/auth/login",
                           json={"username": "qa1", "password": "demo-qa1-pass"})
        me = httpx.get(f"{base}/auth/me",
                       headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert schema.status_code == 200 and schema.json()["info"]["title"]
    assert "server" not in schema.headers  # no software banner
    assert me.json()["username"] == "qa1"
