"""The CLI's defaults are the library's: an option's default on the command line is the value the
Python API uses when it is not given (RunOptions, the Dask distributor, the exporter, TrainConfig)."""

import dataclasses
import inspect

import pytest

from colorbatch.batch.jobs import RunOptions
from colorbatch.cli import cli


def _defaults(command: str) -> dict:
    """Each option's default as the command sees it when the option is not given."""
    import click

    context = click.Context(cli.commands[command])
    found = {param.name: param.get_default(context) for param in cli.commands[command].params}
    return {name: None if type(value).__name__ == "Sentinel" else value for name, value in found.items()}


def _signature_defaults(function) -> dict:
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("command", ["run", "gray"])
def test_run_and_gray_defaults_are_run_options(command):
    options = dataclasses.asdict(RunOptions())
    cli_defaults = _defaults(command)
    shared = {"batch_size", "workers", "fmt", "quality", "png_compression", "max_pixels", "crf"} & set(cli_defaults)
    assert shared >= {"workers", "max_pixels", "fmt"}
    for name in shared:
        assert cli_defaults[name] == options[name], name
    for name in ("overwrite", "strict", "sequence"):
        if name in cli_defaults:
            assert cli_defaults[name] is options[name], name
    if command == "run":
        assert (cli_defaults["temporal"] == "on") is options["temporal"]
        assert cli_defaults["codec"] is options["codec"] is None


def test_dask_defaults_are_the_distributors():
    from colorbatch.batch.cluster import DaskDistributor

    assert _defaults("run")["retries"] == _signature_defaults(DaskDistributor.__init__)["retries"]


def test_export_defaults_are_the_exporters():
    from colorbatch.export.onnx_export import export_checkpoint

    library = _signature_defaults(export_checkpoint)
    cli_defaults = _defaults("export")
    for name in ("opset", "simplify", "default_vividness", "working_size", "min_size", "vividness_curve", "terms",
                 "test_flip"):
        assert cli_defaults[name] == library[name], name


def _check_against_config(command: str, config_class, as_config=lambda name, value: value) -> None:
    """Every option of ``command`` that names a field of ``config_class`` defaults to that field's default."""
    config = {field.name: field.default for field in dataclasses.fields(config_class)
              if field.default is not dataclasses.MISSING}
    cli_defaults = _defaults(command)
    compared = [name for name in cli_defaults if name in config and cli_defaults[name] is not None]
    assert len(compared) >= 10
    for name in compared:
        assert as_config(name, cli_defaults[name]) == config[name], name


def test_train_defaults_are_the_train_configs():
    from colorbatch.train.config import TrainConfig

    _check_against_config("train", TrainConfig)


def test_train_hints_defaults_are_the_hint_configs():
    from colorbatch.train.hint_training import HintTrainConfig

    _check_against_config("train-hints", HintTrainConfig, lambda name, value: str(value) if name == "cache" else value)
