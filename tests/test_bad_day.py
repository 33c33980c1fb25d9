"""The bad day, second and third passes: shared suites, killed reports, hostile servers and secrets;
redaction that never rewrites names, publishing rules, silent fallbacks and bounded options.

One test per fault found by trying harness as a hostile user, a careless user and a flaky
network would (numbered as in the issue that listed them); each reproduces the probe and
checks the one-line message or the safe behaviour, and that nothing computed is lost.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import Example, Model, Prediction, Task, hookimpl
from harness.cli import cli
from plugins.openai_endpoint import PROBE_TEXT
from harness.store.store import Store

from .conftest import CONLL_SENTENCES, harness_subprocess

SECRET_WORD = CONLL_SENTENCES[1][0][0]  # a word of the CoNLL fixture: text that --publish must leave out


def invoke(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def vader_run(data_dir, store, *extra):
    return invoke("run", "--tasks", "sentiment,ner", "--models", "vader,spacy-en-sm", "--data-dir", data_dir,
                  "--store", store, "--no-progress", *extra)


def site_text(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


# -- a fake OpenAI-compatible server that misbehaves on request ------------------------------------

def _echo(prompt: str, values=None, offsets=None, fill: float = -0.5) -> dict:
    tokens = re.findall(r"\s*\S", prompt)
    starts = [0]
    for token in tokens[:-1]:
        starts.append(starts[-1] + len(token))
    logprobs = {"tokens": tokens, "text_offset": offsets if offsets is not None else starts,
                "token_logprobs": values if values is not None else [None] + [fill] * (len(tokens) - 1),
                "top_logprobs": None}
    return {"id": "x", "object": "text_completion", "model": "fake", "created": 0,
            "choices": [{"index": 0, "text": prompt, "logprobs": logprobs, "finish_reason": "length"}]}


def completion(text: str) -> dict:
    return {"id": "x", "object": "text_completion", "model": "fake", "created": 0,
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class FakeServer:
    """Serves model ``fake``; each completion request (after the probe) is answered by
    ``answer(body)``, which returns a JSON-able object, raw bytes, or ("trickle", bytes)."""

    def __init__(self, answer):
        self.answer = answer
        self.requests: list[dict] = []
        self.stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: bytes, *, trickle: bool = False):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if not trickle:
                    self.wfile.write(payload)
                    return
                for byte in payload:  # one byte every 0.2 s: each read succeeds, the whole never ends
                    if server.stop.wait(0.2):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send(200, json.dumps({"object": "list", "data": [
                        {"id": "fake", "object": "model", "owned_by": "me", "created": 0}]}).encode())
                else:
                    self._send(404, b"{}")

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                prompt = body.get("prompt")
                if prompt == PROBE_TEXT and body.get("echo"):
                    return self._send(200, json.dumps(_echo(PROBE_TEXT)).encode())
                if isinstance(prompt, str) and PROBE_TEXT.startswith(prompt):  # the probe's plain completion
                    return self._send(400, json.dumps({"error": {"message": "no"}}).encode())
                server.requests.append(body)
                answer = server.answer(body)
                if isinstance(answer, tuple) and answer[0] == "trickle":
                    return self._send(200, answer[1], trickle=True)
                self._send(200, answer if isinstance(answer, bytes) else json.dumps(answer).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a client that hung up on a bad answer
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_server():
    servers = []

    def start(answer):
        servers.append(FakeServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def openai_run(base_url, data_dir, store, *extra, task="sentiment"):
    return invoke("run", "--tasks", task, "--models", "openai:fake", "--data-dir", data_dir, "--store", store,
                  "--no-progress", "-o", f"base_url={base_url}", *extra)


# -- 1. a shared suite writes only inside its folder or the cache ------------------------------------

@pytest.mark.parametrize(("table", "message"), [
    ('[suite]\nname = "../../../escaped_step"\n[[run]]\ntasks = ["sentiment"]\nmodels = ["vader"]\n',
     "[suite] key 'name': '../../../escaped_step' cannot name a folder"),
    ('[suite]\nname = "ok"\n[[finetune]]\nname = "../../up"\ntask = "sentiment"\nbase = "minilm-l6"\nk = 4\n',
     "[[finetune]] #1 key 'name': '../../up' cannot name a folder"),
    ('[suite]\nname = "ok"\n[[finetune]]\nname = "step"\ntask = "sentiment"\nbase = "minilm-l6"\nk = 4\nout = "../../outside"\n',
     "[[finetune]] #1 key 'out': '../../outside' leads outside"),
    ('[suite]\nname = "ok"\n[[finetune]]\nname = "step"\ntask = "sentiment"\nbase = "minilm-l6"\nk = 4\nout = "/tmp/anywhere"\n',
     "[[finetune]] #1 key 'out': '/tmp/anywhere' leads outside"),
])
def test_01_a_suite_cannot_write_outside_its_folder_or_the_cache(tmp_path, table, message):
    home = tmp_path / "shared" / "suites"
    home.mkdir(parents=True)
    suite = home / "suite.toml"
    suite.write_text(table)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = invoke("run", "--suite", suite, "--store", home / "s.sqlite", "--no-progress")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {suite}: {message}" + result.output.strip().split(message, 1)[1]
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written anywhere
    assert not Path("/escaped_step").exists()


def test_01_fine_tuning_never_removes_a_folder_it_did_not_make(tmp_path, base_encoder, data_dir):
    from harness.run.finetune import FinetuneConfig, finetune

    out = tmp_path / "model"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "mine.txt").write_text("the user's own file")
    finetune(FinetuneConfig(task="ner", base=str(base_encoder), out=str(out), data_dir=str(data_dir), epochs=1,
                            batch_size=2, train_limit=4), progress=False)
    assert (out / "checkpoints" / "mine.txt").read_text() == "the user's own file"
    assert (out / "harness_finetune.json").is_file() and not list(out.glob(".harness-checkpoints-*"))


# -- 2. a killed report leaves no private page in --out, and never a mixed site ----------------------

def test_02_a_report_killed_at_the_switch_leaves_the_old_site_and_the_next_one_cleans_up(data_dir, tmp_path):
    store, site = tmp_path / "s.sqlite", tmp_path / "site"
    assert vader_run(data_dir, store, "--limit", "3").exit_code == 0
    assert invoke("report", "--store", store, "--out", site, "--publish").exit_code == 0
    old = {p.name: p.read_bytes() for p in site.iterdir()}
    assert SECRET_WORD not in site_text(site)
    assert vader_run(data_dir, store).exit_code == 0  # more examples: the next site differs
    # a private report killed (SIGKILL-like: no cleanup runs) with its new site built, not yet switched in
    killed = subprocess.run([sys.executable, "-c", (
        "import os, sys\n"
        "import harness.report.render as render\n"
        "render._exchange = lambda a, b: os._exit(9)\n"
        "from harness.cli import cli\n"
        f"cli(['report', '--store', {str(store)!r}, '--out', {str(site)!r}])\n")], capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr
    assert {p.name: p.read_bytes() for p in site.iterdir()} == old  # --out holds the old site, whole
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".site.harness-new-")]
    assert len(left) == 1 and SECRET_WORD in site_text(left[0])  # the private pages are beside --out, not in it
    (site / ".harness-report-abc123").mkdir()  # what an older release's killed report left inside --out
    (site / ".harness-report-abc123" / "task-ner-test.html").write_text(f"<p>{SECRET_WORD}</p>")
    result = invoke("report", "--store", store, "--out", site, "--publish")
    assert result.exit_code == 0, result.output
    assert not [p for p in tmp_path.iterdir() if ".harness-" in p.name]
    assert not list(site.glob(".harness-report-*"))
    assert SECRET_WORD not in site_text(site)
    marker = json.loads((site / ".harness-site.json").read_text())
    assert sorted(p.name for p in site.iterdir() if p.name != ".harness-site.json") == sorted(
        p for p in marker["pages"] if p != ".harness-site.json")


def test_02_a_report_keeps_files_it_did_not_write_and_the_folder_mode(data_dir, tmp_path):
    store, site = tmp_path / "s.sqlite", tmp_path / "site"
    assert vader_run(data_dir, store, "--limit", "2").exit_code == 0
    site.mkdir()
    site.chmod(0o755)
    (site / "CNAME").write_text("board.example.org\n")
    (site / "assets").mkdir()
    (site / "assets" / "logo.svg").write_text("<svg/>")
    assert invoke("report", "--store", store, "--out", site).exit_code == 1  # not harness's folder: --force first
    assert invoke("report", "--store", store, "--out", site, "--force").exit_code == 0
    assert invoke("report", "--store", store, "--out", site).exit_code == 0  # now a site harness wrote
    assert (site / "CNAME").read_text() == "board.example.org\n" and (site / "assets" / "logo.svg").read_text() == "<svg/>"
    assert (site / "index.html").is_file() and oct(site.stat().st_mode & 0o777) == "0o755"


def test_02_where_out_cannot_be_swapped_pages_are_renamed_in_place(data_dir, tmp_path, monkeypatch):
    import harness.report.render as render

    store, site = tmp_path / "s.sqlite", tmp_path / "site"
    assert vader_run(data_dir, store, "--limit", "2").exit_code == 0
    assert invoke("report", "--store", store, "--out", site).exit_code == 0
    (site / "task-gone-test.html").write_text("<p>a page of a task no longer in the store</p>")
    marker = json.loads((site / ".harness-site.json").read_text())
    (site / ".harness-site.json").write_text(json.dumps({**marker, "pages": [*marker["pages"], "task-gone-test.html"]}))
    monkeypatch.setattr(render, "_exchange", lambda a, b: False)  # --out a mount point: neither rename works
    monkeypatch.setattr(render, "_rename_twice", lambda new, out, parent: False)
    assert invoke("report", "--store", store, "--out", site, "--publish").exit_code == 0
    assert not (site / "task-gone-test.html").exists() and SECRET_WORD not in site_text(site)
    assert not [p for p in [*tmp_path.iterdir(), *site.iterdir()] if ".harness-" in p.name and p.is_dir()]


# -- 3. a read-only store whose -wal holds committed changes is read whole ---------------------------

def test_03_a_read_only_store_with_a_wal_is_read_with_what_the_wal_holds(data_dir, tmp_path):
    from .test_store_safety import _without_root_powers

    store = tmp_path / "s.sqlite"
    assert vader_run(data_dir, store, "--limit", "2").exit_code == 0
    writer = sqlite3.connect(store)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE metrics SET value = 0.123456 WHERE name = 'accuracy'")
    writer.commit()  # committed, still in the -wal file
    media = tmp_path / "media"
    media.mkdir()
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{store}{suffix}", f"{media / 's.sqlite'}{suffix}")
    writer.close()
    assert (media / "s.sqlite-wal").stat().st_size > 0
    for path in media.iterdir():
        path.chmod(0o444)
    media.chmod(0o555)
    try:
        exe = shutil.which("harness", path=str(Path(sys.executable).parent))
        export = subprocess.run([*_without_root_powers(), exe, "export", "--store", str(media / "s.sqlite")],
                                capture_output=True, text=True, timeout=120)
    finally:
        media.chmod(0o755)
    assert export.returncode == 0, export.stderr
    accuracy = [json.loads(line) for line in export.stdout.splitlines() if '"accuracy"' in line]
    assert accuracy and {row["value"] for row in accuracy if row["breakdown"] in (None, "")} == {0.123456}
    assert sorted(p.name for p in media.iterdir()) == ["s.sqlite", "s.sqlite-wal"]  # nothing written there


# -- 4 and 8. no secret in the store, the report or an error ----------------------------------------

def test_04_credentials_in_base_url_are_never_recorded_shown_or_printed(fake_server, data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = fake_server(lambda body: completion(" positive"))
    url = f"http://alice:pw-Secret-42@127.0.0.1:{server.port}/v1"
    store = tmp_path / "s.sqlite"
    result = openai_run(url, data_dir, store, "-o", "scoring=off", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert "pw-Secret-42" not in result.output
    assert b"pw-Secret-42" not in store.read_bytes() and b"alice" not in store.read_bytes()
    engine = Store(store, readonly=True).runs().iloc[0]["provenance"]["model"]["engine"]
    assert engine["base_url"] == f"http://***@127.0.0.1:{server.port}/v1"
    for flags in ([], ["--publish"]):
        site = tmp_path / f"site{len(flags)}"
        assert invoke("report", "--store", store, "--out", site, *flags).exit_code == 0
        assert "pw-Secret-42" not in site_text(site) and "alice" not in site_text(site)
    server.close()
    gone = openai_run(url, data_dir, tmp_path / "t.sqlite", "-o", "scoring=off", "--limit", "1", "-o", "max_retries=0")
    assert gone.exit_code == 1 and "cannot be reached" in gone.output
    assert "pw-Secret-42" not in gone.output and "http://***@127.0.0.1" in gone.output


def test_08_a_key_the_server_echoes_is_stored_and_shown_nowhere(fake_server, data_dir, tmp_path, monkeypatch):
    key = "sk-live-" + "7f3a9c" * 4
    monkeypatch.setenv("OPENAI_API_KEY", key)
    server = fake_server(lambda body: completion(f"Bearer {key}"))
    store = tmp_path / "s.sqlite"
    result = openai_run(server.base_url, data_dir, store, "-o", "scoring=off", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert key.encode() not in store.read_bytes()
    db = sqlite3.connect(store)
    assert any("Bearer ***" in row[0] for row in db.execute("SELECT output FROM requests"))
    assert invoke("report", "--store", store, "--out", tmp_path / "site").exit_code == 0
    assert key not in site_text(tmp_path / "site")
    exported = invoke("export", "--store", store, "--what", "predictions")
    assert exported.exit_code == 0 and key not in exported.output


# -- 5. the timeout is a deadline ----------------------------------------------------------------

def test_05_a_trickling_server_is_cut_off_at_the_timeout(fake_server, data_dir, tmp_path):
    payload = json.dumps(completion(" positive")).encode()
    server = fake_server(lambda body: ("trickle", payload))
    started = time.monotonic()
    result = openai_run(server.base_url, data_dir, tmp_path / "s.sqlite", "-o", "scoring=off", "--limit", "1",
                        "-o", "timeout=2", "-o", "max_retries=0")
    took = time.monotonic() - started
    assert result.exit_code == 1
    assert f"openai:fake: the server at {server.base_url} did not answer within 2.0 s (-o timeout=SECONDS)" in result.output
    assert took < 10, took  # 2 s, not the 0.2 s x len(payload) the server would take


# -- 6. every plugin call is contained the way predict is --------------------------------------------

class _Tagger(Model):
    kinds = frozenset({"classification"})

    def predict(self, task, examples, *, batch_size=32):
        return [Prediction("positive") for _ in examples]


class BadIdentity(_Tagger):
    name = "bad-identity"

    def identity(self):
        raise ValueError("no identity today")


class BadPrepare(_Tagger):
    name = "bad-prepare"

    def prepare(self):
        raise KeyError("weights")


class Exits(_Tagger):
    name = "exits"

    def predict(self, task, examples, *, batch_size=32):
        raise SystemExit(3)


class BadReader(Task):
    name = "bad-reader"
    kind = "classification"
    dataset = "bad reader"
    labels = ("negative", "positive")
    prompt_template = "{{ input }}"
    local_files = {"test": "sentiment/sst2/validation.tsv"}

    def read_file(self, path, split):
        yield Example("x-0", "fine", "positive")
        raise ValueError("row 2 is odd")

    def from_hub(self, split):
        raise LookupError("no Hub copy")


class BadPlugins:
    @hookimpl
    def harness_register_models(self, register):
        for model in (BadIdentity(), BadPrepare(), Exits()):
            register(model)

    @hookimpl
    def harness_register_tasks(self, register):
        register(BadReader())


def test_06_a_plugin_failing_outside_predict_fails_its_pairs_only(register_plugin, data_dir, tmp_path):
    register_plugin(BadPlugins(), "bad-day-plugins")
    store = tmp_path / "s.sqlite"
    result = invoke("run", "--tasks", "sentiment,bad-reader", "--models", "bad-identity,bad-prepare,exits,vader",
                    "--data-dir", data_dir, "--store", store, "--no-progress")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "Error: bad-identity failed on sentiment before predicting: ValueError: no identity today" in lines
    assert "Error: bad-prepare failed preparing for sentiment (prepare()): KeyError: 'weights'" in lines
    assert "Error: exits failed on sentiment, example validation-0: SystemExit: 3" in lines
    assert "Error: Task 'bad-reader' failed loading its data: ValueError: row 2 is odd" in lines
    assert lines[-1].startswith("Error: 7 of 8 task x model pairs failed; the others are stored in")
    assert list(Store(store, readonly=True).runs()["model"]) == ["vader"]


# -- 7. answers are bounded ------------------------------------------------------------------------

def test_07_a_huge_answer_is_cut_to_its_budget_and_pages_stay_small(fake_server, data_dir, tmp_path):
    from plugins.openai_endpoint import MAX_CHARS_PER_TOKEN

    server = fake_server(lambda body: completion("positive " + "x" * 3_000_000))
    store = tmp_path / "s.sqlite"
    result = openai_run(server.base_url, data_dir, store, "-o", "scoring=off", "--limit", "3")
    assert result.exit_code == 0, result.output
    budgets = [body["max_tokens"] for body in server.requests]
    raw = [len(json.loads(row[0])) for row in sqlite3.connect(store).execute("SELECT output FROM requests")]
    assert raw and max(raw) <= max(budgets) * MAX_CHARS_PER_TOKEN + 2
    assert store.stat().st_size < 2_000_000
    site = tmp_path / "site"
    assert invoke("report", "--store", store, "--out", site).exit_code == 0
    assert max(p.stat().st_size for p in site.iterdir()) < 1_500_000


def test_07_an_answer_larger_than_the_cap_is_refused(fake_server, data_dir, tmp_path):
    big = b'{"choices": [{"text": "' + b"x" * (17 * 2**20) + b'"}]}'
    server = fake_server(lambda body: big)
    result = openai_run(server.base_url, data_dir, tmp_path / "s.sqlite", "-o", "scoring=off", "--limit", "1",
                        "-o", "max_retries=0")
    assert result.exit_code == 1
    assert "sent a malformed answer: its answer was larger than 16 MiB" in result.output


def test_07_the_report_clips_what_it_shows_of_a_long_answer():
    from harness.report.explorer import MAX_SHOWN_CHARS, clipped

    shown = clipped({"answer": "y" * 10_000, "spans": [["z" * 5000, 1]]})
    assert shown["answer"] == "y" * MAX_SHOWN_CHARS + f"… ({10_000 - MAX_SHOWN_CHARS:,} more characters)"
    assert shown["spans"][0][0].startswith("z" * MAX_SHOWN_CHARS + "…") and shown["spans"][0][1] == 1


# -- 9. deeply nested TOML -------------------------------------------------------------------------

def test_09_deeply_nested_toml_is_one_line(tmp_path):
    suite = tmp_path / "deep.toml"
    suite.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = invoke("run", "--suite", suite, "--store", tmp_path / "s.sqlite")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {suite}: not valid TOML: its tables or lists are nested too deeply to read"


# -- 10. huge integers -----------------------------------------------------------------------------

@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--seed", "9223372036854775808", "Invalid value for '--seed': 9223372036854775808 is not in the range 0<=x<=4294967295"),
    ("--batch-size", "100000000000000000000000", "Invalid value for '--batch-size': 100000000000000000000000 is not in the range 1<=x<=65536"),
    ("--limit", "1" + "0" * 30, "is not in the range 1<=x<=1000000000"),
])
def test_10_huge_integers_are_refused_before_anything_runs(data_dir, tmp_path, flag, value, message):
    store = tmp_path / "s.sqlite"
    result = invoke("run", "--tasks", "sentiment", "--models", "vader", "--data-dir", data_dir, "--store", store, flag, value)
    assert result.exit_code == 2 and message in result.output
    assert not store.exists()


def test_10_a_huge_seed_in_a_suite_is_one_line(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[suite]\nname = "x"\nseed = 9223372036854775807\n[[run]]\ntasks = ["sentiment"]\nmodels = ["vader"]\n')
    result = invoke("run", "--suite", suite, "--store", tmp_path / "s.sqlite")
    assert result.exit_code == 1 and result.output.strip() == (
        f"Error: {suite}: [suite] key 'seed': expected an integer from 0 to 4294967295, got 9223372036854775807")


# -- 11. export on a full disk ---------------------------------------------------------------------

def test_11_export_to_a_full_disk_is_one_line_and_leaves_no_partial_file(data_dir, tmp_path, monkeypatch):
    store = tmp_path / "s.sqlite"
    assert vader_run(data_dir, store, "--limit", "2").exit_code == 0
    full = invoke("export", "--store", store, "-o", "/dev/full")
    assert full.exit_code == 1 and full.output.strip() == "Error: /dev/full: could not write the export (No space left on device)"
    target = tmp_path / "out.jsonl"
    target.write_text("an earlier export\n")
    import harness.store.export as export

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.os, "fsync", no_space)
    result = invoke("export", "--store", store, "-o", target)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {target}: could not write the export (No space left on device); nothing was written there"
    assert target.read_text() == "an earlier export\n" and sorted(p.name for p in tmp_path.glob("*out.jsonl*")) == ["out.jsonl"]
    monkeypatch.undo()
    assert invoke("export", "--store", store, "-o", target).exit_code == 0
    assert '"name": "accuracy"' in target.read_text()


# -- 12. malformed answers name the server and what was wrong ----------------------------------------

@pytest.mark.parametrize(("answer", "message"), [
    (lambda body: _echo(body["prompt"], fill=float("nan")), "log-probability nan for the token at offset"),
    (lambda body: _echo(body["prompt"], fill=1e308), "log-probability 1e+308 for the token at offset"),
    (lambda body: _echo(body["prompt"], offsets=[0] * len(re.findall(r"\s*\S", body["prompt"]))),
     "does not advance through the prompt"),
    (lambda body: {**_echo(body["prompt"]), "choices": []}, "no choices in"),
    (lambda body: b"{not json", "not JSON"),
    (lambda body: _echo(body["prompt"], values=[None, -0.5]), "are not two lists of the same length"),
])
def test_12_a_malformed_answer_names_the_server_and_what_was_wrong(fake_server, data_dir, tmp_path, answer, message):
    server = fake_server(answer)
    store = tmp_path / "s.sqlite"
    result = openai_run(server.base_url, data_dir, store, "--limit", "2", "-o", "max_retries=0")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    [line] = lines
    assert line.startswith(f"Error: openai:fake: the server at {server.base_url} sent a malformed answer: ") and message in line, line
    assert "IndexError" not in line and "example" not in line
    assert not sqlite3.connect(store).execute("SELECT COUNT(*) FROM requests").fetchone()[0]  # no bad score is stored


# -- 13. a bad explorer link ------------------------------------------------------------------------

def test_13_the_explorer_renders_on_a_malformed_link(data_dir, tmp_path, tiny_sentiment_encoder):
    from .conftest import chromium_dom

    store, site = tmp_path / "s.sqlite", tmp_path / "site"
    assert vader_run(data_dir, store, "--limit", "3").exit_code == 0
    assert invoke("run", "--tasks", "sentiment", "--models", f"hf:{tiny_sentiment_encoder}", "--data-dir", data_dir,
                  "--store", store, "--no-progress", "--limit", "3").exit_code == 0  # a second family of models
    assert invoke("report", "--store", store, "--out", site).exit_code == 0
    [page] = [p for p in site.glob("explore-sentiment*.html")]
    for fragment in ("#junk=%E0", "#q=%E0%A4&junk=%"):  # cut or hand-edited links: the page still renders its rows
        dom = chromium_dom(page, tmp_path / "profile", fragment)
        matched = re.search(r'id="count"[^>]*data-matched="(\d+)"', dom)
        rows = re.findall(r'<tr class="explorer-row" data-id="[^"]*">', dom)
        expected = 0 if "q=" in fragment else 3  # the broken query is searched for as typed
        assert matched and int(matched.group(1)) == expected and len(rows) == expected, (fragment, dom[-2000:])
    families = re.findall(r'class="family-toggle"[^>]*value="([^"]+)"', (site / "index.html").read_text())
    assert len(families) >= 2, families
    index = chromium_dom(site / "index.html", tmp_path / "profile2", f"#families={families[0]},%E0")
    rows = re.findall(r'<tr class="model-row"[^>]*data-family="([^"]+)"[^>]*?( hidden="")?>', index)
    assert rows and all(bool(hidden) == (family != families[0]) for family, hidden in rows), rows


# -- 14. suites are checked whole before anything runs ---------------------------------------------

@pytest.mark.parametrize(("second", "message"), [
    ('[[run]]\ntasks = ["sentiment"]\nmodels = ["vader"]\nsplit = "nosuch"\n',
     "[[run]] #2 key 'split': task 'sentiment' has no split 'nosuch' (its splits: "),
    ('[[run]]\ntasks = ["sentiment"]\nmodels = ["vader"]\noptions = {nosuch = 1}\n',
     "[[run]] #2 key 'options': no model of this block takes option 'nosuch'"),
    ('[[run]]\ntasks = ["sentiment"]\nmodels = ["openai:fake"]\noptions = {max_concurrency = "many"}\n',
     "[[run]] #2 key 'options': "),
])
def test_14_a_suite_error_in_a_later_block_stops_it_before_the_first_runs(data_dir, tmp_path, second, message):
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nname = "x"\n[[run]]\ntasks = ["sentiment"]\nmodels = ["vader"]\n' + second)
    store = tmp_path / "s.sqlite"
    result = invoke("run", "--suite", suite, "--store", store, "--data-dir", data_dir, "--no-progress")
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(f"Error: {suite}: {message}"), result.output
    assert not store.exists()  # the first block did not run


def test_14_aliases_run_once_and_a_large_suite_is_refused(data_dir, tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text('[suite]\nname = "x"\n[[run]]\ntasks = ["sentiment", "sst2"]\nmodels = ["spacy", "vader", "vader"]\n')
    store = tmp_path / "s.sqlite"
    result = invoke("run", "--suite", suite, "--store", store, "--data-dir", data_dir, "--no-progress")
    assert result.exit_code == 0, result.output
    assert sum(line.startswith("sentiment ") for line in result.output.splitlines()) == 1  # vader once; spaCy tags only
    assert len(Store(store, readonly=True).runs()) == 1
    suite.write_text('[suite]\nname = "x"\ndescription = "' + "d" * 300_000 + '"\n[[run]]\ntasks = ["sentiment"]\nmodels = ["vader"]\n')
    refused = invoke("run", "--suite", suite, "--store", store)
    assert refused.exit_code == 1 and refused.output.strip() == f"Error: {suite}: a suite file is at most 256 KiB (this one is 0.3 MiB)"


# -- 15. the smaller ones --------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["meta", "requests"])
def test_15_a_store_missing_a_later_table_is_damaged(data_dir, tmp_path, table):
    store = tmp_path / "s.sqlite"
    assert vader_run(data_dir, store, "--limit", "2").exit_code == 0
    with sqlite3.connect(store) as db:
        db.execute(f"DROP TABLE {table}")
    result = invoke("report", "--store", store, "--out", tmp_path / "site")
    assert result.exit_code == 1 and f"damaged results store: table {table} is missing" in result.output


def test_15_readme_states_the_schema_version():
    from harness.store.migrations import SCHEMA_VERSION

    root = Path(__file__).parent.parent
    text = "\n".join(p.read_text() for p in [root / "README.md", *(root / "docs").glob("*.md")])
    stated = re.findall(r"user_version[^.\n]*?now (\d+)", text)
    assert stated and set(stated) == {str(SCHEMA_VERSION)}


def test_15_report_and_export_leave_no_wal_files(data_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    assert vader_run(data_dir, store, "--limit", "2").exit_code == 0
    assert invoke("report", "--store", store, "--out", tmp_path / "site").exit_code == 0
    assert invoke("export", "--store", store).exit_code == 0
    assert sorted(p.name for p in tmp_path.glob("s.sqlite*")) == ["s.sqlite"]


def test_15_empty_models_unknown_export_task_and_oversized_sample(data_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    empty = invoke("run", "--tasks", "sentiment", "--models", "", "--store", store)
    assert empty.exit_code == 1 and empty.output.strip() == "Error: --models names no model; e.g. --models vader (see `harness models`)"
    run = invoke("run", "--tasks", "sentiment", "--models", "vader", "--data-dir", data_dir, "--store", store,
                 "--no-progress", "--sample", "5000")
    assert run.exit_code == 0
    assert "sentiment: --sample 5000 is more than the 8 examples of its validation split: evaluating all of them" in run.output
    upper = invoke("export", "--store", store, "--task", "SENTIMENT")
    assert upper.exit_code == 0 and '"task": "sentiment"' in upper.output
    alias = invoke("export", "--store", store, "--task", "sst2")
    assert alias.exit_code == 0 and '"task": "sentiment"' in alias.output
    unknown = invoke("export", "--store", store, "--task", "nre")
    assert unknown.exit_code == 1 and unknown.output.strip() == f"Error: No run of task 'nre' in {store} (its tasks: sentiment)"
    model = invoke("export", "--store", store, "--model", "vadr")
    assert model.exit_code == 1 and model.output.strip() == f"Error: No run of model 'vadr' in {store} (its models: vader)"


def test_15_export_publish_applies_the_sites_licence_rule(data_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    assert vader_run(data_dir, store, "--limit", "3").exit_code == 0
    private = invoke("export", "--store", store, "--what", "predictions")
    assert SECRET_WORD in private.output
    shared = invoke("export", "--store", store, "--what", "predictions", "--publish")
    assert shared.exit_code == 0 and SECRET_WORD not in shared.output and str(tmp_path) not in shared.output
    rows = [json.loads(line) for line in shared.output.splitlines() if line.startswith("{")]
    ner = [r for r in rows if r["task"] == "ner"]
    sentiment = [r for r in rows if r["task"] == "sentiment"]
    assert ner and all(r["text_withheld"] and r["input"] is None and r["prediction"] is None for r in ner)
    assert sentiment and all(not r["text_withheld"] and r["input"] for r in sentiment)
    assert all(isinstance(r["correct"], bool) for r in rows)  # every number stays


# == the third pass (numbered 16-29 after the points 1-14) ==================================

# -- 16. a password with an unencoded @ is masked whole ----------------------------------------------

def test_16_a_password_holding_an_at_sign_is_masked_whole(fake_server, data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = fake_server(lambda body: completion(" positive"))
    url = f"http://alice:Secr@tPass99@127.0.0.1:{server.port}/v1"
    store = tmp_path / "s.sqlite"
    result = openai_run(url, data_dir, store, "-o", "scoring=off", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert b"tPass99" not in store.read_bytes() and b"Secr@" not in store.read_bytes()
    engine = Store(store, readonly=True).runs().iloc[0]["provenance"]["model"]["engine"]
    assert engine["base_url"] == f"http://***@127.0.0.1:{server.port}/v1"
    assert invoke("report", "--store", store, "--out", tmp_path / "site").exit_code == 0
    assert "tPass99" not in site_text(tmp_path / "site")
    server.close()
    gone = openai_run(url, data_dir, tmp_path / "t.sqlite", "-o", "scoring=off", "--limit", "1", "-o", "max_retries=0")
    assert gone.exit_code == 1 and "cannot be reached" in gone.output
    assert "tPass99" not in gone.output and f"http://***@127.0.0.1:{server.port}" in gone.output


# -- 17. redaction masks values where secrets occur, never names or the data -------------------------

def test_17_a_user_name_or_a_key_that_is_a_word_leaves_names_keys_and_prompts_alone(fake_server, data_dir, tmp_path,
                                                                                      monkeypatch):
    server = fake_server(lambda body: completion(" negative"))
    monkeypatch.setenv("OPENAI_API_KEY", "negative")
    store = tmp_path / "s.sqlite"
    url = f"http://sentiment:hunter2hunter@127.0.0.1:{server.port}/v1"
    assert openai_run(url, data_dir, store, "-o", "scoring=off", "--limit", "3").exit_code == 0
    url = f"http://openai:hunter2hunter@127.0.0.1:{server.port}/v1"
    assert openai_run(url, data_dir, store, "-o", "scoring=off", "--limit", "3", "--seed", "2").exit_code == 0
    runs = Store(store, readonly=True).runs()
    assert set(runs["task"]) == {"sentiment"} and set(runs["model"]) == {"openai:fake (scoring=off)"}
    for provenance in runs["provenance"]:
        assert "***" not in json.dumps(list(_keys(provenance)))  # no key of the provenance is masked
    assert b"hunter2hunter" not in store.read_bytes()
    exported = invoke("export", "--store", store, "--task", "sentiment", "--what", "predictions", "--format", "jsonl")
    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in exported.output.splitlines() if line.startswith("{")]
    assert rows and all(row["prediction"] == "negative" and row["raw"] == " negative" for row in rows)  # unmasked
    prompts = [json.loads(p)["prompt"] for (p,) in sqlite3.connect(store).execute("SELECT prediction FROM predictions")]
    assert prompts and all("negative" in p and "***" not in p for p in prompts)


def _keys(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


# -- 21. a short key is masked as a long one is -------------------------------------------------------

def test_21_a_short_key_the_server_echoes_is_stored_nowhere(fake_server, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "k3y!!")
    server = fake_server(lambda body: completion(" k3y!! positive"))
    store = tmp_path / "s.sqlite"
    result = openai_run(server.base_url, data_dir, store, "-o", "scoring=off", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert b"k3y!!" not in store.read_bytes()
    assert any("*** positive" in row[0] for row in sqlite3.connect(store).execute("SELECT output FROM requests"))


# -- 25. a completion whose text is null is refused, as a numeric one is ------------------------------

@pytest.mark.parametrize(("text", "shown"), [(None, "null"), (7, "7 (int)")])
def test_25_a_completion_without_text_is_refused_and_nothing_is_stored(fake_server, data_dir, tmp_path, text, shown):
    server = fake_server(lambda body: {**completion(""), "choices": [{"index": 0, "text": text, "logprobs": None,
                                                                      "finish_reason": "stop"}]})
    store = tmp_path / "s.sqlite"
    result = openai_run(server.base_url, data_dir, store, "-o", "scoring=off", "--limit", "2", "-o", "max_retries=0")
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line == (f"Error: openai:fake: the server at {server.base_url} sent a malformed answer: "
                    f"the answer's text is {shown}, not a string"), line
    assert not sqlite3.connect(store).execute("SELECT COUNT(*) FROM requests").fetchone()[0]


# -- 18. a Hub id never runs a file of the working directory -----------------------------------------

def test_18_a_hub_metric_id_never_runs_a_file_of_the_working_directory(register_plugin, data_dir, tmp_path,
                                                                        monkeypatch):
    from harness.scoring import evaluate_metrics
    from tasks.sentiment import SST2

    here = tmp_path / "cwd"
    marker = tmp_path / "ran.txt"
    (here / "exact_match").mkdir(parents=True)
    (here / "exact_match" / "exact_match.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    monkeypatch.chdir(here)
    monkeypatch.setattr(evaluate_metrics, "_LOADED", {})

    class WithExactMatch(SST2):
        name = "sentiment-hub-em"
        demo_package = "tasks"
        extra_metrics = ("exact_match",)
        extra_metrics_resamples = 0

    class Plugin:
        @hookimpl
        def harness_register_tasks(self, register):
            register(WithExactMatch())

    register_plugin(Plugin(), "hub-em")
    store = tmp_path / "s.sqlite"
    result = invoke("run", "--tasks", "sentiment-hub-em", "--models", "vader", "--store", store, "--no-progress")
    assert result.exit_code == 0, result.output
    assert not marker.exists()  # the file was never imported
    [warning] = [line for line in result.output.splitlines() if "exact_match" in line]
    assert ("evaluate module 'exact_match' is a Hub id, but evaluate would run "
            f"{here / 'exact_match' / 'exact_match.py'} of the working directory instead") in warning, warning
    names = {name for (name,) in sqlite3.connect(store).execute("SELECT DISTINCT name FROM metrics")}
    assert "accuracy" in names and "exact_match" not in names


# -- 19. a plugin's own demo split is under its task's licence ------------------------------------------

PRIVATE_TASK = '''
from harness import hookimpl
from tasks.sentiment import SST2


class PrivateSentiment(SST2):
    name = "sentiment-private"
    licence = "private (no redistribution)"
    text_redistributable = False
    demo_files = {"validation": "private.tsv", "train": "private.tsv"}


class Plugin:
    @hookimpl
    def harness_register_tasks(self, register):
        register(PrivateSentiment())
'''


def test_19_a_plugins_own_demo_split_is_not_published_against_its_licence(register_plugin, tmp_path, monkeypatch):
    package = tmp_path / "pkgs" / "private_sentiment"
    (package / "demo").mkdir(parents=True)
    (package / "__init__.py").write_text(PRIVATE_TASK)
    private = "an unmistakably private sentence about the film ."
    (package / "demo" / "private.tsv").write_text(f"sentence\tlabel\n{private}\t1\nthe plot is dull .\t0\n")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    import private_sentiment

    register_plugin(private_sentiment.Plugin(), "private-sentiment")
    store = tmp_path / "s.sqlite"
    result = invoke("run", "--tasks", "sentiment-private", "--models", "vader", "--store", store, "--no-progress")
    assert result.exit_code == 0, result.output
    assert invoke("report", "--store", store, "--out", tmp_path / "site", "--publish").exit_code == 0
    published = site_text(tmp_path / "site")
    assert private not in published and "harness demo data" not in published
    assert "private (no redistribution)" in published
    exported = invoke("export", "--store", store, "--what", "predictions", "--publish")
    assert exported.exit_code == 0 and private not in exported.output
    assert invoke("report", "--store", store, "--out", tmp_path / "local").exit_code == 0
    assert private in site_text(tmp_path / "local")  # this machine's own report shows it


# -- 24. only an unreachable Hub falls back to the demo split, and says so -----------------------------

def _hub_task(error):
    from tasks.sentiment import SST2

    class HubTask(SST2):
        name = "sentiment-hub-broken"
        demo_package = "tasks"

        def from_hub(self, split):
            raise error

    class Plugin:
        @hookimpl
        def harness_register_tasks(self, register):
            register(HubTask())

    return Plugin()


def test_24_a_failing_from_hub_is_the_plugins_error_not_demo_data(register_plugin, tmp_path, monkeypatch):
    from harness.core import task as task_module
    from harness.data import hub

    monkeypatch.setattr(task_module, "hub_reachable", lambda: True)  # a user who has the Hub
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    register_plugin(_hub_task(ValueError("unknown config 'sst2-typo'")), "hub-broken")
    result = invoke("run", "--tasks", "sentiment-hub-broken", "--models", "vader", "--store", tmp_path / "s.sqlite",
                    "--no-progress")
    assert result.exit_code == 1
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert line == ("Error: Task 'sentiment-hub-broken': from_hub('validation') failed: ValueError: unknown config "
                    "'sst2-typo'; pass --data-dir DIR with sentiment/sst2/validation.tsv in it"), line


def test_24_an_unreachable_hub_falls_back_to_the_demo_split_and_says_why(register_plugin, tmp_path, monkeypatch):
    from harness.core import task as task_module
    from harness.data import hub

    monkeypatch.setattr(task_module, "hub_reachable", lambda: True)  # the Hub answered the probe, then the load failed
    monkeypatch.setattr(hub, "hub_reachable", lambda: True)
    register_plugin(_hub_task(ConnectionError("Couldn't reach 'glue' on the Hub")), "hub-gone")
    result = invoke("run", "--tasks", "sentiment-hub-broken", "--models", "vader", "--store", tmp_path / "s.sqlite",
                    "--no-progress")
    assert result.exit_code == 0, result.output
    assert ("sentiment-hub-broken: using the built-in demo validation split (16 examples), as the Hugging Face Hub "
            "could not be reached (ConnectionError); pass --data-dir for real data") in result.output, result.output


# -- 20. --out is never the root, the home folder or someone else's folder -------------------------------

def test_20_report_refuses_the_root_the_home_folder_and_a_foreign_folder(data_dir, tmp_path, monkeypatch):
    store = tmp_path / "s.sqlite"
    assert vader_run(data_dir, store, "--limit", "2").exit_code == 0
    before = set(os.listdir("/"))
    root = invoke("report", "--store", store, "--out", "/", "--force")
    assert root.exit_code == 1
    assert root.output.strip() == "Error: /: --out cannot be a filesystem root; choose a folder for the site (e.g. ./site)"
    assert set(os.listdir("/")) == before  # nothing staged there
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    refused = invoke("report", "--store", store, "--out", home, "--force")
    assert refused.exit_code == 1 and refused.output.strip() == (
        f"Error: {home}: --out cannot be your home folder; choose a folder for the site (e.g. ./site)")
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "draft.tex").write_text("my paper")
    foreign = invoke("report", "--store", store, "--out", papers)
    assert foreign.exit_code == 1 and foreign.output.strip() == (
        f"Error: {papers}: is a folder harness report did not write, and holds 1 entry (draft.tex, ...); pass --force "
        "to write the site into it (its files are kept), or choose another --out")
    assert sorted(os.listdir(papers)) == ["draft.tex"]


def test_20_a_forced_report_carries_only_the_files_beside_the_site(data_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    assert vader_run(data_dir, store, "--limit", "2").exit_code == 0
    site = tmp_path / "site"
    (site / "assets").mkdir(parents=True)
    (site / "CNAME").write_text("board.example.org\n")
    os.mkfifo(site / "a-pipe")
    os.mkfifo(site / "assets" / "inner-pipe")
    (site / "assets" / "logo.svg").write_text("<svg/>")
    assert invoke("report", "--store", store, "--out", site, "--force").exit_code == 0
    assert (site / "CNAME").read_text() == "board.example.org\n" and (site / "assets" / "logo.svg").is_file()
    assert not (site / "a-pipe").exists() and not (site / "assets" / "inner-pipe").exists()


# -- 22. standard output on a full disk is one line ----------------------------------------------------

def test_22_standard_output_on_a_full_disk_is_one_line(tmp_path):
    store = tmp_path / "s.sqlite"
    exe = shutil.which("harness", path=str(Path(sys.executable).parent))
    commands = [["run", "--tasks", "sentiment", "--models", "vader", "--limit", "2", "--store", store, "--json",
                 "--no-progress"],
                ["export", "--store", store], ["export", "--store", store, "--what", "predictions", "--format", "csv"],
                ["tasks", "--json"], ["models"], ["plugins"]]
    for args in commands:
        with open("/dev/full", "w") as full:
            done = subprocess.run([exe, *map(str, args)], stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
        assert done.returncode == 1, (args, done.stderr)
        lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("sentiment:")]
        assert lines == ["Error: could not write to standard output (No space left on device); nothing stored was "
                         "lost"], (args, done.stderr)
    assert len(Store(store, readonly=True).runs()) == 1  # the run was stored before its JSON could not be printed


# -- 23. prompt-variant names are checked where they are declared --------------------------------------

@pytest.mark.parametrize(("variant", "message"), [
    ("has space, comma", "prompt variant 'has space, comma' cannot be a prompt's name (expected 1-40 letters, digits, "
                         "'.', '_' or '-', starting with a letter)"),
    ("x" * 3000, "prompt variant '" + "x" * 56 + "... cannot be a prompt's name"),
    ("two\nlines", "prompt variant 'two\\nlines' cannot be a prompt's name"),
    ("fmt1", "prompt variant 'fmt1' takes a name --prompts gives a meaning of its own (default, all, fmtN: the format "
             "variants); rename it"),
])
def test_23_a_prompt_variant_name_that_cannot_be_selected_is_refused(register_plugin, tmp_path, variant, message):
    from harness.core.prompts import PromptVariant
    from tasks.sentiment import SST2

    class Variants(SST2):
        name = "sentiment-variants"
        demo_package = "tasks"
        prompt_variants = {variant: PromptVariant(SST2.prompt_template, "a variant")}

    class Plugin:
        @hookimpl
        def harness_register_tasks(self, register):
            register(Variants())

    register_plugin(Plugin(), "variants")
    result = invoke("run", "--tasks", "sentiment-variants", "--models", "vader", "--store", tmp_path / "s.sqlite",
                    "--no-progress", "--prompts", "all")
    assert result.exit_code == 1, result.output
    assert f"Task 'sentiment-variants': {message}" in result.output, result.output
    assert max(len(line) for line in result.output.splitlines()) < 400  # the result lines stay lines


# -- 26. engine options are finite and bounded ---------------------------------------------------------

@pytest.mark.parametrize(("option", "message"), [
    ("timeout=inf", "option timeout takes a number of seconds > 0 and <= 86400 (default 120.0), got 'inf'"),
    ("timeout=nan", "option timeout takes a number of seconds > 0 and <= 86400 (default 120.0), got 'nan'"),
    ("max_retries=99999999999999999999",
     "option max_retries takes a whole number >= 0 and <= 100 (default 5), got '99999999999999999999'"),
    ("max_concurrency=0", "option max_concurrency takes a whole number >= 1 and <= 1024 (default 8), got '0'"),
])
def test_26_engine_options_are_finite_and_bounded_where_declared(data_dir, tmp_path, option, message):
    result = openai_run("http://127.0.0.1:9/v1", data_dir, tmp_path / "s.sqlite", "-o", option)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: Model 'openai:fake': {message}"


def test_26_the_bounded_parser_refuses_what_python_would_take():
    from harness.core.options import number_in

    fraction = number_in(float, 0, 1, above=True)
    assert fraction("0.9") == 0.9 and fraction("1") == 1.0
    for text in ("0", "1.5", "inf", "-inf", "nan", "1e400"):
        with pytest.raises(ValueError):
            fraction(text)
    assert fraction.__name__ == "number > 0 and <= 1"


# -- 27. a failed or killed fine-tune leaves no checkpoints -----------------------------------------------

def test_27_a_failed_fine_tune_removes_its_checkpoints(tmp_path, base_encoder, data_dir, monkeypatch):
    from transformers import PreTrainedTokenizerBase

    from harness.run.finetune import FinetuneConfig, finetune

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", full_disk)  # after the checkpoints are saved
    out = tmp_path / "model"
    with pytest.raises(OSError, match="No space left"):
        finetune(FinetuneConfig(task="ner", base=str(base_encoder), out=str(out), data_dir=str(data_dir), epochs=1,
                                batch_size=2, train_limit=4), progress=False)
    assert not list(out.glob(".harness-checkpoints-*"))


def test_27_the_next_fine_tune_removes_what_a_killed_one_left(tmp_path, base_encoder, data_dir):
    from harness.run.finetune import FinetuneConfig, finetune

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    out = tmp_path / "model"
    killed = out / f".harness-checkpoints-{gone.pid}-abc123" / "checkpoint-2"
    killed.mkdir(parents=True)
    (killed / "model.safetensors").write_bytes(b"\0" * 4096)
    running = out / f".harness-checkpoints-{os.getpid()}-def456"  # a fine-tune still running here: left alone
    running.mkdir()
    finetune(FinetuneConfig(task="ner", base=str(base_encoder), out=str(out), data_dir=str(data_dir), epochs=1,
                            batch_size=2, train_limit=4), progress=False)
    assert not killed.parent.exists() and running.is_dir()
    assert [p.name for p in out.glob(".harness-checkpoints-*")] == [running.name]


# -- 28. a broken GGUF file is one line naming it ---------------------------------------------------------

def _tiny_gguf(path: Path) -> bytes:
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tensor("weights", np.ones((64, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


@pytest.mark.parametrize(("case", "message"), [
    ("missing", "no GGUF file at {path} (expected a packaged model, see `harness models`, or a .gguf file)"),
    ("folder", "{path} is a folder, not a GGUF file (name the .gguf file in it)"),
    ("empty", "{path} is not a GGUF file (it is empty)"),
    ("random", "{path} is not a GGUF file (it does not start with the bytes GGUF)"),
    ("header", "{path} is not a whole GGUF file (cut short or damaged: "),
    ("tensors", "{path} is not a whole GGUF file (cut short or damaged: "),
])
def test_28_a_broken_gguf_is_one_line_naming_the_file(tmp_path, case, message):
    whole = _tiny_gguf(tmp_path / "whole.gguf")
    path = tmp_path / f"{case}.gguf"
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "random":
        path.write_bytes(os.urandom(5000))
    elif case == "header":
        path.write_bytes(whole[:40])
    elif case == "tensors":
        path.write_bytes(whole[:-5000])
    result = invoke("run", "--tasks", "sentiment", "--models", f"llamacpp:{path}", "--limit", "2", "--store",
                    tmp_path / "s.sqlite", "--no-progress")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: llamacpp:{path}: " + message.format(path=path)), result.output


# -- 29. small ones: a next step, the umask's mode, what goes after the colon --------------------------

def test_29_report_before_any_run_says_what_to_run_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HARNESS_STORE", raising=False)
    result = invoke("report")
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: harness.sqlite: no such results store; `harness run` writes one first (or "
                                     "pass --store FILE, or set $HARNESS_STORE, to read another)")


def test_29_an_export_file_takes_the_mode_the_umask_gives(data_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    assert vader_run(data_dir, store, "--limit", "2").exit_code == 0
    old = os.umask(0o022)
    try:
        target = tmp_path / "metrics.jsonl"
        assert invoke("export", "--store", store, "-o", target).exit_code == 0
        assert oct(target.stat().st_mode & 0o777) == "0o644"
        target.chmod(0o640)  # an export replaced keeps the mode it had
        assert invoke("export", "--store", store, "-o", target).exit_code == 0
        assert oct(target.stat().st_mode & 0o777) == "0o640"
    finally:
        os.umask(old)


@pytest.mark.parametrize(("name", "expected"), [
    ("llamacpp:", "llamacpp:<packaged-model-or-gguf-file>"),
    ("openai:", "openai:<served-model-id>"),
    ("hf: ", "hf:<hub-id-or-path>"),
])
def test_29_a_family_with_nothing_after_the_colon_says_what_goes_there(tmp_path, name, expected):
    result = invoke("run", "--tasks", "sentiment", "--models", name, "--store", tmp_path / "s.sqlite", "--no-progress")
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: Model {name.strip()!r} names no model after the colon: expected {expected} "
                                     "(`harness models` lists what each family takes)")
