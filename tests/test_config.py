"""Config loading: strict YAML, every problem reported with its key path, overrides, runs x grid."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from optbench.cli import main
from optbench.config import (
    completion_keys,
    edit_distance,
    experiment_keys,
    kind_of,
    load_activations,
    load_experiment,
    load_suite,
    load_tune,
    parse_overrides,
    parse_yaml,
    runs_table,
    templates,
    to_yaml,
    validate_run,
)
from optbench.config.schema import SECTIONS
from optbench.config.tune import TuneSpec
from optbench.errors import ConfigError, UsageError
from optbench.hparams import hyperparameters
from optbench.text import summary_sentence

FUNCTION_BASE = "experiment: t\ntask: {function: book}\noptimizer: {name: sgd, lr: 0.1}\ntrain: {steps: 3}\n"
DATASET_BASE = "experiment: t\ntask: {dataset: mnist}\noptimizer: {name: sgd, lr: 0.1}\n"


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_experiment(path, overrides)
    prefix = f"{path}: "
    return [p.removeprefix(prefix) for p in info.value.problems]


# -- YAML -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-3", 0.001), ("1E5", 100000.0), ("-2.5e+2", -250.0), (".5", 0.5), ("3", 3), ("0.1", 0.1)],
)
def test_yaml_reads_exponent_notation_as_numbers(text: str, value: float) -> None:
    parsed = parse_yaml(f"x: {text}", "s")["x"]
    assert parsed == value and type(parsed) is type(value)


def test_yaml_keeps_non_numbers_as_strings() -> None:
    assert parse_yaml("x: 1e", "s")["x"] == "1e"
    assert parse_yaml("x: e5", "s")["x"] == "e5"


def test_duplicate_key_is_reported_with_path_and_lines(tmp_path: Path) -> None:
    found = problems_of(tmp_path, "task:\n  function: book\n  function: beale\n")
    assert found == ["task.function: duplicate key (lines 2 and 3)"]


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "task: {function: book\ntrain: 3\n")
    assert problem.startswith("line 2, column ")


def test_empty_file_and_non_mapping_are_refused(tmp_path: Path) -> None:
    assert "empty" in problems_of(tmp_path, "")[0]
    assert "mapping" in problems_of(tmp_path, "- a\n- b\n")[0]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_experiment(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("configs/mnist_optimizers.yaml", "optbench init mnist_optimizers configs/mnist_optimizers.yaml"),
        ("mnist_optimizers.yaml", "optbench init mnist_optimizers"),
        ("paths-book.yml", "optbench init paths_book paths-book.yml"),
    ],
)
def test_a_missing_file_named_like_a_shipped_example_says_how_to_write_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)  # outside the repository: no configs/ folder here
    with pytest.raises(ConfigError) as info:
        load_experiment(Path(name))
    assert info.value.problems == [
        f"{name}: no such file; it is an example that ships with optbench: write it with {expected}"
    ]
    # The command it names writes what was asked for.
    assert CliRunner().invoke(main, shlex.split(expected)[1:]).exit_code == 0
    assert load_experiment(Path(name)).runs


def test_a_missing_file_named_like_no_example_is_no_such_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_experiment(tmp_path / "mnist_optimisers.yaml")
    assert info.value.problems == [f"{tmp_path / 'mnist_optimisers.yaml'}: no such file"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "step,loss,acc\n0,2.3,0.1\n" + "".join(f"{i},{2 - i / 100},{i / 100}\n" for i in range(1, 500)),
            "line 1, column 1: not a YAML config: it starts with the text 'step,loss,acc', where a config "
            "is a mapping of sections (task:, optimizer:, train:, ...)",
        ),
        (
            "# results\n\n  " + "a rather long line of plain text, " * 3 + "\nmore\n",
            "line 3, column 3: not a YAML config: it starts with the text 'a rather long line of plain "
            "text, a rat…', where a config is a mapping of sections (task:, optimizer:, train:, ...)",
        ),
        (
            b"\x89PNG\r\n\x1a\n",
            "line 1, column 1: not a YAML config: byte 0x89 is not UTF-8 text (a binary file?)",
        ),
        (
            b"task:\n  x: \xff\n",
            "line 2, column 6: not a YAML config: byte 0xff is not UTF-8 text (a binary file?)",
        ),
    ],
)
def test_a_file_that_is_not_yaml_is_one_short_line_with_where_it_goes_wrong(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    path = tmp_path / "runs.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert info.value.problems == [f"{path}: {expected}"]


# -- Unknown keys and names, with suggestions --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FUNCTION_BASE + "trian: {}\n", "trian: unknown key 'trian'; did you mean 'train'?"),
        (
            DATASET_BASE.replace("{dataset: mnist}", "{dataset: mnist, dat_dir: x}"),
            "task.dat_dir: unknown key 'dat_dir'; did you mean 'data_dir'?",
        ),
        (DATASET_BASE + "model: {hiden: [3]}\n", "model.hiden: unknown key 'hiden'; did you mean 'hidden'?"),
        (
            FUNCTION_BASE.replace("lr: 0.1", "lr: 0.1, momentun: 0.9"),
            "optimizer.momentun: optimizer 'sgd' has no hyperparameter 'momentun'; did you mean 'momentum'?",
        ),
        (
            FUNCTION_BASE.replace("steps: 3", "steps: 3, sead: 1"),
            "train.sead: unknown key 'sead'; did you mean 'seed'?",
        ),
        (
            FUNCTION_BASE.replace("lr: 0.1", "lr: 0.1, schedule: {name: step, gama: 0.5}"),
            "optimizer.schedule.gama: schedule 'step' has no hyperparameter 'gama'; did you mean 'gamma'?",
        ),
        (
            DATASET_BASE + "model: {init: {name: normal, sdt: 1}}\n",
            "model.init.sdt: initialiser 'normal' has no hyperparameter 'sdt'; did you mean 'std'?",
        ),
    ],
)
def test_unknown_keys_at_every_level_get_a_suggestion(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems_of(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            FUNCTION_BASE.replace("name: sgd", "name: adma"),
            "optimizer.name: unknown optimizer 'adma'; did you mean 'adam'?",
        ),
        (
            FUNCTION_BASE.replace("book", "rosenbrok"),
            "task.function: unknown function 'rosenbrok'; did you mean 'rosenbrock'?",
        ),
        (
            DATASET_BASE.replace("mnist", "mnsit"),
            "task.dataset: unknown dataset 'mnsit'; did you mean 'mnist'?",
        ),
        (
            DATASET_BASE + "model: {activation: relu6}\n",
            "model.activation: unknown activation 'relu6'; did you mean 'relu'?",
        ),
        (
            DATASET_BASE + "model: {init: xaiver}\n",
            "model.init.name: unknown initialiser 'xaiver'; did you mean 'xavier'?",
        ),
        (
            FUNCTION_BASE.replace("lr: 0.1", "lr: 0.1, schedule: cosin"),
            "optimizer.schedule.name: unknown schedule 'cosin'; did you mean 'cosine'?",
        ),
    ],
)
def test_unknown_names_get_a_suggestion(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems_of(tmp_path, text)


def test_a_name_far_from_every_choice_lists_the_choices(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, FUNCTION_BASE.replace("book", "zzzzzzzz"))
    assert "choose from" in problem and "rosenbrock" in problem


def test_edit_distance_counts_a_swap_as_one() -> None:
    assert edit_distance("adma", "adam") == 1
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3


# -- Types and ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        (("lr: 0.1", "lr: true"), "optimizer.lr: must be a number, got true"),
        (("lr: 0.1", "lr: fast"), "optimizer.lr: must be a number, got 'fast'"),
        (("lr: 0.1", "lr: [0.1]"), "optimizer.lr: must be a number, got a list"),
        (("lr: 0.1", "lr: 0"), "optimizer.lr: must be > 0, got 0.0"),
        (("lr: 0.1", "lr: -0.1"), "optimizer.lr: must be > 0, got -0.1"),
        (("lr: 0.1", "lr: .nan"), "optimizer.lr: must be a finite number, got nan"),
        (("lr: 0.1", "lr: .inf"), "optimizer.lr: must be a finite number, got inf"),
        (("lr: 0.1", "lr: 0.1, momentum: 1.5"), "optimizer.momentum: must be >= 0 and <= 1, got 1.5"),
        (("lr: 0.1", "lr: 0.1, nesterov: 1"), "optimizer.nesterov: must be true or false, got 1"),
        (("steps: 3", "steps: 0"), "train.steps: must be >= 1, got 0"),
        (("steps: 3", "steps: 2.5"), "train.steps: must be a whole number, got 2.5"),
        (("steps: 3", "steps: 3, seed: -1"), "train.seed: must be >= 0, got -1"),
        (
            ("{function: book}", "{function: book, start: [1]}"),
            "task.start: must be a list of 2 numbers, got 1 values",
        ),
        (("{function: book}", "{function: book, start: [1, x]}"), "task.start[1]: must be a number, got 'x'"),
        (("{function: book}", "{function: book, start: 3}"), "task.start: must be a list, got 3"),
    ],
)
def test_wrong_types_and_ranges_are_reported(tmp_path: Path, replace: tuple[str, str], expected: str) -> None:
    assert expected in problems_of(tmp_path, FUNCTION_BASE.replace(*replace))


def test_betas_are_checked_elementwise(tmp_path: Path) -> None:
    text = FUNCTION_BASE.replace("name: sgd, lr: 0.1", "name: adam, betas: [0.9, 1.0]")
    assert problems_of(tmp_path, text) == ["optimizer.betas[1]: must be >= 0 and < 1, got 1.0"]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("{hidden: []}", "model.hidden: must not be empty"),
        ("{hidden: [100, 0]}", "model.hidden[1]: must be >= 1, got 0"),
        ("{dtype: float16}", "model.dtype: unknown dtype 'float16'"),
    ],
)
def test_model_problems(tmp_path: Path, model: str, expected: str) -> None:
    found = problems_of(tmp_path, DATASET_BASE + f"model: {model}\n")
    assert any(p.startswith(expected) for p in found), found


def test_batch_larger_than_the_training_set_is_refused(tmp_path: Path, mnist: object) -> None:
    base = DATASET_BASE.replace("mnist}", "mnist, validation: 0}")
    found = problems_of(tmp_path, base + "train: {batch_size: 60001}\n")
    assert found == ["train.batch_size: must be at most the training-set size 60000, got 60001"]


def test_batch_larger_than_what_the_validation_split_leaves_is_refused(tmp_path: Path, mnist: object) -> None:
    found = problems_of(tmp_path, DATASET_BASE + "train: {batch_size: 50001}\n")
    assert found == [
        "train.batch_size: must be at most the training-set size 50000 (60000 minus 10000 held out "
        "for validation), got 50001"
    ]
    assert load_experiment(write(tmp_path, DATASET_BASE + "train: {batch_size: 50000}\n")).runs


def test_a_validation_split_must_leave_training_images(tmp_path: Path, mnist: object) -> None:
    found = problems_of(tmp_path, DATASET_BASE.replace("mnist}", "mnist, validation: 60000}"))
    assert found == ["task.validation: must leave training images: the training set has 60000, got 60000"]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("task: {function: book, validation: 100}", "task.validation: only dataset tasks hold out"),
        ("task: {function: book, split_seed: 1}", "task.split_seed: only dataset tasks hold out"),
        ("train: {batch_size: 64}", "train.batch_size: only dataset tasks draw minibatches"),
        ("train: {sampling: replacement}", "train.sampling: only dataset tasks draw minibatches"),
        ("train: {eval_every: 10}", "train.eval_every: only dataset tasks are evaluated"),
        ("train: {init_seed: 3}", "train.init_seed: a function task has no random weights"),
        ("train: {data_seed: 3}", "train.data_seed: a function task has no minibatches"),
    ],
)
def test_settings_that_only_a_dataset_task_has_are_refused_on_a_function_task(
    tmp_path: Path, setting: str, expected: str
) -> None:
    task = "task: {function: book}\n" if not setting.startswith("task:") else ""
    text = "experiment: t\n" + task + "optimizer: {name: sgd, lr: 0.1}\n" + setting + "\n"
    found = problems_of(tmp_path, text)
    assert len(found) == 1 and found[0].startswith(expected) and found[0].endswith("remove this setting")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        "experiment: t\ntask: {function: book}\noptimizer: {name: sgd, lr: -1}\n"
        "train: {steps: 0, seed: x}\nfoo: 1\n"
    )
    assert len(problems_of(tmp_path, text)) == 4


def test_cross_field_constraint_of_an_optimizer_is_a_config_error(tmp_path: Path) -> None:
    text = FUNCTION_BASE.replace("lr: 0.1", "lr: 0.1, nesterov: true")
    (problem,) = problems_of(tmp_path, text)
    assert problem.startswith("optimizer: ") and "nesterov" in problem


def test_a_function_task_has_no_model_and_a_dataset_task_no_start(tmp_path: Path) -> None:
    assert any(
        p.startswith("model: ") for p in problems_of(tmp_path, FUNCTION_BASE + "model: {hidden: [3]}\n")
    )
    text = DATASET_BASE.replace("{dataset: mnist}", "{dataset: mnist, start: [1, 2]}")
    assert any(p.startswith("task.start: ") for p in problems_of(tmp_path, text))


def test_task_needs_exactly_one_of_dataset_and_function(tmp_path: Path) -> None:
    assert any("task" in p for p in problems_of(tmp_path, "optimizer: {lr: 0.1}\n"))
    assert any("not both" in p for p in problems_of(tmp_path, "task: {dataset: mnist, function: book}\n"))


def test_missing_data_dir_is_refused(tmp_path: Path) -> None:
    text = DATASET_BASE.replace("{dataset: mnist}", f"{{dataset: mnist, data_dir: {tmp_path / 'none'}}}")
    assert any(p.startswith("task.data_dir: no such folder") for p in problems_of(tmp_path, text))


@pytest.mark.parametrize("name", ["../up", "/abs", "a/b", "..", ".hidden", "nul\x00byte", ""])
def test_experiment_names_that_are_not_simple_folder_names_are_refused(tmp_path: Path, name: str) -> None:
    text = FUNCTION_BASE.replace("experiment: t", f"experiment: {name!r}")
    assert any(p.startswith("experiment: must be a simple folder name") for p in problems_of(tmp_path, text))


def test_experiment_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, FUNCTION_BASE.replace("experiment: t\n", ""), "my paths.yaml")
    assert load_experiment(path).name == "my-paths"


# -- Defaults and the resolved config ------------------------------------------------------------------


def test_defaults_fill_every_field(tmp_path: Path) -> None:
    (run,) = load_experiment(write(tmp_path, "task: {dataset: mnist}\n")).runs
    assert run.model is not None and run.model.hidden == (100, 100, 100, 100)
    assert run.model.init.name == "he" and run.model.activation == "relu" and run.model.dtype == "float32"
    assert run.optimizer.name == "sgd" and run.optimizer.hyper["lr"] == 1e-3
    assert (run.train.steps, run.train.batch_size, run.train.eval_every, run.train.seed) == (
        2000,
        128,
        100,
        0,
    )


def test_function_start_defaults_to_the_functions_own(tmp_path: Path) -> None:
    (run,) = load_experiment(write(tmp_path, "task: {function: book}\n")).runs
    assert run.task.start == (-7.0, 2.0)


def test_cosine_t_max_defaults_to_the_updates_after_warmup(tmp_path: Path) -> None:
    text = FUNCTION_BASE.replace("lr: 0.1", "lr: 0.1, schedule: {name: cosine, warmup_steps: 1}").replace(
        "steps: 3", "steps: 10"
    )
    (run,) = load_experiment(write(tmp_path, text)).runs
    assert run.optimizer.schedule.t_max == 9  # type: ignore[attr-defined]


def test_resolved_yaml_reads_back_to_the_same_run(tmp_path: Path) -> None:
    text = DATASET_BASE + "model: {init: {name: normal, std: 0.01}, output_init: glorot}\n"
    text = text.replace("lr: 0.1", "lr: 0.1, schedule: {name: step, step_size: 5}")
    (run,) = load_experiment(write(tmp_path, text)).runs
    again, problems = validate_run(yaml.safe_load(to_yaml(run)))
    assert problems == [] and again == run


def test_run_id_is_stable_across_spellings_and_changes_with_any_value(tmp_path: Path) -> None:
    a = load_experiment(write(tmp_path, FUNCTION_BASE.replace("lr: 0.1", "lr: 1e-1"), "a.yaml")).runs[0]
    b = load_experiment(
        write(tmp_path, FUNCTION_BASE.replace("lr: 0.1", "lr: 0.1, momentum: 0"), "b.yaml")
    ).runs[0]
    c = load_experiment(
        write(tmp_path, FUNCTION_BASE.replace("lr: 0.1", "lr: 0.1, momentum: 0.1"), "c.yaml")
    ).runs[0]
    assert a.run_id == b.run_id
    assert a.run_id != c.run_id
    assert a.run_id.startswith("sgd-lr0.1-s0-")


def test_run_id_does_not_depend_on_the_experiment_name(tmp_path: Path) -> None:
    a = load_experiment(write(tmp_path, FUNCTION_BASE)).runs[0]
    b = load_experiment(write(tmp_path, FUNCTION_BASE.replace("experiment: t", "experiment: u"))).runs[0]
    assert a.run_id == b.run_id


# -- Overrides ----------------------------------------------------------------------------------------


def test_overrides_are_parsed_as_yaml() -> None:
    pairs, problems = parse_overrides(
        ["optimizer.lr=1e-2", "model.hidden=[10, 10]", "optimizer.nesterov=true"]
    )
    assert problems == []
    assert pairs == [("optimizer.lr", 0.01), ("model.hidden", [10, 10]), ("optimizer.nesterov", True)]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("optimizer.lr", "expected KEY=VALUE"),
        ("=0.1", "missing key before '='"),
        ("optimizer..lr=1", "is not a dotted key"),
        ("optimizer.lr=[1", "command line: optimizer.lr: line 1"),
    ],
)
def test_malformed_overrides_are_reported(item: str, expected: str) -> None:
    _, problems = parse_overrides([item])
    assert len(problems) == 1 and expected in problems[0]


def test_override_values_are_validated_like_the_file(tmp_path: Path) -> None:
    found = problems_of(tmp_path, FUNCTION_BASE, ("optimizer.lr=abc", "train.stepz=3"))
    assert found == [
        "command line: optimizer.lr: must be a number, got 'abc'",
        "command line: train.stepz: unknown key 'stepz'; did you mean 'steps'?",
    ]


def test_override_changes_the_run(tmp_path: Path) -> None:
    (run,) = load_experiment(write(tmp_path, FUNCTION_BASE), ["optimizer.lr=0.5", "train.steps=7"]).runs
    assert run.optimizer.lr == 0.5 and run.train.steps == 7


# -- runs and grid --------------------------------------------------------------------------------------

SWEEP = (
    FUNCTION_BASE
    + """runs:
  - optimizer: {name: sgd, lr: 0.9}
  - optimizer: {name: momentum, lr: 0.1}
  - optimizer: {name: adam, lr: 0.3}
grid:
  train.seed: [0, 1]
"""
)


def test_runs_times_grid_gives_every_combination(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP))
    assert len(exp.runs) == 6
    assert {(r.optimizer.name, r.optimizer.lr, r.train.seed) for r in exp.runs} == {
        (name, lr, seed) for name, lr in (("sgd", 0.9), ("momentum", 0.1), ("adam", 0.3)) for seed in (0, 1)
    }
    assert exp.varied == ("optimizer.name", "optimizer.lr", "train.seed")


def test_grid_alone_multiplies_axes(tmp_path: Path) -> None:
    text = FUNCTION_BASE + "grid:\n  optimizer.lr: [0.1, 0.2, 0.3]\n  train.seed: [0, 1]\n"
    assert len(load_experiment(write(tmp_path, text)).runs) == 6


def test_changing_optimizer_drops_the_previous_ones_hyperparameters(tmp_path: Path) -> None:
    text = FUNCTION_BASE.replace("lr: 0.1", "lr: 0.1, momentum: 0.9") + "runs:\n  - optimizer: {name: adam}\n"
    (run,) = load_experiment(write(tmp_path, text)).runs
    assert run.optimizer.name == "adam" and run.optimizer.lr == 1e-3


def test_grid_over_name_and_lr_keeps_each_lr(tmp_path: Path) -> None:
    text = FUNCTION_BASE + "grid:\n  optimizer.lr: [0.1, 0.5]\n  optimizer.name: [sgd, adam]\n"
    runs = load_experiment(write(tmp_path, text)).runs
    assert sorted((r.optimizer.name, r.optimizer.lr) for r in runs) == [
        ("adam", 0.1),
        ("adam", 0.5),
        ("sgd", 0.1),
        ("sgd", 0.5),
    ]


def test_same_optimizer_in_a_run_merges_with_the_base(tmp_path: Path) -> None:
    text = FUNCTION_BASE.replace("lr: 0.1", "lr: 0.1, momentum: 0.5") + "runs:\n  - optimizer: {lr: 0.2}\n"
    (run,) = load_experiment(write(tmp_path, text)).runs
    assert run.optimizer.hyper["momentum"] == 0.5 and run.optimizer.lr == 0.2


def test_override_of_a_grid_axis_fixes_it(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP), ["train.seed=5"])
    assert len(exp.runs) == 3 and {r.train.seed for r in exp.runs} == {5}


def test_grid_override_replaces_an_axis(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, SWEEP), ["grid.train.seed=[3, 4, 5]"])
    assert len(exp.runs) == 9


def test_identical_resolved_runs_run_once(tmp_path: Path) -> None:
    text = FUNCTION_BASE + "runs:\n  - optimizer: {lr: 0.1}\n  - {}\n"
    assert len(load_experiment(write(tmp_path, text)).runs) == 1


def test_problems_point_at_the_runs_entry_or_grid_axis_that_wrote_them(tmp_path: Path) -> None:
    text = (
        FUNCTION_BASE
        + "runs:\n  - optimizer: {lr: 0.1}\n  - optimizer: {lr: -2}\ngrid:\n  train.steps: [5, 0]\n"
    )
    found = problems_of(tmp_path, text)
    assert "runs[1].optimizer.lr: must be > 0, got -2.0" in found
    assert "grid.train.steps: must be >= 1, got 0" in found
    assert len(found) == 2


@pytest.mark.parametrize(
    ("grid", "expected"),
    [
        ("grid: {train.seed: []}", "grid.train.seed: empty list; give at least one value"),
        ("grid: {train.seed: 3}", "grid.train.seed: must be a list of values, got 3"),
        (
            "grid: {optimizer.lrr: [1]}",
            "grid.optimizer.lrr: optimizer 'sgd' has no hyperparameter 'lrr'; did you mean 'lr'?",
        ),
        ("grid: [1]", "grid: must be a mapping of dotted keys to lists, got a list"),
        ("runs: []", "runs: must be a non-empty list of partial configs, got a list"),
        ("runs: [3]", "runs[0]: must be a mapping, got 3"),
    ],
)
def test_malformed_runs_and_grid_are_reported(tmp_path: Path, grid: str, expected: str) -> None:
    assert expected in problems_of(tmp_path, FUNCTION_BASE + grid + "\n")


def test_a_grid_of_absurd_size_is_refused_before_expanding(tmp_path: Path) -> None:
    axes = "\n".join(
        f"  optimizer.{k}: [{', '.join(str(i / 100) for i in range(1, 30))}]"
        for k in ("lr", "momentum", "dampening")
    )
    (problem,) = problems_of(tmp_path, FUNCTION_BASE + "grid:\n" + axes + "\n")
    assert problem == "grid: 24389 runs; an experiment has at most 10000"


def test_runs_and_grid_can_be_replaced_from_the_command_line(tmp_path: Path) -> None:
    exp = load_experiment(
        write(tmp_path, SWEEP), ["runs=[{optimizer: {name: rmsprop}}]", "grid={optimizer.lr: [0.1, 0.2]}"]
    )
    assert sorted((r.optimizer.name, r.optimizer.lr) for r in exp.runs) == [
        ("rmsprop", 0.1),
        ("rmsprop", 0.2),
    ]


def test_problems_in_command_line_runs_point_at_the_command_line(tmp_path: Path) -> None:
    found = problems_of(tmp_path, FUNCTION_BASE, ("runs=[{optimizer: {lr: -1}}]", "grid=3"))
    assert found == [
        "command line: grid: must be a mapping of dotted keys to lists, got 3",
        "command line: runs[0].optimizer.lr: must be > 0, got -1.0",
    ]


def test_runs_table_lists_every_run_and_only_the_varied_columns(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "task: {function: book}\noptimizer: {name: sgd, lr: 0.1}\ntrain: {steps: 5}\n"
        "grid:\n  optimizer.lr: [0.1, 0.01]\n  train.seed: [0, 1]\n"
    )
    exp = load_experiment(config)
    lines = runs_table(exp).splitlines()
    assert lines[0].split() == ["run_id", "optimizer.lr", "train.seed"]
    assert [line.split()[0] for line in lines[1:-1]] == [run.run_id for run in exp.runs]
    assert [line.split()[1:] for line in lines[1:-1]] == [
        ["0.1", "0"],
        ["0.1", "1"],
        ["0.01", "0"],
        ["0.01", "1"],
    ]
    assert lines[-1] == "4 runs"


# -- kinds, hints, keys, suites, templates ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (FUNCTION_BASE, "experiment"),
        (FUNCTION_BASE + "grid: {train.seed: [0, 1]}\n", "experiment"),
        ("cases: []\n", "activations"),
        (FUNCTION_BASE + "tune: {budget: 2}\n", "tune"),
        ("compare: [a.yaml]\n", "suite"),
        ("suite: demo\n", "suite"),
        ("tune: [t.yaml]\n", "suite"),
    ],
)
def test_the_kind_of_a_config_comes_from_the_keys_only_that_kind_has(text: str, kind: str) -> None:
    assert kind_of(yaml.safe_load(text)) == kind


def test_a_config_of_another_kind_is_refused_in_one_line_by_every_loader(tmp_path: Path) -> None:
    experiment = write(tmp_path, FUNCTION_BASE, "e.yaml")
    for loader in (load_activations, load_tune, load_suite):
        with pytest.raises(ConfigError) as info:
            loader(experiment)
        (line,) = info.value.problems
        assert line.endswith(f"; run it with: optbench train {experiment}")


def test_a_section_key_written_at_the_top_level_suggests_its_dotted_name(tmp_path: Path) -> None:
    assert problems_of(tmp_path, FUNCTION_BASE + "momentum: 0.9\n") == [
        "momentum: unknown key 'momentum'; did you mean 'optimizer.momentum'?"
    ]
    assert problems_of(tmp_path, FUNCTION_BASE + "seed: 1\n") == [
        "seed: unknown key 'seed'; did you mean 'train.seed'?"
    ]


def test_a_top_level_key_a_grid_axis_creates_is_reported_at_the_axis(tmp_path: Path) -> None:
    assert problems_of(tmp_path, FUNCTION_BASE + "grid: {optimzer.lr: [0.1]}\n") == [
        "grid.optimzer.lr: unknown key 'optimzer'; did you mean 'optimizer'?"
    ]


def test_a_top_level_key_the_file_has_stays_the_files_problem(tmp_path: Path) -> None:
    lines = problems_of(tmp_path, FUNCTION_BASE + "optimzer: {lr: 1}\n", ("optimzer.lr=0.1",))
    assert lines == ["optimzer: unknown key 'optimzer'; did you mean 'optimizer'?"]


@pytest.mark.parametrize(
    ("item", "hint"),
    [
        ("optimizer.lr=0.1,0.01", "to sweep, use grid.optimizer.lr=[0.1,0.01]"),
        ("optimizer.name=sgd,adam", "to sweep, use grid.optimizer.name=[sgd,adam]"),
        ("+train.steps=3", "no '+' is needed to add a key: train.steps=3"),
    ],
)
def test_hydra_syntax_in_an_override_gets_the_optbench_spelling(item: str, hint: str) -> None:
    pairs, problems = parse_overrides([item])
    assert pairs == [] and problems == [f"command line: {item!r}: {hint}"]


def test_commas_stay_plain_text_where_a_value_is_free_text() -> None:
    pairs, problems = parse_overrides(["description=a, b", "task.data_dir=/x,y", "train.seed=[0, 1]"])
    assert problems == [] and [k for k, _ in pairs] == ["description", "task.data_dir", "train.seed"]


def test_every_declared_field_is_a_listed_and_completed_key() -> None:
    listed = {k.key for k in experiment_keys()}
    completed = set(completion_keys("experiment"))
    for section, cls in SECTIONS.items():
        for p in hyperparameters(cls):
            assert f"{section}.{p.name}" in listed and f"{section}.{p.name}" in completed
    assert {"optimizer.betas", "optimizer.schedule.warmup_steps", "model.init.std"} <= completed
    assert {f"tune.{p.name}" for p in hyperparameters(TuneSpec)} <= set(completion_keys("tune"))
    assert "samples" in completion_keys("activations") and "samples" in completion_keys("suite")


SUITE = "compare: [c.yaml]\nactivations: [a.yaml]\n"
ACTS = "experiment: a\ncases: [{init: he, activation: relu}]\n"


def test_suite_overrides_are_routed_to_the_kinds_that_have_the_key(tmp_path: Path) -> None:
    write(tmp_path, FUNCTION_BASE)
    write(tmp_path, ACTS, "a.yaml")
    suite = load_suite(write(tmp_path, SUITE, "s.yaml"), ["train.steps=5", "bins=4", "experiment=x"])
    assert suite.compare[0].overrides == ("train.steps=5", "experiment=x")
    assert suite.activations[0].overrides == ("bins=4", "experiment=x")
    loaded = suite.load("optbench suite s.yaml")
    assert loaded.experiments[0].runs[0].train.steps == 5 and loaded.activations[0].bins == 4
    assert loaded.experiments[0].command == "optbench suite s.yaml"


def test_template_summaries_are_first_sentences_up_to_a_colon() -> None:
    assert summary_sentence("Initialisation with ReLU: MLP 784-100. More.") == "Initialisation with ReLU"
    assert (
        summary_sentence("Six runs (trial 0: defaults), scored. Next.")
        == "Six runs (trial 0: defaults), scored"
    )
    assert summary_sentence("Rates 1e-4 to 10, e.g. this one") == "Rates 1e-4 to 10, e.g. this one"


def test_every_template_is_a_valid_config_of_its_kind() -> None:
    names = templates.names()
    assert {"demo", "paths_book", "mnist_sgd", "activations", "tune_mnist"} <= set(names)
    for name in names:
        template = templates.describe(name)
        assert template.summary and template.command in ("train", "compare", "activations", "tune", "suite")


def test_a_template_is_never_written_over_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "paths_book.yaml").write_text("mine\n")
    with pytest.raises(UsageError, match=r"paths_book\.yaml: already exists"):
        templates.write("demo", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paths_book.yaml"]  # nothing of the suite written
    assert templates.write("paths_book", tmp_path / "sub" / "mine.yml") == [tmp_path / "sub" / "mine.yml"]


# -- the model and run keys of the chapter's second half --------------------------------------------

MNIST_RUN = """experiment: t
task: {dataset: mnist, validation: 10000}
model: {hidden: [10]}
optimizer: {name: sgd, lr: 0.1}
train: {batch_size: 100}
"""


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            MNIST_RUN.replace("hidden: [10]", "hidden: [10], dropout: 1"),
            "model.dropout",
            "must be >= 0 and < 1",
        ),
        (MNIST_RUN.replace("hidden: [10]", "hidden: [10], dropout: 1.5"), "model.dropout", "< 1"),
        (MNIST_RUN.replace("hidden: [10]", "hidden: [10], l2: -0.1"), "model.l2", "must be >= 0"),
        (
            MNIST_RUN.replace("validation: 10000", "validation: 10000, train_size: 50001"),
            "task.train_size",
            "at most the training images left, 50000 (60000 minus 10000 held out",
        ),
        (
            MNIST_RUN.replace("batch_size: 100", "batch_size: 100, steps: 10, epochs: 2"),
            "train.epochs",
            "give train.steps or train.epochs, not both",
        ),
        (
            MNIST_RUN.replace("hidden: [10]", "hidden: [10], batch_norm: {momentum: 0}"),
            "model.batch_norm.momentum",
            "must be > 0",
        ),
        (
            MNIST_RUN.replace("hidden: [10]", "hidden: [10], batch_norm: {epsilon: 1}"),
            "model.batch_norm.epsilon",
            "did you mean 'eps'?",
        ),
        (
            MNIST_RUN.replace("hidden: [10]", "hidden: [10], batch_norm: yes please"),
            "model.batch_norm",
            "must be true, false or a mapping",
        ),
        (
            MNIST_RUN.replace("batch_size: 100", "batch_size: 100, eval_every: epochs"),
            "train.eval_every",
            "a number of updates or 'epoch'",
        ),
        (
            MNIST_RUN.replace("validation: 10000", "validation: 10000, train_size: 50"),
            "train.batch_size",
            "at most the training subset's size 50",
        ),
        (FUNCTION_BASE.replace("steps: 3", "epochs: 3"), "train.epochs", "only dataset tasks have epochs"),
    ],
)
def test_a_wrong_model_or_run_key_is_one_line_naming_file_and_key_exit_2_nothing_written(
    tmp_path: Path, text: str, key: str, message: str, mnist: object
) -> None:
    config = write(tmp_path, text)
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["compare", str(config), "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {config}: {key}: ") and message in line, line
    assert not out.exists()


def test_the_model_keys_off_leave_the_run_id_and_on_change_it(tmp_path: Path) -> None:
    base = load_experiment(write(tmp_path, DATASET_BASE)).runs[0]
    off = (
        "model: {batch_norm: false, dropout: 0, l2: 0.0, inverted_dropout: false}\n"
        "task: {dataset: mnist, train_size: null}\n"
    )
    same = load_experiment(write(tmp_path, DATASET_BASE.replace("task: {dataset: mnist}\n", "") + off)).runs[
        0
    ]
    assert same.run_id == base.run_id
    ids = {base.run_id}
    for overrides in (
        ("model.batch_norm=true",),
        ("model.dropout=0.2",),
        ("model.dropout=0.2", "model.inverted_dropout=false"),
        ("model.l2=0.1",),
        ("task.train_size=300",),
    ):
        ids.add(load_experiment(write(tmp_path, DATASET_BASE), overrides).runs[0].run_id)
    assert len(ids) == 6


def test_epochs_resolve_to_steps_that_config_yaml_spells_out_and_reads_back(
    tmp_path: Path, mnist: object
) -> None:
    text = MNIST_RUN.replace("validation: 10000", "validation: 100, train_size: 400").replace(
        "batch_size: 100", "batch_size: 128, epochs: 50, eval_every: epoch"
    )
    (run,) = load_experiment(write(tmp_path, text)).runs
    assert (run.train.steps, run.train.epochs, run.train.eval_every) == (150, 50, "epoch")  # 400 // 128 = 3
    again, problems = validate_run(yaml.safe_load(to_yaml(run)))
    assert again == run, problems
    assert yaml.safe_load(to_yaml(run))["model"]["batch_norm"] is False


def test_overrides_and_grids_reach_the_model_keys(tmp_path: Path) -> None:
    grid = DATASET_BASE + "grid:\n  model.l2: [0, 0.1]\n  model.batch_norm: [false, true]\n"
    runs = load_experiment(write(tmp_path, grid), ("model.dropout=0.5",)).runs
    assert [(r.model.l2, r.model.batch_norm is not None) for r in runs if r.model] == [
        (0.0, False),
        (0.0, True),
        (0.1, False),
        (0.1, True),
    ]
    assert all(r.model is not None and r.model.dropout == 0.5 for r in runs)
    (run,) = load_experiment(write(tmp_path, DATASET_BASE), ("model.batch_norm.eps=1e-5",)).runs
    assert run.model is not None and run.model.batch_norm is not None
    assert (run.model.batch_norm.eps, run.model.batch_norm.momentum) == (1e-5, 0.1)


def test_epochs_count_mnists_pinned_size_where_the_data_is_not_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client of a cluster whose workers hold the data: 50,000 images left, batch 128: 390 an epoch.
    A folder of one's own has no pinned size: there, epochs need the data."""
    monkeypatch.setenv("OPTBENCH_DATA", str(tmp_path / "empty"))
    text = MNIST_RUN.replace("batch_size: 100", "batch_size: 128, epochs: 2")
    (run,) = load_experiment(write(tmp_path, text)).runs
    assert run.train.steps == 2 * 390
    (tmp_path / "own").mkdir()
    own = text.replace("validation: 10000}", f"validation: 10000, data_dir: {tmp_path / 'own'}}}")
    (problem,) = problems_of(tmp_path, own)
    assert problem.startswith("train.epochs: counting epochs needs the training set's size: fetch the data")
