"""Reading results back from disk: the one reader that plots and the report share.

Everything comes from the files the runner wrote (YAML with `yaml.safe_load`, JSON, CSV), never from
pickles or from live objects, so `optbench report` can redraw any experiment. CSV columns become
float64 arrays with an empty cell read as NaN.

Runs that differ only in their seeds form one *variant*; figures and tables show variants, with the
mean and standard deviation over their seeds.

Modules: `files` (reading CSV and YAML, dataset facts), `runs` (`RunResult`), `variants` (grouping,
labels, and the whole sections labels and tables show), `experiments` (`ExperimentResult`),
`activations` (an `optbench activations` folder),
`epochs` (curves per epoch and their pairings), `tuning` (a tune folder: trials scored from their
runs, and the performance profile of several), `search` (a search's best trials and good region).

Public face: `read_run`, `RunResult`, `last_finite`, `SEED_KEY`, `SEED_KEYS`, `Variant`,
`group_variants`, `variant_label`, `shown_key`, `VARIANT_IGNORES`, `read_experiment`,
`ExperimentResult`, `read_activations`, `ActivationsResult`, `ActivationCaseResult`,
`is_result_folder`, `is_activations_folder`, `read_csv`, `read_rows`, `read_yaml`, `Columns`,
`classes_of`, `layer_widths`, `read_tune`, `is_tune_folder`, `TuneResult`, `TrialResult`,
`run_score`, `performance_profile`, `PerformanceProfile`, `ProfileTask`, `PROFILE_KINDS`,
`profile_trial`, `task_ratios`, `COLUMNS` and `SCORE_NAMES` (a tune's metrics), `PLUGINS_KEY` (the
section of a run's config.yaml that records its plugin code); from `epochs`
(curves per epoch, runs paired with and without batch normalisation): `epoch_curve`, `seed_means`,
`mean_over_epochs`, `last_value`, `all_diverged`, `records_train_acc`, `counts_epochs`,
`measured_per_epoch`, `held_out_column`, `batch_norm_on`,
`init_std`, `batch_norm_pairs`, `BatchNormPair`, `TRAIN_ACC`, `HELD_OUT_ACC`; from `search` (where
a search's good settings lie): `best_trials`, `region_keys`, `search_region`, `SearchRegion`,
`REGION_TRIALS`.
"""

from optbench.results.activations import (
    ActivationCaseResult,
    ActivationsResult,
    is_activations_folder,
    is_result_folder,
    read_activations,
)
from optbench.results.epochs import (
    HELD_OUT_ACC,
    TRAIN_ACC,
    BatchNormPair,
    all_diverged,
    batch_norm_on,
    batch_norm_pairs,
    counts_epochs,
    epoch_curve,
    held_out_column,
    init_std,
    last_value,
    mean_over_epochs,
    measured_per_epoch,
    records_train_acc,
    seed_means,
)
from optbench.results.experiments import ExperimentResult, read_experiment
from optbench.results.files import Columns, classes_of, layer_widths, read_csv, read_rows, read_yaml
from optbench.results.runs import PLUGINS_KEY, SEED_KEY, SEED_KEYS, RunResult, last_finite, read_run
from optbench.results.search import REGION_TRIALS, SearchRegion, best_trials, region_keys, search_region
from optbench.results.tuning import (
    COLUMNS,
    PROFILE_KINDS,
    SCORE_NAMES,
    PerformanceProfile,
    ProfileTask,
    TrialResult,
    TuneResult,
    is_tune_folder,
    performance_profile,
    profile_trial,
    read_tune,
    run_score,
    task_ratios,
)
from optbench.results.variants import VARIANT_IGNORES, Variant, group_variants, shown_key, variant_label

__all__ = [
    "COLUMNS",
    "HELD_OUT_ACC",
    "PLUGINS_KEY",
    "PROFILE_KINDS",
    "REGION_TRIALS",
    "SCORE_NAMES",
    "SEED_KEY",
    "SEED_KEYS",
    "TRAIN_ACC",
    "VARIANT_IGNORES",
    "ActivationCaseResult",
    "ActivationsResult",
    "BatchNormPair",
    "Columns",
    "ExperimentResult",
    "PerformanceProfile",
    "ProfileTask",
    "RunResult",
    "SearchRegion",
    "TrialResult",
    "TuneResult",
    "Variant",
    "all_diverged",
    "batch_norm_on",
    "batch_norm_pairs",
    "best_trials",
    "classes_of",
    "counts_epochs",
    "epoch_curve",
    "group_variants",
    "held_out_column",
    "init_std",
    "is_activations_folder",
    "is_result_folder",
    "is_tune_folder",
    "last_finite",
    "last_value",
    "layer_widths",
    "mean_over_epochs",
    "measured_per_epoch",
    "performance_profile",
    "profile_trial",
    "read_activations",
    "read_csv",
    "read_experiment",
    "read_rows",
    "read_run",
    "read_tune",
    "read_yaml",
    "records_train_acc",
    "region_keys",
    "run_score",
    "search_region",
    "seed_means",
    "shown_key",
    "task_ratios",
    "variant_label",
]
