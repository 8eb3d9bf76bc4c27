"""The `kerasbio` console entry point, lazy imports and layer registration."""

import subprocess
import sys
import textwrap

import pytest

import kerasbio
from kerasbio import cli
from kerasbio.bench import Row
from kerasbio.bench._memory import peak_rss_mib
from kerasbio.bench._timing import format_rows


def run_python(code, timeout=120):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"kerasbio {kerasbio.__version__}"


def test_version_and_help_do_not_load_tensorflow():
    out = run_python("""
        import sys
        from kerasbio import cli
        for argv in (["--version"], ["--help"], ["export", "--help"]):
            try:
                cli.main(argv)
            except SystemExit:
                pass
        print("TF", "tensorflow" in sys.modules)
    """)
    assert out.strip().endswith("TF False")


# Each case starts two Python processes importing TensorFlow (~15 s): the second order is slow.
@pytest.mark.parametrize("first", ["keras", pytest.param("tensorflow", marks=pytest.mark.slow)])
def test_layers_register_when_keras_loads_after_kerasbio(tmp_path, first):
    path = tmp_path / "noisy.keras"
    run_python(f"""
        import keras, kerasbio
        model = keras.Sequential([keras.Input((3,)), kerasbio.layers.GaussianNoise(0.5)])
        model.save({str(path)!r})
    """)
    out = run_python(f"""
        import kerasbio
        import {first}
        import keras
        model = keras.saving.load_model({str(path)!r})
        print(type(model.layers[0]).__module__)
    """)
    assert out.strip().endswith("kerasbio.layers.noise")


def test_unknown_benchmark_is_a_usage_error_listing_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "nope"])
    assert exit_info.value.code == 2
    assert "noise" in capsys.readouterr().err


def test_peak_memory_of_a_child_counts_what_it_allocates():
    """A child that touches 256 MiB peaks about 256 MiB above one that touches nothing."""
    idle = peak_rss_mib("pass")
    busy = peak_rss_mib("import numpy; numpy.ones(2**25)")  # 2^25 float64 = 256 MiB
    assert 256 - 40 < busy - idle < 256 + 60


def test_a_failing_memory_child_raises_with_its_error():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        peak_rss_mib("1 / 0")


def test_bench_table_stays_aligned_for_long_names():
    rows = [Row("short", 1.0, 2.0), Row("a much longer benchmark name " * 3, 10.0, 5.0)]
    lines = format_rows(rows).splitlines()
    assert len(lines) == 3 and len({len(line) for line in lines}) == 1  # right-aligned columns
    assert lines[1].split()[-1] == "0.50" and lines[2].split()[-1] == "2.00"
