"""llama.cpp in process, for ``llamacpp:<model>`` (:mod:`plugins.llamacpp_decoder`): its C API
through a prebuilt library (:mod:`.binding`), many sequences per decode call (:mod:`.batches`)
and weight-type conversions of GGUF files (:mod:`.gguf_convert`). Built on harness's public
API only (:mod:`harness`, :mod:`harness.engine`), as a third-party engine would be."""
