"""Prompt variants (``--prompts``): one row per decoder and prompt, the cache shared between
them, and the report's spread, per-prompt ranks and Kendall's tau, checked by hand."""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import sqlite3

import pytest
from click.testing import CliRunner

from harness import Task, get_task
from harness.cli import cli
from harness.core.prompts import DEFAULT_PROMPT
from harness.errors import HarnessError
from harness.store.store import Store

from .conftest import build_tiny_decoder, chromium_dom


@pytest.fixture(scope="module")
def tiny_decoder(tmp_path_factory):
    """A randomly initialised 2-layer Llama with a small WordPiece vocabulary, saved to disk."""
    return build_tiny_decoder(tmp_path_factory.mktemp("tiny-llama"))


def _run(store, data_dir, models, *extra):
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", models, "--data-dir", str(data_dir),
                                      "--store", str(store), "--json", "--no-progress", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _tau_b_by_hand(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b from its definition: (concordant - discordant) / sqrt((n0 - ties in a) (n0 - ties in b))."""
    concordant = discordant = ties_a = ties_b = pairs = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        pairs += 1
        da, db = a[i] - a[j], b[i] - b[j]
        ties_a += da == 0
        ties_b += db == 0
        if da * db > 0:
            concordant += 1
        elif da * db < 0:
            discordant += 1
    return (concordant - discordant) / math.sqrt((pairs - ties_a) * (pairs - ties_b))


def _accuracy(result) -> float:
    return next(m["value"] for m in result["metrics"] if m["name"] == "accuracy")


def test_two_prompts_give_two_rows_and_the_report_computes_spread_ranks_and_tau(tiny_decoder, data_dir, tmp_path):
    store = tmp_path / "p.sqlite"
    decoder = f"hf-causal:{tiny_decoder}"
    payload = _run(store, data_dir, f"{decoder},vader,textblob-polarity", "--prompts", "default,it-was")
    by_model = {r["model"]: r for r in payload["results"]}
    # a decoder runs once per prompt (the variant labels its row); the baselines read no prompt: once each
    assert set(by_model) == {decoder, f"{decoder} (prompt=it-was)", "vader", "textblob-polarity"}
    runs = Store(store, readonly=True).runs()
    settings = {row["model"]: row["settings"] for _, row in runs.iterrows()}
    assert settings[f"{decoder} (prompt=it-was)"]["prompt"] == "it-was" and "prompt" not in settings[decoder]
    # the two prompts asked different things: the variant's verbalisers are the cloze's
    with sqlite3.connect(store) as db:
        asked = {(model, json.loads(p)["prompt"].endswith("All in all, it was"), json.loads(p)["raw"]) for model, p in
                 db.execute("SELECT r.model, p.prediction FROM predictions p JOIN runs r ON r.id = p.run_id")
                 if model.startswith(decoder)}
    assert {(m, cloze) for m, cloze, _ in asked} == {(decoder, False), (f"{decoder} (prompt=it-was)", True)}
    assert {raw for m, _, raw in asked if m != decoder} <= {" great", " terrible"}
    assert {raw for m, _, raw in asked if m == decoder} <= {" positive", " negative"}

    from harness.report.leaderboard import build_context

    context = build_context(Store(store, readonly=True))
    [column] = [c for c in context["columns"] if c.task == "sentiment"]
    assert {r.model for r in column.runs} == {decoder, "vader", "textblob-polarity"}  # the variant folds into its row
    ps = column.prompt_sensitivity
    assert ps.prompts == [DEFAULT_PROMPT, "it-was"]
    [spread] = ps.decoders
    default, variant = _accuracy(by_model[decoder]), _accuracy(by_model[f"{decoder} (prompt=it-was)"])
    assert spread.default.value == pytest.approx(default)
    assert spread.spread == pytest.approx(abs(default - variant))
    assert spread.low.value == pytest.approx(min(default, variant)) and spread.high.value == pytest.approx(max(default, variant))
    assert spread.median.value == spread.low.value  # the lower middle of two
    # ranks under each prompt: 1 + the rows scoring higher, baselines keeping their one score
    vader, textblob = _accuracy(by_model["vader"]), _accuracy(by_model["textblob-polarity"])
    for prompt, mine in ((DEFAULT_PROMPT, default), ("it-was", variant)):
        scores = {decoder: mine, "vader": vader, "textblob-polarity": textblob}
        for model, value in scores.items():
            assert ps.ranks[model][prompt] == 1 + sum(other > value for other in scores.values())
    a, b = [default, vader, textblob], [variant, vader, textblob]
    if len(set(a)) > 1 and len(set(b)) > 1:
        assert ps.tau[(DEFAULT_PROMPT, "it-was")] == pytest.approx(_tau_b_by_hand(a, b))
    else:
        assert ps.tau[(DEFAULT_PROMPT, "it-was")] is None
    assert set(ps.ranks) == {decoder, "vader", "textblob-polarity"}


def test_spread_ranks_tau_and_order_flips_by_hand():
    from harness.report.columns import Column, RunView
    from harness.report.prompts import fold_prompt_variants, prompt_range, prompt_sensitivity

    def view(model, value, prompt=DEFAULT_PROMPT, family="decoder"):
        required = {f.name: None for f in dataclasses.fields(RunView) if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        return RunView(**{**required, "model": model, "display": model, "family": family, "n": 100, "metrics": [],
                          "headline": {"value": value, "low": value - 0.05, "high": value + 0.05, "n": 100}},
                       prompt=prompt)

    column = Column("sentiment", "test", "local", "classification", "sst2", "accuracy", "task.html", "explore.html")
    column.runs = [view("lm", 0.60), view("lm (prompt=b)", 0.80, "b"), view("lm (prompt=c)", 0.70, "c"),
                   view("lm (prompt=d)", 0.50, "d"), view("other", 0.65, family="baseline"),
                   view("lm2 (5-shot)", 0.90), view("lm2 (5-shot, prompt=b)", 0.55, "b")]
    folded = fold_prompt_variants([column])
    assert folded == {"lm (prompt=b)", "lm (prompt=c)", "lm (prompt=d)", "lm2 (5-shot, prompt=b)"}
    assert [r.model for r in column.runs] == ["lm", "other", "lm2 (5-shot)"]
    ps = prompt_sensitivity(column)
    assert ps.prompts == ["default", "b", "c", "d"]
    lm = next(d for d in ps.decoders if d.model == "lm")
    assert (lm.low.prompt, lm.median.prompt, lm.high.prompt) == ("d", "default", "b")  # 0.5, 0.6 | 0.7, 0.8
    assert lm.spread == pytest.approx(0.30)
    assert prompt_range(column.runs[0]) == {"low": 0.50, "high": 0.80, "count": 4, "low_prompt": "d", "high_prompt": "b"}
    assert prompt_range(column.runs[1]) is None  # the baseline: one prompt
    # ranks: default: lm2 .90, other .65, lm .60 -> lm2 1, other 2, lm 3;  b: lm .80, other .65, lm2 .55
    assert ps.ranks["lm"] == {"default": 3, "b": 1, "c": 1, "d": 2}
    assert ps.ranks["lm2 (5-shot)"] == {"default": 1, "b": 3}
    assert ps.ranks["other"] == {"default": 2, "b": 2, "c": 2, "d": 1}
    # tau between default and b over the three rows: (.60,.65,.90) vs (.80,.65,.55): every pair reversed
    assert ps.tau[("default", "b")] == pytest.approx(-1.0)
    assert ps.tau[("default", "b")] == pytest.approx(_tau_b_by_hand([0.60, 0.65, 0.90], [0.80, 0.65, 0.55]))
    # c and d: lm2 ran neither, so two rows: (lm .70, other .65) vs (lm .50, other .65)
    assert ps.tau[("c", "d")] == pytest.approx(-1.0)
    assert ps.lowest_tau == pytest.approx(-1.0)
    flips = {(d, o): (tuple(ahead), tuple(behind)) for d, o, ahead, behind in ps.order_flips}
    assert flips[("lm", "other")] == (("b", "c"), ("default", "d"))
    assert flips[("lm", "lm2 (5-shot)")] == (("b",), ("default",))
    assert ps.unprompted == ["other"]


def test_a_rerun_with_one_more_prompt_computes_only_the_new_prompts_requests(tiny_decoder, data_dir, tmp_path):
    store = tmp_path / "r.sqlite"
    decoder = f"hf-causal:{tiny_decoder}"
    first = _run(store, data_dir, decoder, "--prompts", "default,review-cue")
    assert sorted(r["computed"] for r in first["results"]) == [8, 8]

    def requests_stored():
        with sqlite3.connect(store) as db:
            return db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]

    before = requests_stored()
    again = _run(store, data_dir, decoder, "--prompts", "default,review-cue,instruction")
    computed = {r["model"]: r["computed"] for r in again["results"]}
    assert computed == {decoder: 0, f"{decoder} (prompt=review-cue)": 0, f"{decoder} (prompt=instruction)": 8}
    assert requests_stored() - before == 16  # the new prompt's 8 examples x 2 labels, nothing else
    assert {r["model"]: r["metrics"] for r in again["results"] if r["computed"] == 0} == \
        {r["model"]: r["metrics"] for r in first["results"]}


def test_a_variant_that_needs_a_decoder_option_is_labelled_by_its_name_alone(tiny_decoder, tmp_path):
    decoder = f"hf-causal:{tiny_decoder}"
    result = CliRunner().invoke(cli, ["run", "--tasks", "coref:wsc273", "--models", decoder, "--source", "demo", "--store",
                                      str(tmp_path / "c.sqlite"), "--json", "--no-progress", "--prompts", "all"])
    assert result.exit_code == 0, result.output
    rows = {r["model"] for r in json.loads(result.stdout)["results"]}
    task = get_task("coref:wsc273")
    assert rows == {decoder} | {f"{decoder} (prompt={name})" for name in task.prompt_variants}
    # "question" asks the task's own question template: the same requests as -o coref=question
    plain = CliRunner().invoke(cli, ["run", "--tasks", "coref:wsc273", "--models", decoder, "--source", "demo", "--store",
                                     str(tmp_path / "c.sqlite"), "--json", "--no-progress", "-o", "coref=question"])
    [asked] = json.loads(plain.stdout)["results"]
    assert asked["model"] == f"{decoder} (coref=question)" and asked["computed"] == 0


def test_unknown_prompt_names_are_one_line_errors(tiny_decoder, data_dir, tmp_path):
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "vader", "--data-dir", str(data_dir),
                                      "--store", str(tmp_path / "u.sqlite"), "--prompts", "default,nosuch"])
    assert result.exit_code != 0
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith("Error: --prompts: no task of this run has a prompt named 'nosuch'") and "it-was" in line
    assert not (tmp_path / "u.sqlite").exists()
    with pytest.raises(HarnessError, match="'all' already names every prompt"):
        from harness.core.prompts import parse_prompt_names

        parse_prompt_names("all,it-was")


def test_every_built_in_task_has_four_prompts_that_render(data_dir):
    from harness.core.task import get_tasks
    from harness.kinds.prompting import render_prompt

    seen = set()
    for registered in get_tasks().values():
        task = registered.obj
        if not isinstance(task, Task) or task.name in seen or not task.prompt_template:
            continue
        seen.add(task.name)
        names = task.prompt_names()
        assert len(names) >= 4, f"{task.name} has prompts {names}"
        example = task.load(source="demo").examples[0]
        asked = {}
        for name in names:
            prompted = task.with_prompt(name)
            variant = prompted.prompt_variant()
            assert render_prompt(prompted, example).strip()
            asked[name] = (prompted.prompt_template, json.dumps(prompted.verbalizers, sort_keys=True),
                           prompted.answer_prefix, json.dumps(dict(variant.options) if variant else {}, sort_keys=True))
        assert len(set(asked.values())) == len(names), f"{task.name}: two prompts ask alike"


def test_tasks_lists_prompts_and_suites_take_them(tmp_path):
    listing = CliRunner().invoke(cli, ["tasks", "--prompts"])
    assert listing.exit_code == 0
    assert "prompts: default, options-reversed, review-cue, it-was, instruction" in listing.output
    assert "-- it-was: a cloze" in listing.output and "All in all, it was" in listing.output

    from harness.run.suite import load_suite, planned_cells

    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nname = "p"\n\n[[run]]\ntasks = ["sentiment", "coref:wsc273"]\n'
                     'models = ["vader", "smollm2-135m"]\nprompts = "all"\n')
    cells = planned_cells(load_suite(suite))
    prompts = {(c.task, c.model): set() for c in cells}
    for c in cells:
        prompts[(c.task, c.model)].add(c.prompt)
    assert prompts[("sentiment", "vader")] == {DEFAULT_PROMPT}
    assert prompts[("sentiment", "smollm2-135m")] == set(get_task("sentiment").prompt_names())
    assert prompts[("coref:wsc273", "smollm2-135m")] == set(get_task("coref:wsc273").prompt_names())
    suite.write_text('[suite]\nname = "p"\n\n[[run]]\ntasks = ["sentiment"]\nmodels = ["vader"]\nprompts = ["nosuch"]\n')
    with pytest.raises(HarnessError) as info:
        load_suite(suite)
    assert "prompts" in str(info.value) and "nosuch" in str(info.value) and "\n" not in str(info.value)


def test_the_task_page_shows_the_spread_and_each_prompts_ranks(tiny_decoder, data_dir, tmp_path):
    store = tmp_path / "b.sqlite"
    decoder = f"hf-causal:{tiny_decoder}"
    payload = _run(store, data_dir, f"{decoder},vader", "--prompts", "all")
    site = tmp_path / "site"
    result = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)])
    assert result.exit_code == 0, result.output
    page = next(site.glob("task-sentiment-*.html"))
    dom = chromium_dom(page, tmp_path / "profile")
    spread = dom[dom.index('<table id="prompt-spread"'):]
    spread = spread[: spread.index("</table>")]
    scores = {r["model"].partition(" (prompt=")[2].rstrip(")") or DEFAULT_PROMPT: _accuracy(r)
              for r in payload["results"] if r["model"].startswith(decoder)}
    assert len(scores) == len(get_task("sentiment").prompt_names())
    row = spread[spread.index("<tr data-model="):]
    assert float(row.split('data-spread="')[1].split('"')[0]) == pytest.approx(max(scores.values()) - min(scores.values()))
    for prompt in scores:
        assert f'data-prompt="{prompt}"' in row
    spread_cell = row[row.index('<td class="num spread">'):]
    low, high = (float(x) for x in re.search(r'<span class="ci">\[([\d.]+), ([\d.]+)\]', spread_cell).groups())
    assert low <= max(scores.values()) - min(scores.values()) + 1e-9 and high >= low  # the range's bootstrap interval
    assert 'class="prompt-tests" data-differing="' in row
    ranks = dom[dom.index('<table id="prompt-ranks"'):]
    ranks = ranks[: ranks.index("</table>")]
    assert all(re.search(f'<th title="[^"]+">{p}</th>', ranks) for p in scores)  # each header says what its prompt is
    assert ranks.count("<tr><td>") == 2  # the decoder and vader, a rank under every prompt each
    tau = dom[dom.index('<table id="prompt-tau"'):]
    tau = tau[: tau.index("</table>")]
    assert all(f"<th>{p}</th>" in tau for p in list(scores)[1:])
    index = chromium_dom(site / "index.html", tmp_path / "profile2")
    assert f"{len(scores)} prompts:" in index and 'class="prompt-range' in index
    assert index.count('class="no-prompt muted"') == 1  # vader: no variants, and the index says so
    assert "ran 0 of 0" not in index  # one task: no overall ranking, and no "ran k of 0" under it


def test_the_spreads_interval_resamples_every_prompt_with_the_same_draws_and_tests_say_which_prompts_differ():
    import numpy as np

    from harness.report.prompts import spread_interval
    from harness.scoring.paired import accuracy_statistics
    from harness.scoring.stats import resample_counts

    rng = np.random.default_rng(7)
    ids = [f"e{i}" for i in range(200)]
    right = {"default": rng.random(200) < 0.55, "cue": rng.random(200) < 0.85, "cloze": rng.random(200) < 0.55}
    systems = {name: accuracy_statistics(ids, correct) for name, correct in right.items()}
    low, high, differing = spread_interval(systems, seed=3, resamples=500)
    # by hand: the same draws for every prompt, each resample's accuracies, their range, its percentiles
    counts = resample_counts(200, resamples=500, seed=3)
    accuracies = np.stack([(counts @ right[name].astype(float)) / 200 for name in right])
    expected = np.percentile(accuracies.max(axis=0) - accuracies.min(axis=0), [2.5, 97.5])
    assert (low, high) == pytest.approx(tuple(expected))
    observed = max(c.mean() for c in right.values()) - min(c.mean() for c in right.values())
    assert low <= observed <= high
    # McNemar after Holm: the cue prompt (85%) beats both 55% prompts; those two do not differ
    assert {(better, worse) for better, worse, _ in differing} == {("cue", "default"), ("cue", "cloze")}
    same = {name: accuracy_statistics(ids, right["default"]) for name in ("a", "b")}
    assert spread_interval(same, seed=3, resamples=200) == (0.0, 0.0, [])


def test_format_variants_change_the_templates_own_text_and_never_what_its_tags_insert():
    from harness.core.prompts import format_count, format_variant, formats_available, reformat_template

    sst2 = "{{ input }}\nQuestion: Is this sentence positive or negative?\nAnswer:"
    assert reformat_template(sst2, " || ", "upper case", " -") == \
        "{{ input }} || QUESTION - Is this sentence positive or negative? || ANSWER -"
    assert reformat_template("Word: {{ input }}\nCorrect spelling:", "\n\n", "as written", "::") == \
        "Word:: {{ input }}\n\nCorrect spelling::"
    # a tag's text is left alone, newlines and colons in it included
    tagged = "Types:\n{% for t in task.labels %}- {{ t }}: {{ '\\n' }}\n{% endfor %}Text: {{ input }}"
    assert reformat_template(tagged, " ", "lower case", " :") == \
        "types : {% for t in task.labels %}- {{ t }}: {{ '\\n' }} {% endfor %}text : {{ input }}"
    # every format differs from the task's own and from each other; the rendered input is untouched
    from harness.kinds.prompting import render_prompt

    task = get_task("sentiment")
    example = task.load(source="demo").examples[0]
    odd = type(example)("x", "Update: great\nfilm", "positive")  # an input with a field-like line and a line break
    assert task.prompt_formats() == format_count() == 4 * 3 * 4 - 1  # separators x casings x marks, less its own
    rendered = {render_prompt(task.with_prompt(f"fmt{i}"), odd) for i in range(1, format_count() + 1)}
    assert len(rendered) == format_count() and render_prompt(task, odd) not in rendered
    assert all(text.startswith("Update: great\nfilm") for text in rendered)
    # a template with no line break and no field name has no other format
    assert formats_available("{{ input }} All in all, it was") == 0
    assert formats_available("Review: {{ input }}") == len(("as written", "lower", "upper")) * 4 - 1  # casing x mark only
    with pytest.raises(HarnessError, match="fmt1 to fmt11"):
        format_variant(task.prompt_variants["review-cue"].__class__("Review: {{ input }}"), 12)


def test_formats_are_named_in_a_fixed_order_and_a_larger_k_only_adds_prompts(tiny_decoder, data_dir, tmp_path):
    from harness.core.prompts import parse_prompt_names, prompts_of

    names = get_task("sentiment").prompt_names()
    assert prompts_of(names, parse_prompt_names("formats:2"), 47) == ["fmt1", "fmt2"]
    assert prompts_of(names, parse_prompt_names("default,formats:3"), 47) == ["default", "fmt1", "fmt2", "fmt3"]
    assert prompts_of(names, parse_prompt_names("all,formats:1"), 47) == [*names, "fmt1"]
    assert prompts_of(names, parse_prompt_names("formats:5"), 2) == ["fmt1", "fmt2"]  # as many as the prompt has
    assert prompts_of([], parse_prompt_names("formats:2"), 0) == []  # a task without prompts has no formats
    with pytest.raises(HarnessError, match="formats:K with K from 1 to 47"):
        parse_prompt_names("formats:0")
    store = tmp_path / "f.sqlite"
    decoder = f"hf-causal:{tiny_decoder}"
    first = _run(store, data_dir, decoder, "--prompts", "default,formats:2")
    assert sorted(r["model"] for r in first["results"]) == [decoder, f"{decoder} (prompt=fmt1)", f"{decoder} (prompt=fmt2)"]
    fmt1 = get_task("sentiment").with_prompt("fmt1").prompt_template
    with sqlite3.connect(store) as db:
        prompts = [json.loads(p)["prompt"] for model, p in
                   db.execute("SELECT r.model, p.prediction FROM predictions p JOIN runs r ON r.id = p.run_id")
                   if model.endswith("(prompt=fmt1)")]
    assert prompts and all(p.endswith(fmt1.rsplit("}}", 1)[1]) for p in prompts)  # the format's cue, as generated
    again = _run(store, data_dir, decoder, "--prompts", "default,formats:3")
    assert {r["model"]: r["computed"] for r in again["results"]} == {
        decoder: 0, f"{decoder} (prompt=fmt1)": 0, f"{decoder} (prompt=fmt2)": 0, f"{decoder} (prompt=fmt3)": 8}
