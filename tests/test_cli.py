"""The `kerasbio` console entry point."""

import pytest

import kerasbio
from kerasbio import cli


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kerasbio {kerasbio.__version__}"


def test_unknown_benchmark_is_a_usage_error_listing_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "nope"])
    assert exit_info.value.code == 2
    assert "noise" in capsys.readouterr().err


def test_bench_without_names_selects_every_benchmark():
    args = cli.build_parser().parse_args(["bench"])
    assert args.names == []
