"""The leaderboard committed in reports/: built by ``harness report --publish`` from the runs of
reports/suite.toml. It opens from disk in headless Chromium, quotes no sentence of a test set
whose licence forbids redistribution, names no path of the machine that built it, and its
README gives the command that rebuilt it and how long that took."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.run.suite import suite_digest

from .conftest import SHARED, chromium_dom

REPORTS = Path(__file__).parent.parent / "reports"
SITE = REPORTS / "site"


def test_the_site_was_built_from_the_committed_suite_file():
    index = (SITE / "index.html").read_text(encoding="utf-8")
    assert f"sha256 <code>{suite_digest(REPORTS / 'suite.toml')[:12]}</code>" in index
    assert 'id="publish-note"' in index  # built with --publish


def test_the_site_opens_from_disk_in_chromium(tmp_path):
    dom = chromium_dom(SITE / "index.html", tmp_path / "profile")
    table = dom[dom.index('<table id="leaderboard"'):]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<tr[^>]*data-family="([^"]+)"', table)
    assert len(rows) >= 10  # a fine-tune's k-series is one row
    assert "baseline" in rows and any(f.startswith("fine-tuned") for f in rows) and any(f.startswith("decoder") for f in rows)
    for link in sorted(set(re.findall(r'href="(task-[^"#]+\.html)"', dom))):
        page = chromium_dom(SITE / link, tmp_path / "profile")
        assert "<h1" in page and 'id="metrics"' in page, link


def test_the_site_names_no_path_of_the_machine_that_built_it():
    pattern = re.compile(r"(/work/|/root/|/home/|/tmp/|/Users/|[A-Z]:\\\\)")
    for page in SITE.iterdir():
        found = pattern.search(page.read_text(encoding="utf-8"))
        assert found is None, f"{page.name}: {found and page.read_text(encoding='utf-8')[found.start() - 60 : found.end() + 60]}"


def test_restricted_columns_say_their_text_is_withheld():
    pages = [p for p in SITE.glob("task-ner-test*.html")]
    assert pages, "the site has a CoNLL++ (ner) page"
    for page in pages:
        assert 'id="text-withheld"' in page.read_text(encoding="utf-8")


@pytest.mark.skipif(not (SHARED / "ner" / "conll2003" / "test.txt").is_file(), reason="../shared/data is not beside the clone")
def test_no_sentence_of_a_restricted_test_set_is_in_the_site():
    import json

    from harness.core.task import get_tasks

    sentences, seen = [], set()
    for registration in get_tasks().values():
        task = registration.obj
        if getattr(task, "text_redistributable", True) or not hasattr(task, "load") or id(task) in seen:
            continue
        seen.add(id(task))
        try:  # the split the leaderboard evaluates
            examples = task.load(None, data_dir=SHARED, source="local").examples
        except Exception:  # a dataset this data folder does not have
            continue
        for example in examples:
            text = example.input if isinstance(example.input, str) else " ".join(example.input)
            if len(text.split()) >= 5:  # shorter ones ("National Football League") occur in other datasets
                sentences.append(text)
            if isinstance(example.input, list) and len(example.input) >= 3:
                sentences.append(json.dumps(example.input, ensure_ascii=False, separators=(",", ":"))[1:-1])
    assert len(sentences) > 2000  # CoNLL-2003's test sentences, at least
    for page in SITE.iterdir():
        text = page.read_text(encoding="utf-8")
        for sentence in sentences:
            assert sentence not in text, f"{page.name} quotes a restricted sentence"


def test_the_readme_gives_the_rebuild_command_and_its_time():
    readme = (REPORTS / "README.md").read_text(encoding="utf-8")
    assert "harness run --suite reports/suite.toml" in readme
    assert "harness report --suite reports/suite.toml" in readme and "--publish" in readme
    assert re.search(r"took \*\*[0-9]+ min", readme)


def _board() -> dict[tuple[str, str], dict[str, str]]:
    """The published index's cells: (row name, task) -> score, interval and rank interval as printed."""
    index = (SITE / "index.html").read_text(encoding="utf-8")
    table = index[index.index('<table id="leaderboard"'):]
    table = table[: table.index("</table>")]
    heads = []
    for head in re.findall(r'<th class="sortable"[^>]*>(.*?)</th>', table, re.S):
        link = re.search(r"<a [^>]*>(.*?)</a>", head)
        heads.append(re.sub(r"<[^>]+>", "", link.group(1) if link else head).strip())
    cells = {}
    for row in re.findall(r'<tr class="model-row".*?</tr>', table, re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        name = re.search(r'<td class="model" data-value="([^"]*)"', row).group(1)
        for head, td in zip(heads, tds):
            score = re.search(r"(?:</span> |^)(\d\.\d{4})", td)
            if not score:
                continue
            rank = re.search(r'<span class="rank[^"]*"[^>]*>([^<]+)</span>', td)
            interval = re.search(r'<span class="ci">(\[[^\]]+\])</span>', td)
            cells[(name, head)] = {"score": score.group(1), "interval": interval.group(1) if interval else "",
                                   "rank": rank.group(1) if rank else ""}
    return cells


def _readme_table(title: str) -> list[list[str]]:
    """The rows of the README's markdown table under the heading ``title`` (header and rule left out)."""
    readme = (REPORTS / "README.md").read_text(encoding="utf-8")
    table = []
    for line in readme[readme.index(title):].splitlines()[1:]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    return [[cell.strip().strip("`") for cell in line.strip().strip("|").split("|")] for line in table[2:]]


def test_every_number_the_readme_quotes_is_on_the_published_board():
    board = _board()
    rows = _readme_table("### The numbers")
    assert len(rows) >= 10
    for task, model, score, interval, rank in rows:
        cell = board.get((model, task))
        assert cell is not None, f"README quotes {model} on {task}; the board has no such cell"
        assert (score, interval, rank) == (cell["score"], cell["interval"], cell["rank"]), (task, model, cell)


def test_the_readmes_leaders_are_the_boards_first_places():
    """"Leads alone" and "shares first place" claims: the models whose rank interval starts at 1."""
    board = _board()
    rows = _readme_table("### First places")
    assert rows
    for task, leaders in rows:
        claimed = {name.strip().strip("`") for name in leaders.split(",")}
        first = {name for (name, head), cell in board.items() if head == task and cell["rank"].split("–")[0] == "1"}
        assert claimed == first, (task, claimed, first)


def test_the_published_index_fits_1400_pixels(tmp_path):
    from .test_report_browser import _layout

    layout = _layout(SITE / "index.html", tmp_path / "p")
    assert layout["document"] <= 1400, layout
    assert layout["boxes"] and all(scroll <= client for scroll, client in layout["boxes"]), layout


_DIFFERENCE = re.compile(r"([+−-]\d\.\d+) \[([+−-]\d\.\d+), ([+−-]\d\.\d+)\]")


def _as_float(text: str) -> float:
    return float(text.replace("−", "-"))


def test_every_paired_difference_the_readme_quotes_is_a_cell_of_the_board():
    """The prose's "+0.585 [+0.541, +0.625]": a pairwise cell of some task page, printed there to
    four places, of which each quoted number is the rounding to three (half a thousandth off at most)."""
    readme = (REPORTS / "README.md").read_text(encoding="utf-8")
    quoted = {tuple(_as_float(x) for x in found) for found in _DIFFERENCE.findall(readme)}
    assert len(quoted) >= 5, "the README quotes paired differences"
    cells = set()
    for page in SITE.glob("task-*.html"):
        for found in re.findall(r'<span class="ci">' + _DIFFERENCE.pattern, page.read_text(encoding="utf-8")):
            cells.add(tuple(_as_float(x) for x in found))
    missing = sorted(q for q in quoted
                     if not any(all(abs(a - b) <= 0.0005 + 1e-9 for a, b in zip(q, cell)) for cell in cells))
    assert not missing, f"README differences not on any task page: {missing}"
