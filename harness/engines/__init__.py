"""Decoder engines: the engine-agnostic DecoderLM, packaged GGUF weights, and local
OpenAI-compatible servers."""
