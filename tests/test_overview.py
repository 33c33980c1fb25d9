"""The index's compact view: k-series folded into one row, the overall win rate over a common
task set (named, models that ran less not ranked), and the best model of each family."""
from __future__ import annotations

from harness.report.columns import Column, RunView
from harness.report.overview import (column_key, common_task_set, family_leaders, overall_win_rates, overview_rows,
                                     task_group)
from harness.report.significance import PairResult


def _run(model: str, value: float, family: str = "baseline", k: int | None = None, k_label: str = "") -> RunView:
    return RunView(id=0, model=model, display=model, family=family, created_at="", suite=None, executor=None, n=10, seed=0,
                   headline={"value": value, "low": value - 0.1, "high": value + 0.1, "n": 10}, metrics=[], breakdown=[],
                   wall_time_s=0.0, examples_per_s=None, data_location="", task_version="1", model_identity={}, settings={},
                   subset_of=None, packages={}, hardware={}, hardware_label="", parameters=None, engine={}, requests=None,
                   throughput=None,
                   finetuned={"base": "minilm", "k": k, "k_label": k_label or str(k)} if k is not None else None)


def _column(task: str, runs: list[RunView]) -> Column:
    col = Column(task, "test", "local", "tagging", task, "f1", f"task-{task}.html", f"explore-{task}.html")
    col.runs = runs
    return col


def _info(models: dict[str, str]) -> dict[str, dict]:
    return {m: {"display": m, "full_name": m, "family": f, "family_label": f, "parameters": None, "licence": None,
                "base": "minilm" if f == "fine-tuned encoder" else None} for m, f in models.items()}


def _board():
    families = {"llm-a": "decoder", "llm-b": "decoder", "spacy": "baseline", "vader": "baseline",
                "ft-16": "fine-tuned encoder", "ft-256": "fine-tuned encoder", "ft-all": "fine-tuned encoder"}
    ner = _column("ner", [_run("llm-a", 0.5, "decoder"), _run("llm-b", 0.3, "decoder"), _run("spacy", 0.6),
                          _run("ft-16", 0.2, "fine-tuned encoder", 16), _run("ft-256", 0.6, "fine-tuned encoder", 256),
                          _run("ft-all", 0.8, "fine-tuned encoder", 3000, "all")])
    wnut = _column("ner:wnut17", [_run("llm-a", 0.2, "decoder"), _run("llm-b", 0.25, "decoder"), _run("spacy", 0.3)])
    sst = _column("sentiment", [_run("llm-a", 0.7, "decoder"), _run("llm-b", 0.9, "decoder"), _run("vader", 0.7)])
    return [ner, wnut, sst], list(families), _info(families)


def test_a_k_series_shares_one_row_showing_its_largest_k_with_every_point():
    columns, models, info = _board()
    rows = overview_rows(columns, models, info)
    assert [r.display for r in rows] == ["llm-a", "llm-b", "spacy", "vader", "minilm fine-tuned"]
    series = rows[-1].cells[column_key(columns[0])]
    assert series.run.model == "ft-all"
    assert [(p["k"], p["value"]) for p in series.series] == [(16, 0.2), (256, 0.6), (3000, 0.8)]
    assert series.series_title == "k=16: 0.2000, k=256: 0.6000, k=all: 0.8000"
    xs_ys = [tuple(map(float, point.split(","))) for point in series.sparkline.split()]
    assert [x for x, _ in xs_ys] == sorted(x for x, _ in xs_ys) and xs_ys[0][0] == 2.0 and xs_ys[-1][0] == 54.0
    assert xs_ys[-1][1] == 2.0 and xs_ys[0][1] == 16.0  # the highest score at the top, the lowest at the bottom


def test_overall_is_a_win_rate_over_the_tasks_every_ranked_row_ran():
    columns, models, info = _board()
    rows = overview_rows(columns, models, info)
    common = common_task_set(rows, columns)
    # by hand: {ner, ner:wnut17} is run by llm-a, llm-b and spacy (3 rows x 2 tasks = 6 cells); all three tasks by
    # llm-a and llm-b (2 x 3 = 6); {ner} by 4 rows (4). Equal cells: more rows wins.
    assert [c.task for c in common] == ["ner", "ner:wnut17"]
    overall_win_rates(rows, common)
    by = {r.key: r for r in rows}
    # ner: spacy 0.6 > llm-a 0.5 > llm-b 0.3; wnut17: spacy 0.3 > llm-b 0.25 > llm-a 0.2
    assert by["spacy"].overall == 1.0
    assert by["llm-a"].overall == (0.5 + 0.0) / 2 and by["llm-b"].overall == (0.0 + 0.5) / 2
    assert by["vader"].overall is None and by["vader"].common_ran == 0
    series = next(r for r in rows if r.key.startswith("fine-tuned:"))
    assert series.overall is None and series.common_ran == 1


def test_no_two_tasks_in_common_means_no_overall():
    columns = [_column("ner", [_run("a", 0.5), _run("b", 0.2)]), _column("sentiment", [_run("c", 0.7), _run("d", 0.6)])]
    rows = overview_rows(columns, ["a", "b", "c", "d"], _info({m: "baseline" for m in "abcd"}))
    assert common_task_set(rows, columns) == []  # a shared single task would only repeat its own ranks
    overall_win_rates(rows, [])
    assert all(r.overall is None for r in rows)


def test_family_leaders_name_the_best_of_each_family_and_the_leaders_tests():
    columns, models, info = _board()
    ner = columns[0]
    ner.significance = {"pairs": [
        PairResult("ft-all", "spacy", 100, -0.2, -0.3, -0.1, "paired bootstrap", 0.001, 0.003, True, detectable=0.05),
        PairResult("ft-all", "llm-a", 100, -0.3, -0.4, -0.2, "paired bootstrap", 0.2, 0.4, False, detectable=0.31)]}
    rows = overview_rows(columns, models, info)
    groups = family_leaders(rows, columns, ["baseline", "fine-tuned encoder", "decoder"])
    assert [g["group"] for g in groups] == ["ner", "sentiment"] and task_group("coref:gap") == "coref"
    first = groups[0]["tasks"][0]
    assert first["leader"] == "fine-tuned encoder"
    assert {f: b["run"].model for f, b in first["best"].items()} == {"decoder": "llm-a", "baseline": "spacy",
                                                                     "fine-tuned encoder": "ft-all"}
    # the leader's lead (leader - other, the pair being other - leader here) with its interval and Holm p
    assert first["versus"] == {
        "decoder": {"verdict": "same", "detectable": 0.31, "n": 100, "subset": False, "test": "paired bootstrap",
                    "p_holm": 0.4, "difference": 0.3, "low": 0.2, "high": 0.4},
        "baseline": {"verdict": "better", "detectable": 0.05, "n": 100, "subset": False, "test": "paired bootstrap",
                     "p_holm": 0.003, "difference": 0.2, "low": 0.1, "high": 0.3}}
    sentiment = groups[1]["tasks"][0]
    assert sentiment["leader"] == "decoder" and sentiment["best"]["decoder"]["run"].model == "llm-b"
    assert sentiment["versus"] == {"baseline": None}  # no test ran between them


def test_numbers_never_print_a_negative_zero():
    from harness.report.numbers import fixed, signed

    assert fixed(-0.00001) == "0.0000" and fixed(-0.0) == "0.0000" and fixed(-0.00006) == "-0.0001"
    assert fixed(0.5, 2) == "0.50" and fixed(None) == "–" and fixed(float("nan")) == "–"
    assert signed(-0.00001) == "0.0000" and signed(0.0) == "0.0000" and signed(0.03125) == "+0.0312"
    assert signed(-0.01) == "-0.0100" and signed(None) == "–"


def test_p_values_print_without_false_precision():
    from harness.report.numbers import p_value

    assert p_value(1.37e-169) == "<\u00a00.001" and p_value(0.00099) == "<\u00a00.001"
    assert p_value(0.0949) == "0.095" and p_value(0.036) == "0.036" and p_value(0.001) == "0.001"
    assert p_value(0.5) == "0.50" and p_value(1.0) == "1.00"
    assert p_value(None) == "–" and p_value(float("nan")) == "–"


def test_chart_axes_tick_at_round_steps():
    from harness.report.charts import dot_whisker, nice_ticks

    assert nice_ticks([0.0047, 0.795]) == (0.0, 0.8, [0.0, 0.2, 0.4, 0.6, 0.8], 1)
    assert nice_ticks([0.3, 0.33]) == (0.25, 0.4, [0.25, 0.3, 0.35, 0.4], 2)  # a narrow range widens to 0.05 each way
    low, high, ticks, _ = nice_ticks([0.17, 0.86])
    assert (low, high) == (0.0, 1.0) and ticks[1] == 0.2  # never 0.17, 0.34, 0.51
    chart = dot_whisker([{"model": "a", "value": 0.5, "low": 0.17, "high": 0.86}], "accuracy")
    assert [t["label"] for t in chart.x_ticks] == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]


def test_index_ranks_count_only_the_rows_the_index_shows():
    """ft-16 and ft-256 are on the task page only; the index ranks its own four NER rows."""
    from harness.report.significance import RankInterval

    columns, models, info = _board()
    ner = columns[0]
    everyone = [r.model for r in ner.runs]
    # every pair significant, the higher headline better (ft-256 and spacy tie: no difference)
    values = {r.model: r.headline["value"] for r in ner.runs}
    ner.significance = {"pairs": [PairResult(a, b, 10, values[b] - values[a], 0, 0, "t", 0.0, 0.0, values[a] != values[b])
                                  for i, a in enumerate(everyone) for b in everyone[i + 1:]]}
    for run in ner.runs:  # the task page's intervals, over all six runs
        run.rank_interval = RankInterval(1, 1, 6)
    rows = overview_rows(columns, models, info)
    shown = {r.display: r.cells[column_key(ner)].rank_interval for r in rows if column_key(ner) in r.cells}
    # ft-all 0.8 > spacy 0.6 > llm-a 0.5 > llm-b 0.3 among the index's rows: 1, 2, 3, 4 (on the page: 1, 2-3, 4, 6)
    assert {name: ri.label for name, ri in shown.items()} == {"minilm fine-tuned": "1", "spacy": "2", "llm-a": "3",
                                                             "llm-b": "4"}
