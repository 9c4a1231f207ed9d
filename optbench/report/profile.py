"""The performance profile section of index.md, for two or more tuning studies: what the profile is,
each optimizer's share of studies within a factor τ of the best at PROFILE_TAUS, and its figure."""

from __future__ import annotations

import numpy as np

from optbench.report.tables import md_table
from optbench.results import PerformanceProfile

PROFILE_TAUS = (1.0, 1.01, 1.1, 2.0)
"""The factors τ at which index.md's table gives each optimizer's share of tasks (1: best on it)."""


def profile_section(profile: PerformanceProfile, figure: str | None) -> str:
    """index.md's performance profile: what it is, a table of shares at PROFILE_TAUS, the figure."""
    tasks = len(profile.tasks)
    text = (
        "## Performance profile\n\n"
        f"Over the {tasks} tuning studies above ({', '.join(profile.tasks)}): for each optimizer, "
        "the share of studies on which its chosen score is within a factor τ of the best optimizer's "
        "there (AlgoPerf, Dahl et al. 2023). The ratio is best/score for a maximised score (validation "
        "accuracy), score/best for a minimised one (a loss; f − f* for a function with a known minimum); "
        "an optimizer without a score on a study, or not tuned on it, is never within τ.\n\n"
    )
    header = ["optimizer", *(f"τ = {tau:g}" + (" (best)" if tau == 1 else "") for tau in PROFILE_TAUS)]
    shares = np.array([profile.share(tau) for tau in PROFILE_TAUS])
    rows = [
        [o, *(f"{round(shares[k, i] * tasks)} of {tasks}" for k in range(len(PROFILE_TAUS)))]
        for i, o in enumerate(profile.optimizers)
    ]
    text += md_table(header, rows, [False, *([True] * len(PROFILE_TAUS))])
    if figure:
        text += f"\n![performance profile]({figure})\n"
    return text
