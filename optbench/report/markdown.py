"""report.md and index.md: the documents, assembled from the sentences and tables, written atomically.

Every sentence is generated from the files on disk (through `optbench.results`) and states only what
those numbers say. A tuning study's report also rewrites its derived CSV files (`tune_csv`), and an
index of two or more studies gets their performance profile (`profile`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from optbench.files import atomic_write_text
from optbench.layout import (
    EXPERIMENT_FIGURES,
    INDEX_FILE,
    PERFORMANCE_PROFILE_PNG,
    REPORT_FILE,
    TUNE_FIGURES,
    activation_figures_of,
)
from optbench.measures import DISTINCT_TOLERANCE, FINAL_LOSS_WINDOW, SATURATION_MARGIN
from optbench.report.activations import activation_findings, case_table, input_line
from optbench.report.chapters import ACTIVATIONS_SECTION, SECTIONS, TUNE_SECTION, experiment_section
from optbench.report.findings import findings
from optbench.report.overview import activations_overview, experiment_overview, tune_overview
from optbench.report.plugins import plugins_line, plugins_section
from optbench.report.profile import profile_section
from optbench.report.sentences import Finding
from optbench.report.settings import settings_section
from optbench.report.tables import runs_md_table, variants_md_table
from optbench.report.tune_csv import write_tune_tables
from optbench.report.tune_findings import tune_findings
from optbench.report.tune_sections import tune_sections
from optbench.report.variants import variant_stats
from optbench.report.zero_init import is_zero_init_run, zero_init_table
from optbench.results import (
    ActivationsResult,
    ExperimentResult,
    TuneResult,
    is_activations_folder,
    is_tune_folder,
    performance_profile,
    read_activations,
    read_experiment,
    read_tune,
)

FINAL_LOSS_DEFINITION = (
    f"Final training loss: the mean minibatch loss over a run's last {FINAL_LOSS_WINDOW} steps (over all "
    "its steps when it ran fewer)."
)


def _heading(
    name: str, description: str, setup: str, sentences: Sequence[Finding], overridden: Sequence[str] = ()
) -> list[str]:
    """The top of a report: title, what was run (from the files), the config's description, findings.

    The description is the config file's prose: when the command overrode some of its keys, it is
    said to be the file's, so that its numbers are not taken for these runs'.
    """
    parts = [f"# {name}\n", setup + "\n"]
    if description:
        if overridden:
            keys = ", ".join(f"`{k}`" for k in overridden)
            parts.append(
                f"The config file describes it as follows; the command overrode {keys}, so where the "
                "description gives numbers, the line above gives these runs':\n"
            )
            parts.append("> " + " ".join(description.split()) + "\n")
        else:
            parts.append(description.strip() + "\n")
    if sentences:
        parts.append("## Findings\n")
        parts.append("".join(f"- {f.text}\n" for f in sentences))
    return parts


def _overridden(exp: ExperimentResult) -> list[str]:
    return [str(o.get("key")) for o in exp.overrides]


def figures_present(folder: Path, names: Sequence[str]) -> list[str]:
    """Those of the figure files `names` that exist in the folder, in the report's order."""
    return [name for name in names if (folder / name).is_file()]


def _activation_figures(result: ActivationsResult) -> tuple[str, ...]:
    return activation_figures_of([case.activation for case in result.cases])


def _task_line(exp: ExperimentResult) -> str:
    source = f" Config `{exp.source}`." if exp.source else ""
    return experiment_overview(exp) + source


def _report_text(exp: ExperimentResult) -> str:
    stats = [variant_stats(v) for v in exp.finished_variants]
    parts = _heading(exp.name, exp.description, _task_line(exp), findings(exp), _overridden(exp))
    settings = settings_section(exp)
    if settings:
        parts.append(settings)
    defined = exp.kind != "dataset"  # "final training loss" is said what it is where first shown
    if stats:
        note = (
            " Mean ± std over seeds; final values over completed runs."
            if any(len(s.variant.finished) > 1 for s in stats)
            else ""
        )
        note += f" {FINAL_LOSS_DEFINITION}" if not defined else ""
        defined = True
        parts.append(f"## Variants\n\nRuns that differ only in their seed form one variant.{note}\n")
        parts.append(variants_md_table(exp, stats))
    zero_init = [v for v in exp.finished_variants if any(map(is_zero_init_run, v.diagnosed))]
    if exp.kind == "dataset" and zero_init:
        parts.append(
            "## Zero-init study\n\nDistinct units: different incoming weight vectors of a layer "
            f"(up to a relative tolerance of {DISTINCT_TOLERANCE:g}); measured on the first seed.\n"
        )
        parts.append(zero_init_table(zero_init))
    figures = figures_present(exp.folder, EXPERIMENT_FIGURES)
    if figures:
        parts.append("## Figures\n")
        parts.append("\n".join(f"![{Path(name).stem}]({name})\n" for name in figures))
    parts.append("## Runs\n" + ("" if defined else f"\n{FINAL_LOSS_DEFINITION}\n"))
    parts.append(runs_md_table(exp))
    plugin_code = plugins_section(exp)
    if plugin_code:
        parts.append(plugin_code)
    return "\n".join(parts)


def _activation_report_text(result: ActivationsResult) -> str:
    parts = _heading(result.name, result.description, input_line(result), activation_findings(result))
    figures = figures_present(result.folder, _activation_figures(result))
    if figures:
        parts.append("## Figures\n")
        parts.append("\n".join(f"![{Path(name).stem}]({name})\n" for name in figures))
    parts.append(
        "## Cases\n\nPer layer: mean and std of the outputs; saturated: outputs within "
        f"{SATURATION_MARGIN:g} of a bound (sigmoid, tanh only); zero: outputs exactly 0; ‖∂L/∂W‖: "
        "Frobenius norm of the layer's weight gradient; std of ∂L/∂a: spread of the gradient at the "
        "layer's pre-activations.\n"
    )
    for case in result.cases:
        parts.append(f"### {case.label}\n")
        parts.append(case_table(case))
    return "\n".join(parts)


def _tune_report_text(tune: TuneResult) -> str:
    exp = tune.experiment
    source = f" Config `{exp.source}`." if exp.source else ""
    parts = _heading(exp.name, exp.description, tune_overview(tune) + source, [], _overridden(exp))
    parts += tune_sections(tune, figures_present(tune.folder, TUNE_FIGURES))
    return "\n".join(parts)


def write_report(exp_folder: Path) -> Path:
    """Write <exp_folder>/report.md (atomically) from the files of the experiment; returns its path.

    An `optbench activations` folder (activations.csv, no experiment.yaml) gets its own report; a
    tuning study gets its own, and its tune.csv, trials.csv and expected_max.csv are rewritten.
    """
    if is_activations_folder(exp_folder):
        text = _activation_report_text(read_activations(exp_folder))
    elif is_tune_folder(exp_folder):
        tune = read_tune(exp_folder)
        write_tune_tables(tune)
        text = _tune_report_text(tune)
    else:
        text = _report_text(read_experiment(exp_folder))
    path = exp_folder / REPORT_FILE
    atomic_write_text(path, text)
    return path


def _link(target: Path, root: Path) -> str:
    return Path(os.path.relpath(target, root)).as_posix()


def write_index(out_root: Path, exp_folders: list[Path]) -> Path:
    """Write <out_root>/index.md linking each experiment's report and figures, with its headlines,
    under the section of the book's chapter 6 it belongs to (`chapters`), in the order given there.

    Given two or more tuning studies that compare optimizers, it also draws their performance profile
    beside it (performance_profile.png) and gives its table.
    """
    parts = [
        "# optbench results\n",
        "Under each experiment: what ran, from its files (each run's config.yaml and status.json, a "
        "study's trial table), then its main findings. Each report.md also gives the config's own "
        "description. The experiments are grouped by the section of the book's chapter 6 they "
        "reproduce.\n",
    ]
    tunes: list[TuneResult] = []
    sections: dict[str, list[str]] = {number: [] for number in SECTIONS}
    for folder in exp_folders:
        info: ActivationsResult | ExperimentResult
        names: Sequence[str]
        if is_activations_folder(folder):
            info = read_activations(folder)
            sentences = activation_findings(info)
            names = _activation_figures(info)
            ran = activations_overview(info)
            section = ACTIVATIONS_SECTION
        elif is_tune_folder(folder):
            tune = read_tune(folder)
            if len(tune.optimizers) >= 2:
                tunes.append(tune)
            info = tune.experiment
            sentences = tune_findings(tune)
            names = TUNE_FIGURES
            ran = tune_overview(tune)
            section = TUNE_SECTION
        else:
            info = read_experiment(folder)
            sentences = findings(info)
            names = EXPERIMENT_FIGURES
            ran = experiment_overview(info)
            section = experiment_section(info)
        entry = sections[section]
        entry.append(f"### [{info.name}]({_link(folder / REPORT_FILE, out_root)})\n")
        entry.append(ran + "\n")
        plugin_code = (
            plugins_line(info, _link(folder, out_root) + "/") if isinstance(info, ExperimentResult) else ""
        )
        if plugin_code:
            entry.append(plugin_code)
        lines = [f"- {f.text}\n" for f in sentences if f.headline]
        if lines:
            entry.append("".join(lines))
        figures = figures_present(folder, names)
        if figures:
            links = " · ".join(f"[{Path(name).stem}]({_link(folder / name, out_root)})" for name in figures)
            entry.append(f"Figures: {links}\n")
    for number, entries in sections.items():
        if entries:
            parts += [f"## {SECTIONS[number]}\n", *entries]
    out_root.mkdir(parents=True, exist_ok=True)
    if len(tunes) >= 2:
        from optbench.plots import draw_performance_profile

        profile = performance_profile(tunes)
        figure = draw_performance_profile(profile, out_root / PERFORMANCE_PROFILE_PNG)
        parts.append(profile_section(profile, _link(figure, out_root)))
    path = out_root / INDEX_FILE
    atomic_write_text(path, "\n".join(parts))
    return path
