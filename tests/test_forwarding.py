"""A user server in a hub mode holds no core: it forwards to the workbench service.

The whole path through a real hub is in test_hub.py; here, the server on its own: what it
does when the service does not answer, and that it never opens the metadata DB.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.servers import workbench_server
from workbench_server.supervisor import free_port


@pytest.fixture
def service_url() -> str:
    return f"http://127.0.0.1:{free_port('127.0.0.1')}/services/workbench/"  # nothing listens


@pytest.fixture
def jp_server_config(home: Path, service_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "a-hub-token-of-this-server")
    return workbench_server(home, service_url=service_url)


async def test_a_service_that_does_not_answer_is_named(jp_fetch, service_url: str) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "connections")
    assert info.value.code == 502
    message = json.loads(info.value.response.body)["message"]
    assert f"the workbench service at {service_url} did not answer" in message


async def test_the_forwarding_server_opens_no_metadata_db(
    jp_fetch, jp_serverapp, home: Path
) -> None:
    with pytest.raises(HTTPClientError):
        await jp_fetch("workbench", "api", "pipelines")
    assert "workbench" not in jp_serverapp.web_app.settings
    assert not (home / "metadata.db").exists()
    assert not (home / "secrets.key").exists()


async def test_kernel_routes_still_want_the_kernel_token(jp_fetch) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "kernel", "connections")
    assert info.value.code == 403


async def test_only_workbench_routes_are_forwarded(
    http_server_client, jp_base_url: str, jp_auth_header: dict
) -> None:
    # A path that would climb out of /workbench/api/ on the service is refused here (sent
    # as is: an HTTP client may send what a browser would have normalised).
    for path in ("../../hub/api/users", "catalog/../../x", "a//b", "catalog/./tables"):
        answer = await http_server_client.fetch(
            f"{jp_base_url}workbench/api/{path}", headers=jp_auth_header, raise_error=False
        )
        assert answer.code == 404, (path, answer.code)


async def test_a_pipeline_file_goes_to_the_service_as_a_bundle(
    jp_fetch, jp_root_dir: Path, service_url: str
) -> None:
    """The service cannot read this server's files: deploying by path sends the YAML and
    its notebooks; a file with errors is answered here, with its line."""
    import tornado.httpserver
    import tornado.web

    from tests.support.notebooks import write_notebook

    received: list[dict] = []

    class Service(tornado.web.RequestHandler):
        def post(self) -> None:
            received.append(
                {"auth": self.request.headers["Authorization"], **json.loads(self.request.body)}
            )
            self.set_status(201)
            self.finish({"name": "hello", "version": 1, "content_hash": "x", "new_version": True})

    port = int(service_url.split(":")[2].split("/")[0])
    app = tornado.web.Application(
        [(r"/services/workbench/workbench/api/pipelines/deploy", Service)]
    )
    server = tornado.httpserver.HTTPServer(app)
    server.listen(port, "127.0.0.1")
    try:
        notebook = write_notebook(jp_root_dir / "flows" / "steps" / "greet.ipynb", "x = 1")
        sql = jp_root_dir / "flows" / "sql" / "totals.sql"
        sql.parent.mkdir(parents=True)
        sql.write_text("SELECT 1 AS total\n")
        (jp_root_dir / "flows" / "hello.yaml").write_text(
            "name: hello\nsteps:\n  - {id: greet, notebook: steps/greet.ipynb}\n"
            "  - {id: totals, kind: sql, file: sql/totals.sql, target: gold.totals}\n"
        )
        answer = await jp_fetch(
            "workbench",
            "api",
            "pipelines",
            "deploy",
            method="POST",
            body=json.dumps({"path": "flows/hello.yaml"}),
        )
        assert answer.code == 201 and json.loads(answer.body)["name"] == "hello"
        [sent] = received
        assert sent["auth"] == "token a-hub-token-of-this-server"
        assert sent["bundle"] == {
            "file": "flows/hello.yaml",
            "spec": (jp_root_dir / "flows" / "hello.yaml").read_text(),
            "notebooks": {"steps/greet.ipynb": notebook.read_text()},
            "sql_files": {"sql/totals.sql": "SELECT 1 AS total\n"},
        }

        (jp_root_dir / "flows" / "broken.yaml").write_text(
            "name: hello\nsteps:\n  - {id: greet, notebook: steps/missing.ipynb}\n"
        )
        broken = json.dumps({"path": "flows/broken.yaml"})
        checked = await jp_fetch(
            "workbench", "api", "pipelines", "validate", method="POST", body=broken
        )
        reply = json.loads(checked.body)
        assert reply["valid"] is False and reply["errors"][0]["line"] == 3, reply
        with pytest.raises(HTTPClientError) as refused:
            await jp_fetch("workbench", "api", "pipelines", "deploy", method="POST", body=broken)
        assert refused.value.code == 400
        message = json.loads(refused.value.response.body)["message"]
        assert message.startswith("flows/broken.yaml:3:") and "missing.ipynb" in message
        assert len(received) == 1  # nothing invalid reached the service
    finally:
        server.stop()
