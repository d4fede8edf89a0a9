"""``colorbatch studio``: review a batch and steer its colours in the browser (the ``studio`` extra)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("out_dir", metavar="OUT", type=click.Path(path_type=Path))
@click.option("--hints", type=click.Path(path_type=Path),
              help="Where dabs are saved, as hint files mirroring INPUT (the tree `run --hints` reads); without "
                   "it the studio reviews and previews only.")
@click.option("--reference", type=click.Path(path_type=Path), help="A colour photo (or a tree) as for run.")
@click.option("--model", type=click.Path(path_type=Path), help="ONNX model (default: the bundled one).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0: a free port.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The interface to listen on; anything but loopback is reachable from other machines.")
@click.option("--open", "open_browser", is_flag=True, help="Open the studio in the default browser.")
def studio(input_path: Path, out_dir: Path, hints, reference, model, device, port, host, open_browser) -> None:
    """Serve INPUT's batch (its outputs in OUT) to the browser: review it, preview dabs, save them.

    Prints one URL with a random token; the server answers nothing without it. Needs the studio
    extra: pip install "colorbatch[cpu,studio]".
    """
    try:
        import uvicorn

        from colorbatch.studio.app import LOOPBACK, create_app
    except ImportError:
        raise click.ClickException('the studio needs its extra: pip install "colorbatch[cpu,studio]"') from None
    from colorbatch.api import Colorizer
    from colorbatch.batch.jobs import RunOptions
    from colorbatch.batch.steering import overlaps
    from colorbatch.errors import InvalidPathError
    from colorbatch.studio.catalog import Catalog

    inside = hints is not None and input_path.is_dir() and input_path.resolve() in (hints.resolve(),
                                                                                   *hints.resolve().parents)
    if inside:
        raise InvalidPathError(f"--hints {hints} lies inside INPUT {input_path}: its hint files would be taken "
                               "for photos; choose a folder beside it")
    if hints is not None and not hints.exists():
        if overlaps(hints, out_dir):  # refused before the folder is made: nothing is written into OUT
            raise InvalidPathError(f"--hints {hints} and OUT {out_dir} overlap; choose a hint folder beside OUT")
        hints.mkdir(parents=True)
    colorizer = Colorizer(model, device=device)
    catalog = Catalog(colorizer, input_path, out_dir, RunOptions(hints=hints, reference=reference, video=True))
    if host not in LOOPBACK:
        click.echo(f"warning: listening on {host}: other machines can reach the studio (with its token)", err=True)
    app = create_app(catalog, hosts=(*LOOPBACK, host))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(sockets=None):
        await original(sockets)
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        url = f"http://{'127.0.0.1' if host in LOOPBACK else host}:{bound}/?token={app.state.token}"
        click.echo(f"studio: {len(catalog.entries)} photos and clips of {input_path}; open {url}")
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    server.startup = startup
    server.run()
