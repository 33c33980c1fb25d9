"""Decoder LMs write the tags, space-separated, one per token."""
from __future__ import annotations

from harness import DecoderAdapter, GenerationRequest, Prediction


class TokenTagsDecoding(DecoderAdapter):
    method = "generation"

    def gold_answer(self, task, example):
        return " " + " ".join(example.reference)

    def generation(self, decoder, task, examples, chat):
        budgets = [4 * len(example.input) + 4 for example in examples]
        return budgets, GenerationRequest(stops=["\n"]), self.answer_opening(task, chat)

    def read_generation(self, task, example, prompt, text, opening):
        """The first tag written for each token; a token without one gets the task's first tag."""
        said = [word.strip(".,;:").upper() for word in text.split()]
        tags = [tag if tag in task.labels else task.labels[0] for tag in said[: len(example.input)]]
        tags += [task.labels[0]] * (len(example.input) - len(tags))
        return Prediction(tags, raw=text, prompt=prompt, details={"parse_failed": len(said) < len(example.input)})
