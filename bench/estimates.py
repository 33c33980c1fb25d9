"""Print the estimator's priors (harness.run.estimate.PRIORS) from a store's runs, and how far
each run's estimate (from the other runs, itself left out) is from its measured time.

    python bench/estimates.py leaderboard.sqlite --data-dir ../shared/data [--before 2026-12-07T11:03]

The priors are what a machine with nothing measured starts from: seconds per token for each
(engine, kind of task), pooled over the runs of this machine, with the mean parameter count of
the models measured (estimates scale by it).
"""
from __future__ import annotations

import argparse
from collections import defaultdict

from harness.run.estimate import Estimator, TokenCounts, measurements
from harness.store.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--source", default="local")
    parser.add_argument("--before", default=None, metavar="TIME",
                        help="also estimate each run created after TIME (ISO, as the store writes it) from the runs "
                             "created before it alone: what `run --plan` said then, against what the run took")
    args = parser.parse_args()
    store = Store(args.store, readonly=True)
    runs = [dict(row) for _, row in store.runs().iterrows()]
    store.close()
    measured = measurements(runs, TokenCounts(args.data_dir, args.source))
    pooled: dict[tuple[str, str], list] = defaultdict(lambda: [0.0, 0.0, []])
    for m in measured:
        entry = pooled[(m.workload.engine, m.workload.kind)]
        entry[0] += m.seconds
        entry[1] += m.workload.tokens
        if m.workload.parameters:
            entry[2].append(m.workload.parameters)
    print("PRIORS = {")
    for key, (seconds, tokens, sizes) in sorted(pooled.items()):
        size = int(sum(sizes) / len(sizes)) if sizes else None
        print(f"    {key!r}: ({seconds / tokens:.3g}, {size}),")
    print("}")
    if args.before:
        created = [str(run["created_at"]) for run in runs]
        earlier = [m for m, when in zip(measured, created) if when < args.before]
        print(f"\nestimated from the {len(earlier)} runs before {args.before}, against what each later run took")
        for m, when in zip(measured, created):
            if when >= args.before:
                estimate = Estimator(earlier).estimate(m.workload)
                ratio = f"x{estimate.seconds / m.seconds:4.2f}" if estimate.seconds else "-"
                print(f"  {m.workload.task:<18} {m.workload.model:<32} {m.workload.shots}-shot  actual {m.seconds / 60:5.1f} min  "
                      f"estimate {(estimate.seconds or 0) / 60:5.1f} min  {ratio}  ({estimate.basis})")
    print("\nleave-one-out: estimate / actual, for runs of 30 s or more")
    for i, m in enumerate(measured):
        if m.seconds < 30:
            continue
        estimate = Estimator(measured[:i] + measured[i + 1:], priors={}).estimate(m.workload)
        if estimate.seconds:
            print(f"  {m.workload.task:<18} {m.workload.model:<40} {m.workload.shots}-shot  actual {m.seconds / 60:5.1f} min  "
                  f"estimate {estimate.seconds / 60:5.1f} min  x{estimate.seconds / m.seconds:4.2f}  ({estimate.basis})")


if __name__ == "__main__":
    main()
