"""Which planned cells a run starts, and what it says while it goes: cells a result record
already fills are skipped, a cell that would not finish before ``--max-minutes`` on its
estimate is not started, and each cell started is announced with the cells done and left and
an ETA (:class:`Schedule`, consulted by the runner as it plans each cell)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from harness.run.estimate import Estimate, describe_minutes
from harness.store.records import RecordIndex


@dataclass
class ScheduledCell:
    """A planned cell: its key (:func:`~harness.store.records.row_key`), label and estimate."""

    key: tuple
    label: str
    estimate: Estimate
    #: "" (to run), "done" (the store holds it: computed again from the cache), "record" (a result record fills it)
    status: str = ""


def cell_label(key: tuple) -> str:
    """"ner × llamacpp:x (5-shot, typo 0.1, prompt=review)" for a cell's key."""
    from harness.core.prompts import DEFAULT_PROMPT

    task, model, shots, condition, prompt = key
    tags = [f"{shots}-shot"] * bool(shots) + [condition] * bool(condition) + [f"prompt={prompt}"] * (prompt != DEFAULT_PROMPT)
    return f"{task} × {model}" + (f" ({', '.join(tags)})" if tags else "")


@dataclass
class Schedule:
    """The cells of a run in their order, with a deadline (monotonic seconds; None: none) and
    the records that fill cells already; :meth:`admit` decides cell by cell."""

    cells: list[ScheduledCell]
    records: RecordIndex = field(default_factory=lambda: RecordIndex([]))
    deadline: float | None = None
    log: Callable[[str], None] = print
    #: where the records are (named in what the run says)
    records_folder: str = ""
    #: labels of the cells skipped because a record fills them, and of those held back by the deadline
    recorded: list[str] = field(default_factory=list)
    left: list[ScheduledCell] = field(default_factory=list)
    _seen: set = field(default_factory=set)
    _held: dict = field(default_factory=dict)
    _started: set = field(default_factory=set)
    #: cells started so far
    position: int = 0

    def __post_init__(self) -> None:
        self._by_key = {cell.key: cell for cell in self.cells}

    def cell(self, key: tuple) -> ScheduledCell | None:
        """The planned cell of ``key`` (None: the run plans no such cell)."""
        return self._by_key.get(key)

    def remaining_seconds(self) -> tuple[float, int]:
        """Estimated seconds of the cells not started yet (those the store holds count as 0),
        and how many of them have no estimate."""
        todo = [c for c in self.cells if c.key not in self._seen and c.status != "done"]
        return sum(c.estimate.seconds or 0.0 for c in todo), sum(c.estimate.seconds is None for c in todo)

    def hold_back(self, key: tuple, label: str) -> None:
        """Mark a cell not started (its fine-tune did not fit before the deadline)."""
        if key in self._seen:
            return
        self.left.append(self._by_key.get(key) or ScheduledCell(key, label, Estimate(None, "")))
        self._seen.add(key)

    def fits(self, seconds: float | None) -> bool:
        """Whether work of ``seconds`` (estimated; None: unknown, taken to fit) ends before the deadline."""
        return self.deadline is None or seconds is None or time.monotonic() + seconds <= self.deadline

    def admit(self, key: tuple, label: str, examples: Sequence[tuple[str, str]], selection: tuple = ()) -> str | None:
        """Whether to start the cell of ``key`` on these examples (id, digest): None to start it
        (and say so, with the cells done and left and the ETA), "record" when a result record
        fills it, "deadline" when it would not finish in time, "started" when this run already
        ran it on the same examples (``selection``: their ids) for another block."""
        cell = self._by_key.get(key) or ScheduledCell(key, label, Estimate(None, "not planned"))
        if key in self._held:  # a cell two blocks ask for: held back once, counted once
            return self._held[key]
        if (key, selection) in self._started:  # ... or run once: a second block asking for it adds no run
            return "started"
        left, unknown = self.remaining_seconds()
        self._seen.add(key)
        if self.records.fills(key, examples):
            self.recorded.append(label)
            self._held[key] = "record"
            return "record"
        seconds = 0.0 if cell.status == "done" else cell.estimate.seconds
        if not self.fits(seconds):
            self.left.append(cell)
            self._held[key] = "deadline"
            return "deadline"
        self.position += 1
        self._started.add((key, selection))
        unknown_note = f", {unknown} without an estimate" if unknown else ""
        eta = time.strftime("%H:%M", time.localtime(time.time() + left)) if left else "now"
        total = sum(c.status != "record" for c in self.cells)
        self.log(f"[cell {self.position} of {total}: {describe_minutes(left)} left, "
                 f"done about {eta}{unknown_note}] {label}: "
                 + ("in the store" if cell.status == "done" else describe_minutes(seconds)))
        return None

    def summary_lines(self) -> list[str]:
        """What the run says at its end about cells skipped for records and left for the deadline."""
        lines = []
        if self.recorded:
            lines.append(f"{len(self.recorded)} cell{'s' * (len(self.recorded) != 1)} already filled by result records "
                         f"in {self.records_folder or 'the records folder'}: not recomputed")
        if self.left:
            seconds = sum(c.estimate.seconds or 0.0 for c in self.left)
            lines.append(f"Stopped before the deadline: {len(self.left)} cell{'s' * (len(self.left) != 1)} left "
                         f"({describe_minutes(seconds)} by their estimates), e.g. {self.left[0].label}; "
                         "rerun the same command to go on")
        return lines
