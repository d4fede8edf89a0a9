"""The ``colorbatch`` command: assembles commands, converts errors to messages and exit codes.

Each command's work lives in the module named for it; heavy imports (onnxruntime, torch) happen
inside the command that needs them, so ``--help`` and ``--version`` stay fast and torch-free.
"""

from __future__ import annotations

import click

from colorbatch import __version__
from colorbatch.commands import export, gray, info, run, score, studio, train
from colorbatch.errors import ColorbatchError, printable


class ColorbatchGroup(click.Group):
    """Turns library errors into one-line messages with their documented exit codes."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ColorbatchError as exc:
            error = click.ClickException(printable(str(exc)))
            error.exit_code = exc.exit_code
            raise error from None


@click.group(cls=ColorbatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="colorbatch")
def cli() -> None:
    """Colorize folders of grayscale photos with an ONNX model; train, export and score models.

    score, gray and info need only the base install; run needs an ONNX Runtime, chosen as an
    extra: pip install "colorbatch[cpu]" or "colorbatch[gpu]". train, train-hints, average, ensemble,
    export and import-onnx need the train extra as well (pip install "colorbatch[cpu,train]"). Shell completion: eval
    "$(_COLORBATCH_COMPLETE=bash_source colorbatch)" (zsh_source, fish_source for other shells).
    """


for command in (run.run, gray.gray, score.score, info.info, train.train, train.train_hints, train.average,
                train.ensemble, export.export, train.import_onnx, studio.studio):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="colorbatch")


if __name__ == "__main__":
    main()
