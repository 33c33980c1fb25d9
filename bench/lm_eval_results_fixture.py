"""Write tests/fixtures/lm_eval_results.json: a results file that lm-evaluation-harness itself
writes (its EvaluationTracker), from its stock ``sst2`` and ``wsc273`` tasks on a few examples
of the raw data (as bench/vs_lm_eval.py runs them), so ``harness export --format lm-eval`` can be
checked against lm-eval's real structure without running lm-eval in the tests.

    python bench/lm_eval_results_fixture.py --data-dir ../shared/data
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from vs_lm_eval import write_lm_eval_tasks  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "lm_eval_results.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--limit", type=int, default=4)
    args = parser.parse_args(argv)

    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from harness import get_model

    base = get_model("smollm2-135m")
    base.load()
    lm = HFLM(pretrained=base.source, batch_size=8, device="cpu", dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tasks = write_lm_eval_tasks(tmp, args.data_dir)
        result = simple_evaluate(model=lm, tasks=list(tasks.values()), task_manager=TaskManager(include_path=str(tmp)),
                                 limit=args.limit, bootstrap_iters=100, verbosity="ERROR")
        result.pop("samples", None)
        tracker = EvaluationTracker(output_path=str(tmp / "out"))
        tracker.general_config_tracker.log_experiment_args(model_source="hf", model_args="", system_instruction=None,
                                                           chat_template=None, fewshot_as_multiturn=False)
        tracker.save_results_aggregated(results=result, samples=None)
        written = next((tmp / "out").rglob("results_*.json"))
        data = json.loads(written.read_text())
    for key in ("config", "configs", "pretty_env_info"):  # machine paths and facts (model folder, data files, CPU) are not kept
        data.pop(key, None)
    data = json.loads(json.dumps(data).replace(str(tmp), "TMP").replace(str(base.source), "MODEL"))
    FIXTURE.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"wrote {FIXTURE.relative_to(Path.cwd()) if FIXTURE.is_relative_to(Path.cwd()) else FIXTURE}: keys {sorted(data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
