"""How often the score tables flag a planted 8-point NPS drop, by answers per touchpoint.

    .venv/bin/python -m bench.insights_power [--draws 300] [--n 400 800 1600]

The scenario of tests/insights/test_scores_simulation.py: ten touchpoints answering a
typical NPS (45% promoters, 15% detractors, NPS +30); at one of them 8% of answers move
from promoter to passive (NPS +22). Two tables per draw:
- `vs rest`: one period, the touchpoint against everyone else (10 tests under BH);
- `vs last week`: two weeks, the drop in the second (change and rest tests, 40 under BH).
Beside each rate, the power a single two-sided z-test at alpha 0.05 would have against
the rest with the variances known (no multiple-comparison correction): the ceiling.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "insights"))

from test_scores_simulation import TYPICAL, eight_points_worse, responses

from insights.scores import score_table


def nps_variance(probs: np.ndarray) -> float:
    promoters, detractors = probs[9:].sum(), probs[:7].sum()
    return float(promoters + detractors - (promoters - detractors) ** 2)


def ceiling(n: int) -> float:
    se = np.sqrt(nps_variance(eight_points_worse(TYPICAL)) / n + nps_variance(TYPICAL) / (9 * n))
    return float(stats.norm.cdf(0.08 / se - stats.norm.ppf(0.975)))


def found(n: int, weeks: int, draws: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(draws):
        table = score_table(responses(rng, n, weeks, True), metric="nps", by=["touchpoint"],
                            period="week" if weeks > 1 else None)  # fmt: skip
        row = table[table["touchpoint"] == "tp0"].iloc[-1]
        hits += bool((row["rest_flag"] and row["value"] < row["rest"])
                     or (row["change_flag"] and row["change"] < 0))  # fmt: skip
    return hits / draws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--n", type=int, nargs="+", default=[400, 800, 1600])
    args = parser.parse_args()
    print(f"{'answers per touchpoint':>24} {'vs rest':>9} {'vs last week':>13} {'ceiling':>8}")
    for n in args.n:
        rest, weekly = found(n, 1, args.draws, 1), found(n, 2, args.draws, 2)
        print(f"{n:>24,} {rest:>9.1%} {weekly:>13.1%} {ceiling(n):>8.1%}", flush=True)


if __name__ == "__main__":
    main()
