"""A GGUF file's weights written again in another type (``llamacpp: -o weights=``), by the
``gguf`` package (llama.cpp's own Python library for the format).

De-quantisation is gguf's ``dequantize``, the very function transformers loads GGUF weights
with, so ``-o weights=f32`` gives llama.cpp exactly the float32 weights ``hf-causal:`` runs.
Requantisation (``q8_0``, ``q4_0``) is gguf's reference quantiser. Every metadata field is
copied as it is (the tokenizer, the chat template, the architecture's numbers) but
``general.file_type``, which names the new type. As llama.cpp's quantiser does, one-dimensional
tensors (norms, biases) stay float32, and a tensor whose rows do not split into the type's
blocks keeps float32 too. This works with either llama.cpp binding (xllamacpp exports no
quantiser).
"""
from __future__ import annotations

import os
from pathlib import Path

from harness.engine import HarnessError

#: ``-o weights=`` value -> (gguf tensor type name, llama.cpp file type number of ``general.file_type``)
WEIGHT_TYPES = {"f32": ("F32", 0), "f16": ("F16", 1), "q8_0": ("Q8_0", 7), "q4_0": ("Q4_0", 2)}

_SKIPPED_FIELDS = ("GGUF.", "general.architecture", "general.file_type")


def convert_gguf(source: Path, target: Path, weights: str) -> None:
    """Write ``source``'s weights as ``weights`` (a key of :data:`WEIGHT_TYPES`) to ``target``,
    quantised tensors de-quantised first; atomic (a ``.partial`` file renamed when complete)."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
    from gguf.constants import GGML_QUANT_SIZES
    from gguf.quants import dequantize, quantize

    if weights not in WEIGHT_TYPES:
        raise HarnessError(f"weights={weights!r}: expected one of {', '.join(WEIGHT_TYPES)}")
    type_name, file_type = WEIGHT_TYPES[weights]
    wanted = GGMLQuantizationType[type_name]
    try:
        reader = GGUFReader(str(source))
    except (OSError, ValueError) as error:
        raise HarnessError(f"{source.name} is not a GGUF file gguf can read: {error}") from None
    architecture = reader.get_field("general.architecture").contents()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    writer = GGUFWriter(str(partial), architecture)
    try:
        for name, field in reader.fields.items():
            if name.startswith(_SKIPPED_FIELDS):
                continue
            value_type = field.types[0]
            sub_type = field.types[-1] if value_type == GGUFValueType.ARRAY else None
            writer.add_key_value(name, field.contents(), value_type, sub_type=sub_type)
        writer.add_file_type(file_type)
        block = GGML_QUANT_SIZES[wanted][0]
        for tensor in reader.tensors:
            values = dequantize(tensor.data, tensor.tensor_type).astype(np.float32, copy=False)
            if values.ndim < 2 or values.shape[-1] % block:
                writer.add_tensor(tensor.name, np.ascontiguousarray(values))
            elif wanted == GGMLQuantizationType.F32:
                writer.add_tensor(tensor.name, np.ascontiguousarray(values))
            elif wanted == GGMLQuantizationType.F16:
                writer.add_tensor(tensor.name, np.ascontiguousarray(values.astype(np.float16)))
            else:
                writer.add_tensor(tensor.name, quantize(values, wanted), raw_dtype=wanted)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
