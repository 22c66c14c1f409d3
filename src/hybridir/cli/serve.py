"""``hybridir serve``: collections over HTTP (the ``server`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hybridir.cli.app import app, err


@app.command()
def serve(
    collection_dirs: Annotated[list[Path], typer.Argument(help="Collections to serve.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free one).", min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    api_key_file: Annotated[
        Path | None, typer.Option(help="File of API keys, one per line (enables writes).")
    ] = None,
    keys_for_reads: Annotated[bool, typer.Option(help="Require a key for reads too.")] = False,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Origin allowed by CORS (repeatable).")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster of the sharded collections served.")
    ] = None,
    header_timeout: Annotated[
        float, typer.Option(help="Seconds a client has to send a request's headers.")
    ] = 10.0,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a client has to send a request's body (then 408).")
    ] = 30.0,
    write_wait: Annotated[
        float,
        typer.Option(help="Seconds a write waits for another process's write (then 409)."),
    ] = 30.0,
    http: Annotated[
        str,
        typer.Option(help="HTTP parser: auto (httptools when installed), httptools or h11."),
    ] = "auto",
) -> None:
    """Serve collections over HTTP: JSON API, /docs, /metrics and a search page at /.

    Every collection is opened and the port bound before "serving … on …" is printed, so a
    bad collection or a port in use fails here with one error line.

    Example: hybridir serve ./col --port 8000 --api-key-file keys.txt
    """
    try:
        from hybridir.server.config import ServerConfig
        from hybridir.server.protocol import http_protocol
        from hybridir.server.serving import listen, prepare, run, url
    except ImportError as exc:
        from hybridir.errors import missing_dependency

        raise missing_dependency("fastapi/uvicorn", "server") from exc
    config = ServerConfig.from_dirs(
        collection_dirs,
        api_key_file,
        keys_for_reads=keys_for_reads,
        cors_origins=tuple(cors_origin or ()),
        ray_address=ray_address,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        write_wait=write_wait,
    )
    http_protocol(http)  # an unknown or missing parser fails before anything starts
    app_or_factory = prepare(config, workers, api_key_file)
    with listen(host, port) as sock:
        err.print(
            f"serving {sorted(config.collections)} on {url(sock)}", markup=False, soft_wrap=True
        )
        run(app_or_factory, config, sock, workers, http)
