"""The static report, opened in a real headless Chromium (Debian's ``chromium``)."""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from harness import Model, Prediction, hookimpl
from harness.cli import cli

from . import slow_plugin
from .conftest import chromium_dom

PAYLOAD = "<script>document.body.setAttribute('data-pwned','1')</script>"


class Hostile(Model):
    """A model whose name and output carry markup."""

    name = "evil<b>model</b>"
    kinds = frozenset({"classification"})

    def predict(self, task, examples, *, batch_size=32):
        self.usage.prompt_tokens += 10 * len(examples)  # as decoders count the tokens they process
        self.usage.generated_tokens += len(examples)
        self.usage.cached_prompt_tokens = (self.usage.cached_prompt_tokens or 0) + 5 * len(examples)
        return [Prediction("negative", raw=PAYLOAD) for _ in examples]  # the label, and hostile raw text


class HostilePlugin:
    @hookimpl
    def harness_register_models(self, register):
        register(Hostile())


def leaderboard_rows(dom: str) -> list[str]:
    """The model names of the leaderboard's rows."""
    table = dom[dom.index('<table id="leaderboard"') : dom.index("</table>", dom.index('<table id="leaderboard"'))]
    return re.findall(r'<tr class="model-row"[^>]*>\s*<td class="model" data-value="([^"]*)"', table)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """One store with runs of every kind (and hostile output), rendered once for all tests here."""
    from harness.plugins.registry import pm

    from .conftest import write_data_dir

    tmp_path = tmp_path_factory.mktemp("report")
    data_dir = write_data_dir(tmp_path / "data")
    pm.register(HostilePlugin(), name="hostile")
    pm.register(slow_plugin, name="slow-plugin")
    try:
        yield _build_report(tmp_path, data_dir)
    finally:
        pm.unregister(name="hostile")
        pm.unregister(name="slow-plugin")


def _build_report(tmp_path, data_dir):
    store = tmp_path / "r.sqlite"
    run = CliRunner().invoke(cli, [
        "run", "--tasks", "ner,sentiment", "--models", "spacy-en-sm,vader,capital-tagger,evil<b>model</b>",
        "--data-dir", str(data_dir), "--store", str(store), "--no-progress",
    ])
    assert run.exit_code == 0, run.output
    # A demo-data run too: its column must be labelled "demo".
    demo = CliRunner().invoke(cli, ["run", "--tasks", "ner:wnut17", "--models", "spacy-en-sm", "--source", "demo",
                                    "--store", str(store), "--no-progress"])
    assert demo.exit_code == 0, demo.output
    # A run on part of a split (--limit): its leaderboard cell must say so.
    part = CliRunner().invoke(cli, ["run", "--tasks", "ner:wnut17", "--models", "capital-tagger", "--source", "demo",
                                    "--limit", "2", "--store", str(store), "--no-progress"])
    assert part.exit_code == 0, part.output
    more = CliRunner().invoke(cli, ["run", "--tasks", "spelling:norvig1,coref", "--models", "symspell,identity,coref-nearest,coref-first",
                                    "--source", "demo", "--store", str(store), "--no-progress"])
    assert more.exit_code == 0, more.output
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_leaderboard_has_one_row_per_model(report_dir, tmp_path):
    dom = chromium_dom(report_dir / "index.html", tmp_path / "profile")
    assert sorted(leaderboard_rows(dom)) == sorted([
        "spacy-en-sm", "vader", "capital-tagger", "evil&lt;b&gt;model&lt;/b&gt;", "symspell", "identity", "coref-nearest", "coref-first",
    ])
    assert 'task-ner-test.html' in dom and 'task-sentiment-validation.html' in dom
    assert re.search(r'ner:<wbr>wnut17</a>.*?<span class="demo">demo</span>', dom, re.S)


def test_markup_in_model_names_and_outputs_is_inert(report_dir, tmp_path):
    page = report_dir / "task-sentiment-validation.html"
    dom = chromium_dom(page, tmp_path / "profile")
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]  # the payload never ran
    assert "<b>model</b>" not in dom and "evil&lt;b&gt;model&lt;/b&gt;" in dom
    assert "&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;" in dom
    assert "<script>document.body" not in page.read_text()


def test_task_page_shows_metrics_per_type_table_and_provenance(report_dir, tmp_path):
    dom = chromium_dom(report_dir / "task-ner-test.html", tmp_path / "profile")
    for heading in ("Metrics", "By type", "Provenance"):
        assert f"<h2>{heading}</h2>" in dom
    breakdown = dom[dom.index('<table id="breakdown"') :]
    for entity_type in ("LOC", "MISC", "ORG", "PER"):
        assert f'<td data-value="type={entity_type}">{entity_type}</td>' in breakdown
    assert "seqeval" in dom and "cpu_count" in dom


def test_provenance_shows_token_throughput_where_the_model_counted_tokens(report_dir, tmp_path):
    dom = chromium_dom(report_dir / "task-sentiment-validation.html", tmp_path / "profile")
    rows = dom[dom.index('<table id="provenance"') :].split("<tr>")
    hostile = next(row for row in rows if "evil&lt;b&gt;model&lt;/b&gt;" in row)
    assert re.search(r"\d+ tok/s \(80 prompt, 8 generated; 50% of prompt tokens from the prefix cache\)", hostile)
    others = [row for row in rows[2:] if "evil&lt;b&gt;" not in row]
    assert others and not any("tok/s" in row for row in others)  # baselines count no tokens


def test_demo_pages_are_labelled(report_dir, tmp_path):
    dom = chromium_dom(report_dir / "task-ner-wnut17-test-demo.html", tmp_path / "profile")
    assert "These scores are on the small built-in demo split, not the real dataset." in dom


def test_empty_store_renders_a_hint(tmp_path):
    from harness.store.store import Store

    Store(tmp_path / "empty.sqlite").close()  # a store with no runs yet
    result = CliRunner().invoke(cli, ["report", "--store", str(tmp_path / "empty.sqlite"), "--out", str(tmp_path / "site")])
    assert result.exit_code == 0
    dom = chromium_dom(tmp_path / "site" / "index.html", tmp_path / "profile")
    assert '<p id="empty">' in dom


def test_spelling_page_shows_over_correction_and_norvigs_published_score(report_dir, tmp_path):
    dom = chromium_dom(report_dir / "task-spelling-norvig1-test-demo.html", tmp_path / "profile")
    metrics = dom[dom.index('<table id="metrics"') : dom.index("</table>", dom.index('<table id="metrics"'))]
    for name in ("accuracy", "over_correction_rate", "top_5_accuracy"):
        assert f">{name}</th>" in metrics
    assert sorted(re.findall(r'<tr class="model-row"[^>]*>\s*<td data-value="([^"]*)"', metrics)) == ["identity", "symspell"]
    published = dom[dom.index('<table id="published"') :]
    assert "Norvig's corrector (Norvig 2007)" in published and "0.750" in published


def test_coref_pages_show_gap_gender_table_and_winogender_disagreement(report_dir, tmp_path):
    gap = chromium_dom(report_dir / "task-coref-gap-test-demo.html", tmp_path / "profile")
    assert "<h2>By gender</h2>" in gap and ">bias_f_over_m</th>" in gap
    breakdown = gap[gap.index('<table id="breakdown"') :]
    assert '<td data-value="gender=F">F</td>' in breakdown and '<td data-value="gender=M">M</td>' in breakdown
    wino = chromium_dom(report_dir / "task-coref-winogender-test-demo.html", tmp_path / "profile")
    assert ">male_female_disagreement</th>" in wino
    for gender in ("male", "female", "neutral"):
        assert f'<td data-value="gender={gender}">{gender}</td>' in wino
    index = chromium_dom(report_dir / "index.html", tmp_path / "profile")
    assert sorted(leaderboard_rows(index)) == sorted([
        "spacy-en-sm", "vader", "capital-tagger", "evil&lt;b&gt;model&lt;/b&gt;", "symspell", "identity", "coref-nearest", "coref-first",
    ])


def test_leaderboard_sorts_by_a_column_from_the_url(report_dir, tmp_path):
    """The sorting script runs in Chromium: #sort=leaderboard:2:asc orders rows by the first task column."""
    def first_column_values(dom):
        table = dom[dom.index('<table id="leaderboard"') : dom.index("</table>", dom.index('<table id="leaderboard"'))]
        rows = re.findall(r'<tr class="model-row"[^>]*>.*?</tr>', table, re.S)
        return [re.findall(r'<td class="num" data-value="([^"]*)"', row)[0] for row in rows]

    def as_numbers(values):
        return [float(v) if v else float("-inf") for v in values]

    ascending = as_numbers(first_column_values(chromium_dom(report_dir / "index.html", tmp_path / "p1", "#sort=leaderboard:2:asc")))
    descending = as_numbers(first_column_values(chromium_dom(report_dir / "index.html", tmp_path / "p2", "#sort=leaderboard:2:desc")))
    assert ascending == sorted(ascending) and descending == sorted(descending, reverse=True)
    assert len(set(ascending)) > 2  # a real ordering, not a constant column


def test_runs_on_part_of_a_split_are_marked_on_the_leaderboard(report_dir, tmp_path):
    dom = chromium_dom(report_dir / "index.html", tmp_path / "profile")
    rows = re.findall(r'<tr class="model-row"[^>]*>(.*?)</tr>', dom, flags=re.S)
    tagger = next(row for row in rows if 'data-value="capital-tagger"' in row)
    marks = re.findall(r'<span class="subset muted">n=(\d+) of ([\d,]+) sentences</span>', tagger)  # NER counts sentences
    assert len(marks) == 1 and marks[0][0] == "2" and int(marks[0][1].replace(",", "")) > 2
    spacy = next(row for row in rows if 'data-value="spacy-en-sm"' in row)
    assert "subset" not in spacy  # whole splits carry no mark


def test_markup_in_outputs_stays_text_in_the_explorer(report_dir, tmp_path):
    """The explorer builds its rows from data files with textContent: hostile output is shown, never run."""
    page = report_dir / "explore-sentiment-validation.html"
    dom = chromium_dom(page, tmp_path / "profile", "#q=" + "pwned")
    assert "data-pwned" not in dom.split("<body", 1)[1].split(">", 1)[0]
    assert "&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;" in dom  # shown as text
    assert "<b>model</b>" not in dom and "evil&lt;b&gt;model&lt;/b&gt;" in dom


def test_breakdown_rows_and_paired_tests_say_what_their_n_counts(report_dir, tmp_path):
    """A type's P/R/F1 row counts its gold entities (its support), not sentences; a paired test
    counts the sentences both models answered; spelling's McNemar counts misspellings."""
    from harness.core.task import get_task

    page = (report_dir / "task-ner-test.html").read_text()
    breakdown = page[page.index('<table id="breakdown"'):]
    breakdown = breakdown[:breakdown.index("</table>")]
    units = re.findall(r'n=([\d,]+) ([a-z ]+)</span>', breakdown)
    assert units and {unit for _, unit in units} <= {"gold entity", "gold entities"}, units
    # the counts are the entities of each type in the gold data
    examples = get_task("ner").load("test", data_dir=report_dir.parent / "data", source="local").examples
    per_type = {}
    for example in examples:
        for tag in example.reference:
            if tag.startswith("B-"):
                per_type[tag[2:]] = per_type.get(tag[2:], 0) + 1
    shown = {int(n.replace(",", "")) for n, _ in units}
    assert shown == set(per_type.values()), (shown, per_type)
    pairwise = page[page.index('<table id="significance"'):]
    pairwise = pairwise[:pairwise.index("</table>")]
    assert re.search(r"n=[\d,]+ sentences", pairwise) and "gold entit" not in pairwise
    spelling = next(report_dir.glob("task-spelling-norvig1-*.html")).read_text()
    assert re.search(r'<table id="significance".*?n=[\d,]+ misspellings?<', spelling, re.S)


def test_a_paired_test_over_whole_examples_counts_examples_even_where_the_headline_counts_tokens():
    """A tagger's headline accuracy counts tokens (``metric_units``), but its paired bootstrap
    resamples sentences: the pairwise cell says sentences (it said tokens)."""
    from harness.report.columns import Column
    from harness.report.significance import PairResult

    column = Column("pos", "test", "local", "tagging", "UD", "accuracy", "task-pos.html", "explore-pos.html")
    column.example_unit, column.metric_units = "sentence", {"accuracy": "token"}
    column.breakdown_units = {"tag": "token"}
    whole = PairResult("a", "b", 2077, 0.01, -0.01, 0.03, "paired bootstrap", 0.2)
    part = PairResult("a", "b", 270, 0.01, -0.01, 0.03, "McNemar exact", 0.2, subset=True)
    assert column.pair_counted(whole) == "2,077 sentences" and column.pair_counted(part) == "270 tokens"
    assert column.counted(5120, "accuracy", "tag=NOUN") == "5,120 tokens"
    assert column.counted(1, "accuracy") == "1 token" and column.counted(12, None) == "12 sentences"


class _Keyword(Model):
    """Positive where the text has "good" or "fine" (the test's own rule)."""

    kinds = frozenset({"classification"})

    def predict(self, task, examples, *, batch_size=32):
        return [Prediction("positive" if {"good", "fine"} & set(e.input.lower().split()) else "negative")
                for e in examples]


class AcmeEncoder(_Keyword):
    """A third-party encoder: its name has no "hf:" for the board to guess from."""

    name, family = "acme-encoder", "encoder"


class AcmeAPI(_Keyword):
    """A third-party endpoint: its name has no "openai:"."""

    name, family = "acme-api", "endpoint"


class AcmeModels:
    @hookimpl
    def harness_register_models(self, register):
        register(AcmeEncoder())
        register(AcmeAPI())


def test_a_third_party_endpoint_and_encoder_are_filed_in_their_families_on_the_board(tmp_path, register_plugin):
    register_plugin(AcmeModels(), "acme-models")
    store = tmp_path / "s.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "acme-encoder,acme-api,vader",
                                      "--source", "demo", "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "site"
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(out)]).exit_code == 0
    index = (out / "index.html").read_text()
    rows = dict((model, family) for family, model in re.findall(
        r'<tr class="model-row" data-family="([^"]*)"[^>]*>\s*<td class="model" data-value="([^"]*)"', index))
    assert rows == {"acme-encoder": "encoder", "acme-api": "endpoint", "vader": "baseline"}


def test_a_family_outside_the_five_is_a_one_line_error():
    from harness import HarnessError

    class Odd(_Keyword):
        name, family = "odd", "oracle"

    with pytest.raises(HarnessError, match="family 'oracle' is not one of baseline, encoder, decoder, endpoint"):
        Odd().declared_family()
