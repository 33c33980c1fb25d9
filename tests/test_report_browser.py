"""The comparative leaderboard, checked in headless Chromium: one row per model, rank ties,
the significance matrix, a confusion matrix, NER error categories, a reliability diagram,
the Pareto chart and explorer filters; and ``--publish``, which keeps every number but no
sentence of a dataset whose licence forbids republishing it.

By default the site is built from a store of small fixture runs. With
``HARNESS_REPORT_STORE=path/to/store.sqlite`` the same checks run on the report of that
store (the acceptance run on ../shared/data), and the publish check then greps for every
sentence of the real restricted test sets under ``HARNESS_REPORT_DATA`` (../shared/data).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.store.store import Store

from . import slow_plugin
from .conftest import SHARED, chromium_dom


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(store, site, published site, data folder) for every test here."""
    tmp = tmp_path_factory.mktemp("browser")
    given = os.environ.get("HARNESS_REPORT_STORE")
    if given:
        store, data_dir = Path(given), Path(os.environ.get("HARNESS_REPORT_DATA", Path(__file__).parents[2] / "shared" / "data"))
    else:
        store, data_dir = _fixture_store(tmp)
    site, published = tmp / "site", tmp / "published"
    for out, extra in ((site, []), (published, ["--publish"])):
        result = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
    return store, site, published, data_dir


def _fixture_store(tmp: Path):
    from harness.plugins.registry import pm

    from .conftest import build_tiny_encoder, write_data_dir

    data_dir = write_data_dir(tmp / "data")
    encoder = build_tiny_encoder(tmp / "models" / "tiny-sentiment", "sequence", ["negative", "positive"])
    store = tmp / "fixture.sqlite"
    pm.register(slow_plugin, name="slow-plugin")
    os.environ["SLOW_TAGGER_DELAY"] = "0.02"  # long enough to time: the Pareto chart has a point
    try:
        for args in (["--tasks", "ner,sentiment", "--models", f"spacy-en-sm,vader,capital-tagger,hf:{encoder}",
                      "--data-dir", str(data_dir)],
                     ["--tasks", "spelling:norvig1,coref", "--models", "symspell,identity,coref-nearest,coref-first",
                      "--source", "demo"]):
            result = CliRunner().invoke(cli, ["run", *args, "--store", str(store), "--no-progress"])
            assert result.exit_code == 0, result.output
    finally:
        os.environ.pop("SLOW_TAGGER_DELAY", None)
        pm.unregister(name="slow-plugin")
    return store, data_dir


def _latest(store: Path):
    return Store(store, readonly=True).latest_runs()


def _page(runs, task: str) -> str:
    from harness.report.leaderboard import slug

    row = runs[runs["task"] == task].iloc[0]
    return f"task-{slug(task)}-{slug(row['split'])}" + ("-demo" if row["data_source"] == "demo" else "") + ".html"


def _table(dom: str, table_id: str) -> str:
    start = dom.index(f'<table id="{table_id}"')
    return dom[start : dom.index("</table>", start)]


def test_one_row_per_model_with_its_family_and_no_paths(built, tmp_path):
    store, site, _, _ = built
    runs = _latest(store)
    dom = chromium_dom(site / "index.html", tmp_path / "p")
    rows = re.findall(r'<tr class="model-row" data-family="([^"]*)"[^>]*>\s*<td class="model" data-value="([^"]*)"', _table(dom, "leaderboard"))
    assert len(rows) == runs["model"].nunique()
    assert {family for family, _ in rows} <= {"baseline", "encoder", "fine-tuned encoder", "decoder", "endpoint"}
    for model in runs["model"].unique():  # a local folder's path never names the row
        if model.startswith("hf:/"):
            assert model not in dom and Path(model[3:]).name in dom


def test_family_filter_hides_rows(built, tmp_path):
    store, site, _, _ = built
    dom = chromium_dom(site / "index.html", tmp_path / "p", "#families=baseline")
    rows = re.findall(r'<tr class="model-row" data-family="([^"]*)"(?: data-series="\d+")?( hidden="")?>', _table(dom, "leaderboard"))
    assert rows and all((family == "baseline") != bool(hidden) for family, hidden in rows)
    assert any(hidden for _, hidden in rows)


def test_ranks_tie_where_no_model_is_significantly_better(built, tmp_path):
    store, site, _, _ = built
    dom = chromium_dom(site / "index.html", tmp_path / "p")
    table = _table(dom, "leaderboard")
    firsts_per_column: dict[int, int] = {}
    for row in re.findall(r'<tr class="model-row".*?</tr>', table, re.S):
        for column, cell in enumerate(re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)):
            if 'class="rank rank-1"' in cell:
                firsts_per_column[column] = firsts_per_column.get(column, 0) + 1
    assert firsts_per_column and max(firsts_per_column.values()) >= 2  # a shared first place
    assert "mean win rate" in dom


def test_significance_matrix_is_consistent_both_ways(built, tmp_path):
    store, site, _, _ = built
    runs = _latest(store)
    task = runs.groupby("task")["model"].nunique().idxmax()
    dom = chromium_dom(site / _page(runs, task), tmp_path / "p")
    table = _table(dom, "significance")
    models = re.findall(r"<th>(.*?)</th>", table.split("</thead>")[0])[1:]
    rows = re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", table, re.S)
    assert len(rows) == len(models) >= 2
    verdicts = {}
    for r, (name, cells) in enumerate(rows):
        for c, verdict in enumerate(re.findall(r'<td class="(?:better|worse|same)"(?: data-verdict="(\w+)")?', cells)):
            verdicts[r, c] = verdict
    opposite = {"better": "worse", "worse": "better", "same": "same"}
    for (r, c), verdict in verdicts.items():
        if r != c:
            assert verdict in opposite and verdicts[c, r] == opposite[verdict]


def test_confusion_matrix_counts_every_example(built, tmp_path):
    store, site, _, _ = built
    runs = _latest(store)
    dom = chromium_dom(site / _page(runs, "sentiment"), tmp_path / "p")
    tables = re.findall(r'<table class="analysis" data-title="Confusion matrix" data-model="([^"]*)">(.*?)</table>', dom, re.S)
    assert len(tables) == len(runs[runs["task"] == "sentiment"])
    n = {r["model"]: r["n"] for _, r in runs[runs["task"] == "sentiment"].iterrows()}
    for _, table in tables:
        counts = [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', table)]
        assert sum(counts) in n.values()


def test_ner_error_categories_account_for_every_gold_entity(built, tmp_path):
    store, site, _, _ = built
    runs = _latest(store)
    from harness.kinds.tagging.scoring import entity_spans

    dom = chromium_dom(site / _page(runs, "ner"), tmp_path / "p")
    tables = re.findall(r'<table class="analysis" data-title="Entity errors by category" data-model="[^"]*">(.*?)</table>', dom, re.S)
    assert tables
    first_run = runs[runs["task"] == "ner"].iloc[0]
    frame = Store(store, readonly=True).predictions([int(first_run["id"])])
    gold = sum(len(entity_spans(r)) for r in frame["reference"])
    headings = re.findall(r"<th>(.*?)</th>", tables[0])
    assert headings[1:] == ["correct", "wrong type", "wrong boundary", "wrong type and boundary", "missed", "spurious"]
    sums = []
    for table in tables:
        all_types = re.search(r'<th scope="row">all types</th>(.*?)</tr>', table, re.S).group(1)
        counts = [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', all_types)]
        sums.append(sum(counts[:5]))  # every gold entity is correct, mistyped, misbounded, both or missed
    assert gold in sums


def test_reliability_diagram_for_models_with_probabilities(built, tmp_path):
    store, site, _, _ = built
    runs = _latest(store)
    dom = chromium_dom(site / _page(runs, "sentiment"), tmp_path / "p")
    table = _table(dom, "calibration")
    rows = [[float(v) for v in re.findall(r'<td class="num" data-value="([0-9.e-]+)">', row)]
            for row in re.findall(r"<tr><td.*?</tr>", table, re.S)]
    assert rows and all(0 <= ece <= 1 and 0 <= brier <= 2 and n >= 1 for ece, brier, n in rows)
    assert len(re.findall(r'<svg class="reliability"', dom)) >= 1 and '<rect class="bin"' in dom


def test_pareto_chart_plots_timed_runs(built, tmp_path):
    store, site, _, _ = built
    runs = _latest(store)
    timed = runs[(runs["compute_time_s"] >= 0.05)]
    task = timed["task"].value_counts().idxmax()
    dom = chromium_dom(site / _page(runs, task), tmp_path / "p")
    assert '<svg id="pareto"' in dom
    assert len(re.findall(r'<circle class="cost-point"', dom)) == len(timed[timed["task"] == task])


def _explorer_state(dom: str) -> tuple[int, list[str]]:
    matched = int(re.search(r'id="count"[^>]*data-matched="(\d+)"', dom).group(1))
    rows = re.findall(r'<tr class="explorer-row" data-id="[^"]*">(.*?)</tr>', dom, re.S)
    return matched, rows


def test_explorer_filters_change_the_visible_rows(built, tmp_path):
    store, site, _, _ = built
    runs = _latest(store)
    task = runs.groupby("task")["model"].nunique().idxmax()
    page = site / _page(runs, task).replace("task-", "explore-", 1)
    everything, rows = _explorer_state(chromium_dom(page, tmp_path / "p1"))
    assert everything >= 1 and len(rows) == min(everything, 50)
    filtered = {}
    for mode in ("a-right-b-wrong", "all-wrong", "disagree"):
        count, rows = _explorer_state(chromium_dom(page, tmp_path / mode, f"#mode={mode}&a=0&b=1"))
        filtered[mode] = count
        assert len(rows) == min(count, 50)
        for row in rows:
            cells = re.findall(r'<td class="(right|wrong|absent)"', row)
            if mode == "a-right-b-wrong":
                assert cells[0] == "right" and cells[1] == "wrong"
            if mode == "all-wrong":
                assert "right" not in cells
    assert any(count != everything for count in filtered.values())
    probe = re.search(r'<option value="([^"]+=[^"]+)">', chromium_dom(page, tmp_path / "p2"))
    assert probe, "the explorer lists facets to filter by"
    facet, _ = _explorer_state(chromium_dom(page, tmp_path / "facet", "#facet=" + probe.group(1).replace("=", "%3D")))
    assert 1 <= facet <= everything


def _restricted_sentences(store: Path, data_dir: Path) -> list[str]:
    """Every sentence of the restricted test sets the store ran on, read from the data itself."""
    from harness.core.task import get_task

    sentences = []
    for _, run in _latest(store).iterrows():
        task = get_task(run["task"])
        if task.text_redistributable or run["data_source"] == "demo":
            continue
        examples = task.load(run["split"], data_dir=data_dir, source="local").examples
        for example in examples:
            text = example.input if isinstance(example.input, str) else " ".join(example.input)
            if len(text.split()) >= 5:  # shorter ones ("National Football League") occur in other datasets too
                sentences.append(text)
            if isinstance(example.input, list) and len(example.input) >= 3:
                sentences.append(json.dumps(example.input, ensure_ascii=False, separators=(",", ":"))[1:-1])
    return sentences


def test_publish_leaves_out_restricted_text_and_keeps_every_number(built):
    store, site, published, data_dir = built
    sentences = _restricted_sentences(store, data_dir)
    assert sentences, "the store has a run on a restricted dataset (CoNLL-2003)"
    private_text = "\n".join(p.read_text(encoding="utf-8") for p in site.iterdir() if p.is_file())
    assert any(s in private_text for s in sentences)  # the unpublished report does quote them
    for page in published.iterdir():
        text = page.read_text(encoding="utf-8")
        for sentence in sentences:
            assert sentence not in text, f"{page.name} quotes a restricted sentence"
    for name in ("index.html", *[p.name for p in site.glob("task-*.html")]):
        numbers = re.findall(r'data-value="(-?[0-9][0-9.e+-]*)"', (site / name).read_text(encoding="utf-8"))
        assert numbers == re.findall(r'data-value="(-?[0-9][0-9.e+-]*)"', (published / name).read_text(encoding="utf-8"))
    assert "does not allow republishing" in (published / _page(_latest(store), "ner")).read_text(encoding="utf-8")


def test_no_page_names_a_path_of_this_machine(built):
    store, site, published, data_dir = built
    needles = {str(store.parent), str(data_dir), str(Path.home()) + "/", str(Path.cwd())}
    for folder in (site, published):
        for page in folder.iterdir():
            text = page.read_text(encoding="utf-8")
            for needle in needles:
                assert needle not in text, f"{page.name} names {needle}"


def test_pages_built_in_parallel_processes_are_the_same(built, tmp_path):
    """`--workers 2` (what a large store gets by default) writes the very same site."""
    from .conftest import harness_subprocess

    store, site, _, _ = built
    result = harness_subprocess(["report", "--store", str(store), "--out", str(tmp_path / "parallel"), "--workers", "2"])
    assert result.returncode == 0, result.stderr
    for page in site.iterdir():
        assert (tmp_path / "parallel" / page.name).read_bytes() == page.read_bytes(), page.name


def test_rank_intervals_hold_the_point_rank_and_say_their_method(built, tmp_path):
    store, site, _, _ = built
    runs = _latest(store)
    pages = {"index.html": site / "index.html", **{task: site / _page(runs, task) for task in ("ner", "sentiment")}}
    for name, page in pages.items():
        dom = chromium_dom(page, tmp_path / name)
        badges = re.findall(r'<span class="rank rank-(\d+)" data-point="(\d+)" data-best="(\d+)" data-worst="(\d+)"[^>]*>([^<]*)</span>', dom)
        assert badges, name
        for css, point, best, worst, label in badges:
            point, best, worst = int(point), int(best), int(worst)
            assert best <= point <= worst and int(css) == best
            assert label == (str(best) if best == worst else f"{best}–{worst}")
    index = chromium_dom(site / "index.html", tmp_path / "i")
    assert "rank interval" in index and "significantly worse" in index


def test_pairwise_cells_and_headlines_say_what_their_sample_could_detect(built, tmp_path):
    store, site, _, _ = built
    runs = _latest(store)
    tests_seen = set()
    for task in ("ner", "sentiment"):  # F1: the paired bootstrap; accuracy: McNemar's exact test
        dom = chromium_dom(site / _page(runs, task), tmp_path / task)
        table = _table(dom, "significance")
        cells = re.findall(r'<td class="(?:better|worse|same)" data-verdict="\w+" title="([^":]+):[^"]*">(.*?)</td>', table, re.S)
        assert cells, task
        for test, body in cells:
            tests_seen.add(test)
            assert re.search(r"could detect ≥ \d\.\d{4}", body), body
        detectable = re.findall(r'<td class="num detectable" data-value="([^"]*)">', _table(dom, "metrics"))
        assert len(detectable) == len(runs[runs["task"] == task]) and all(float(v) > 0 for v in detectable)
    assert tests_seen == {"paired bootstrap", "McNemar exact"}


def _headings(table: str) -> list[str]:
    """The leaderboard's column headings: a task column by its task name ("coref:gap")."""
    heads = re.findall(r'<th class="sortable"[^>]*>(.*?)</th>', table, re.S)
    return [re.sub(r"<[^>]+>", "", re.search(r"<a [^>]*>(.*?)</a>", h).group(1)) if "<a " in h else re.sub(r"<[^>]+>", "", h)
            for h in heads]


def test_overall_names_its_task_set_and_ranks_only_rows_that_ran_all_of_it(built, tmp_path):
    store, site, _, _ = built
    dom = chromium_dom(site / "index.html", tmp_path / "p")
    named = re.search(r'<span id="overall-tasks">([^<]*)</span>', dom).group(1).split(", ")
    table = _table(dom, "leaderboard")
    heads = _headings(table)
    assert heads[:2] == ["model", "overall"] and set(named) <= set(heads)
    ranked = unranked = 0
    for row in re.findall(r'<tr class="model-row".*?</tr>', table, re.S):
        cells = re.findall(r'<td[^>]*data-value="([^"]*)"[^>]*>(.*?)</td>', row, re.S)
        assert len(cells) == len(heads)
        ran = [task for task in named if cells[heads.index(task)][0]]
        overall_value, overall_text = cells[1]
        if overall_value:
            ranked += 1
            assert ran == named and 0 <= float(overall_value) <= 1
        else:
            unranked += 1
            assert len(ran) < len(named) and f"ran {len(ran)} of {len(named)}" in overall_text, overall_text
    assert ranked >= 2 and unranked >= 1


def test_the_family_table_names_each_familys_best_and_the_leaders_tests(built, tmp_path):
    store, site, _, _ = built
    dom = chromium_dom(site / "index.html", tmp_path / "p")
    table = _table(dom, "family-best")
    families = re.findall(r"<th>([^<]+)</th>", table)[1:-1]
    rows = re.findall(r'<tr class="family-best-row" data-task="([^"]+)" data-leader="([^"]+)">(.*?)</tr>', table, re.S)
    runs = _latest(store)
    assert {task for task, _, _ in rows} == set(runs["task"])
    for task, leader, body in rows:
        values = {f: float(v) for f, v in re.findall(r'<td class="num[^"]*" data-family="([^"]+)" data-value="([^"]+)"', body)}
        assert set(values) <= set(families) and max(values, key=values.get) == leader
        assert f'class="num leader" data-family="{leader}"' in body
        versus = re.findall(r'<span data-family="([^"]+)" data-verdict="(\w+)"[^>]*>(.*?)</span>(?:; |</td>|$)', body, re.S)
        assert {f for f, _, _ in versus} == set(values) - {leader}
        for family, verdict, text in versus:
            if verdict == "untested":
                continue
            # every verdict with the leader's paired difference, its interval and the Holm p
            said = re.search(r'(better than|not significantly better than) ' + re.escape(family) + r': <span class="ci">'
                             r'([+-]?\d\.\d{3}) \[([+-]?\d\.\d{3}), ([+-]?\d\.\d{3})\]</span>, '
                             r'p<sub>Holm</sub>(?:&nbsp;| )(=(?:&nbsp;| )0\.\d+|=(?:&nbsp;| )1\.00|&lt;(?:&nbsp;| |\u00a0)0\.001), n=[\d,]+ \w+', text)
            assert said, text
            difference, low, high = (float(x) for x in said.groups()[1:4])
            assert low <= difference <= high
            assert (said.group(1) == "better than") == (verdict == "better")
            if verdict == "better":
                assert difference > 0 and not said.group(5).endswith("1.00")
            if verdict == "same":  # a test that found nothing says what it could have found
                assert re.search(r"\(could detect ≥ \d\.\d{3}\)", text), text


def _layout(page: Path, profile: Path, window: str = "1400,900") -> dict:
    """Widths the page lays out to at ``window`` in headless Chromium: the document's scroll
    width and, per scrolling box, its scroll and client widths."""
    probe = profile.with_name(f"probe-{profile.name}-{page.name}")  # beside the profile: never in the site itself
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", """<script>
document.body.dataset.layout = JSON.stringify({document: document.documentElement.scrollWidth,
  boxes: Array.prototype.map.call(document.querySelectorAll(".scroll"), function (b) { return [b.scrollWidth, b.clientWidth]; })});
</script></body>"""), encoding="utf-8")
    try:
        dom = chromium_dom(probe, profile, window=window)
    finally:
        probe.unlink()
    return json.loads(re.search(r'data-layout="([^"]*)"', dom).group(1).replace("&quot;", '"'))


def test_the_index_of_a_full_board_fits_1400_pixels(tmp_path):
    """Every task of the board (11 clean columns, on their demo sets), every baseline, noisy
    runs beside: the index lays out without horizontal scrolling at 1400 x 900."""
    store = tmp_path / "wide.sqlite"
    for extra in ([], ["--perturb", "typo:0.1,0.2"]):
        tasks = "ner,ner:wnut17,sentiment,coref,spelling" if not extra else "ner,sentiment"
        result = CliRunner().invoke(cli, ["run", "--tasks", tasks, "--models",
                                          "spacy-en-sm,vader,coref-first,coref-nearest,identity,pyspellchecker,symspell,autocorrect",
                                          "--source", "demo", "--store", str(store), "--no-progress", *extra])
        assert result.exit_code == 0, result.output
    # runs on part of each split: every cell of a row then carries its "n=… of … <unit>" label
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner,ner:wnut17,sentiment,spelling", "--models",
                                      "capitalised-spans,textblob-polarity,textblob", "--source", "demo",
                                      "--limit", "5", "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)]).exit_code == 0
    index = (site / "index.html").read_text(encoding="utf-8")
    heads = _headings(_table(index, "leaderboard"))
    assert len(heads) == 2 + 11 + 1 and not any("typo" in h for h in heads)  # noisy columns are not on the index
    assert index.count('class="subset muted">n=5 of') >= 8
    layout = _layout(site / "index.html", tmp_path / "p")
    assert layout["document"] <= 1400, layout
    assert layout["boxes"] and all(scroll <= client for scroll, client in layout["boxes"]), layout


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data")
def test_a_small_sample_shows_a_wider_rank_interval_than_the_full_set(tmp_path):
    """On Norvig's set 1 (real data): three correctors on all 270 misspellings, one on a
    handful; the handful's rank interval is wider than each full run's."""
    store = tmp_path / "n.sqlite"
    for models, extra in (("symspell,pyspellchecker,identity", []), ("autocorrect", ["--limit", "15"])):
        result = CliRunner().invoke(cli, ["run", "--tasks", "spelling:norvig1", "--models", models, "--data-dir", str(SHARED),
                                          "--store", str(store), "--no-progress", *extra])
        assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(site)]).exit_code == 0
    dom = chromium_dom(site / "index.html", tmp_path / "p")
    widths = {}
    for row in re.findall(r'<tr class="model-row".*?</tr>', _table(dom, "leaderboard"), re.S):
        name = re.search(r'<td class="model" data-value="([^"]*)"', row).group(1)
        best, worst = map(int, re.search(r'data-best="(\d+)" data-worst="(\d+)"', row).groups())
        n = int(re.search(r"n=(\d+) of", row).group(1)) if "n=" in row else None
        widths[name] = (worst - best, n)
    small = widths.pop("autocorrect")
    assert small[1] is not None and small[1] < 20
    assert all(small[0] > width for width, n in widths.values()), widths
    # every n says what it counts: words run, misspellings scored (and tested)
    assert "n=15 of 411 words" in dom
    page = chromium_dom(site / "task-spelling-norvig1-test.html", tmp_path / "task")
    metrics = _table(page, "metrics")
    assert "n=9 misspellings" in metrics and "n=141 correct words" in metrics
    pairs = _table(page, "significance")
    assert "n=270 misspellings" in pairs and "n=9 misspellings" in pairs and "n=411" not in pairs


def test_rows_sort_best_first_and_no_number_prints_a_negative_zero(built, tmp_path):
    store, site, _, _ = built
    dom = chromium_dom(site / "index.html", tmp_path / "p")
    overall = [v for v in re.findall(r'<td class="num overall" data-value="([^"]*)"', _table(dom, "leaderboard"))]
    ranked = [float(v) for v in overall if v]
    assert ranked and ranked == sorted(ranked, reverse=True) and overall[: len(ranked)] == [v for v in overall if v]
    for page in sorted(site.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"[-+]0\.0+(?!\d*[1-9])\b", text), page.name  # "-0.0000", "+0.00"


def test_chart_labels_have_room_for_the_longest_model_name(built, tmp_path):
    store, site, _, _ = built
    dom = chromium_dom(site / "index.html", tmp_path / "p")
    charts = re.findall(r'(<svg class="dot-whisker".*?</svg>)', dom, re.S)
    assert charts
    for chart in charts:
        labels = re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end" font-size="12">([^<]+)</text>', chart)
        assert labels
        for x, name in labels:  # right-aligned at x: about 7 px a character at 12 px must fit left of it
            assert float(x) >= 7 * len(name), (name, x)


def test_a_one_model_explorer_offers_no_a_b_comparison_and_two_models_start_apart(built, tmp_path):
    store, site, _, _ = built
    pages = sorted(site.glob("explore-*.html"))
    assert pages
    for page in pages:  # every column of the fixture has two models or more
        dom = chromium_dom(page, tmp_path / page.stem)
        b = dom[dom.index('id="model-b"'): dom.index("</select>", dom.index('id="model-b"'))]
        assert re.search(r'<option value="1" selected="">', b)  # A is the first model, B the second
        assert '<th class="input">input</th>' in dom or "text-withheld" in dom
    alone = tmp_path / "alone.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--models", "vader", "--source", "demo", "--store",
                                      str(alone), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(cli, ["report", "--store", str(alone), "--out", str(tmp_path / "one")]).exit_code == 0
    dom = chromium_dom(next((tmp_path / "one").glob("explore-*.html")), tmp_path / "p-one")
    assert 'value="a-right-b-wrong"' not in dom and 'value="disagree"' not in dom and 'value="all-wrong"' in dom
    assert re.search(r'<label hidden="">A <select id="model-a">', dom) and re.search(r'<label hidden="">B <select', dom)


def test_the_default_run_compares_two_models_on_each_task(tmp_path):
    """README command 1 (``harness run --tasks ner,sentiment``, its built-in defaults, offline):
    every task column of the first page ranks at least two models, and says the demo data is tiny."""
    store = tmp_path / "first.sqlite"
    result = CliRunner().invoke(cli, ["run", "--tasks", "ner,sentiment", "--store", str(store), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(tmp_path / "site")]).exit_code == 0
    dom = chromium_dom(tmp_path / "site" / "index.html", tmp_path / "p")
    table = _table(dom, "leaderboard")
    heads = _headings(table)
    ranked = {task: 0 for task in ("ner", "sentiment")}
    for row in re.findall(r'<tr class="model-row".*?</tr>', table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        for task in ranked:
            ranked[task] += 'class="rank rank-' in cells[heads.index(task)]
    assert all(count >= 2 for count in ranked.values()), ranked
    assert 'id="demo-note"' in dom and "--data-dir" in dom
