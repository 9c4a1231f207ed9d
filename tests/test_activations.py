"""The activation-distribution experiment: the lecture's shapes as numbers, the histograms and gradients
checked independently, and its figures and report on synthetic and real activations.csv files."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from test_plots import FigureCatcher, png_size

from optbench import activations, plots, report
from optbench.activations import LayerStats, run, run_case
from optbench.cli import main
from optbench.config import ActivationCase, ActivationsConfig, load_activations
from optbench.errors import ConfigError
from optbench.files import csv_text
from optbench.init import INITIALIZERS
from optbench.nn import ACTIVATIONS, MLP
from optbench.results import is_activations_folder, read_activations

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def case(init: str, activation: str, std: float | None = None) -> ActivationCase:
    cls = INITIALIZERS[init]
    return ActivationCase(cls(std=std) if std is not None else cls(), activation)


def lecture_config(seed: int = 0, **overrides: Any) -> ActivationsConfig:
    """The lecture's set-up: 1000 × 100 standard normal input, 5 layers of 100 units, no bias."""
    cases = (
        case("normal", "sigmoid", 1.0),
        case("normal", "sigmoid", 0.01),
        case("xavier", "sigmoid"),
        case("normal", "relu", 0.01),
        case("xavier", "relu"),
        case("he", "relu"),
    )
    return ActivationsConfig(experiment="lecture", seed=seed, cases=cases, **overrides)


def by_case(rows: Sequence[LayerStats], label: str) -> list[LayerStats]:
    found = [r for r in rows if r.label == label]
    assert found, label
    return sorted(found, key=lambda r: r.layer)


@pytest.fixture(scope="module", params=[0, 1, 2], ids=lambda seed: f"seed{seed}")
def lecture_rows(request: pytest.FixtureRequest) -> list[LayerStats]:
    return list(run(lecture_config(seed=request.param)))


# --------------------------------------------------------------------------------------------------
# The lecture's shapes
# --------------------------------------------------------------------------------------------------


def test_std_1_sigmoid_piles_most_outputs_at_0_and_1_in_every_layer(lecture_rows: list[LayerStats]) -> None:
    """Most outputs in the outermost histogram bin at either end (within 1/30 of 0 or 1), and more than
    the report's saturation threshold within the 0.01 margin; Xavier has next to none there."""
    for layer in by_case(lecture_rows, "std=1 + sigmoid"):
        outer = (layer.counts[0] + layer.counts[-1]) / (1000 * 100)
        assert outer > 0.5, layer
        assert layer.saturated_frac is not None and layer.saturated_frac > report.SATURATED_SHARE
    for layer in by_case(lecture_rows, "xavier + sigmoid"):
        assert layer.saturated_frac is not None and layer.saturated_frac < 0.001


def test_std_001_sigmoid_concentrates_at_one_half_from_layer_2_on(lecture_rows: list[LayerStats]) -> None:
    for layer in by_case(lecture_rows, "std=0.01 + sigmoid")[1:]:
        assert layer.std < 0.05
        assert layer.mean == pytest.approx(0.5, abs=0.01)
    assert all(layer.std > 0.1 for layer in by_case(lecture_rows, "xavier + sigmoid"))


def test_he_relu_keeps_its_std_while_std_001_relu_shrinks_tenfold_per_layer(
    lecture_rows: list[LayerStats],
) -> None:
    he = [layer.std for layer in by_case(lecture_rows, "he + relu")]
    assert 1 / 1.5 < he[-1] / he[0] < 1.5
    small = [layer.std for layer in by_case(lecture_rows, "std=0.01 + relu")]
    assert all(later < earlier / 10 for earlier, later in itertools.pairwise(small))


def test_every_relu_layer_outputs_exact_zeros_for_about_half_of_its_values(
    lecture_rows: list[LayerStats],
) -> None:
    relu = [r for r in lecture_rows if r.activation == "relu"]
    assert all(0.4 < r.zero_frac < 0.6 and r.saturated_frac is None for r in relu)
    assert all(r.zero_frac == 0 for r in lecture_rows if r.activation == "sigmoid")


# --------------------------------------------------------------------------------------------------
# Histograms, determinism and gradients, against independent computations
# --------------------------------------------------------------------------------------------------


def hidden_outputs(c: ActivationCase, cfg: ActivationsConfig, x: np.ndarray, seed: int) -> list[np.ndarray]:
    """The hidden outputs of the case's network, rebuilt from the same weight stream."""
    sizes = (x.shape[1], *([cfg.nodes] * cfg.layers), cfg.readout_classes)
    net = MLP(sizes, ACTIVATIONS[c.activation], c.init, np.random.default_rng(seed), np.float64, bias=False)
    net.forward(x)
    return [h.copy() for h in net.hidden_outputs]


@pytest.mark.parametrize(
    "c", [case("normal", "sigmoid", 1.0), case("xavier", "tanh"), case("he", "relu")], ids=str
)
def test_histogram_counts_are_every_output_in_range_with_relu_zeros_in_the_first_bin(
    c: ActivationCase,
) -> None:
    cfg = ActivationsConfig(experiment="h", samples=200, features=30, layers=3, nodes=40, bins=17)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((cfg.samples, cfg.features))
    labels = rng.integers(0, 10, size=cfg.samples)
    stats = run_case(0, c, cfg, x, labels, np.random.default_rng(5))
    outputs = hidden_outputs(c, cfg, x, 5)
    for layer, h in zip(stats, outputs):
        assert len(layer.counts) == cfg.bins
        inside = (h >= layer.hist_low) & (h <= layer.hist_high)
        assert sum(layer.counts) == np.count_nonzero(inside)
        assert layer.std == pytest.approx(h.std()) and layer.zero_frac == pytest.approx(np.mean(h == 0))
        if c.activation == "relu":  # the book's plt.hist(a.flatten(), 30, range=(0, 1)): zeros in bin 0
            width = (layer.hist_high - layer.hist_low) / cfg.bins
            first = np.count_nonzero(h == 0) + np.count_nonzero((h > 0) & (h < layer.hist_low + width))
            assert layer.hist_low == 0.0 and layer.counts[0] == first
    if c.activation == "relu":  # the range ends at the 99.5% quantile of the case's non-zero outputs
        nonzero = sum(np.count_nonzero(h) for h in outputs)
        counted = sum(sum(s.counts) for s in stats) - sum(np.count_nonzero(h == 0) for h in outputs)
        assert counted / nonzero == pytest.approx(0.995, abs=0.002)
    else:
        assert (stats[0].hist_low, stats[0].hist_high) == ACTIVATIONS[c.activation].bounds


def test_the_same_seed_gives_identical_rows_and_another_seed_different_ones() -> None:
    cfg = ActivationsConfig(
        experiment="d", samples=50, features=20, layers=2, nodes=10, cases=(case("he", "relu"),)
    )
    first, again = list(run(cfg)), list(run(cfg))
    assert [r.row() for r in first] == [r.row() for r in again]
    other = dataclasses.replace(cfg, seed=1)
    assert [r.row() for r in run(other)] != [r.row() for r in first]


def test_cases_draw_from_their_own_streams_so_adding_a_case_leaves_the_others_alone() -> None:
    one = ActivationsConfig(
        experiment="s", samples=40, features=8, layers=2, nodes=6, cases=(case("he", "relu"),)
    )
    two = dataclasses.replace(one, cases=(case("he", "relu"), case("xavier", "tanh")))
    assert [r.row() for r in run(one)] == [r.row() for r in run(two) if r.case == 0]


FD_STEP = 1e-6


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_grad_norm_is_the_norm_of_the_finite_difference_weight_gradient(activation: str) -> None:
    c = case("xavier", activation)
    cfg = ActivationsConfig(experiment="fd", samples=6, features=4, layers=3, nodes=5)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((cfg.samples, cfg.features))
    labels = rng.integers(0, 10, size=cfg.samples)
    stats = run_case(0, c, cfg, x, labels, np.random.default_rng(8))
    sizes = (cfg.features, *([cfg.nodes] * cfg.layers), cfg.readout_classes)
    net = MLP(sizes, ACTIVATIONS[c.activation], c.init, np.random.default_rng(8), np.float64, bias=False)
    for layer in stats:
        w = net.weights[layer.layer - 1]
        numeric = np.zeros_like(w)
        for index in np.ndindex(*w.shape):
            kept = w[index]
            w[index] = kept + FD_STEP
            up = net.loss_and_grad(x, labels)
            w[index] = kept - FD_STEP
            down = net.loss_and_grad(x, labels)
            w[index] = kept
            numeric[index] = (up - down) / (2 * FD_STEP)
        assert layer.grad_norm == pytest.approx(float(np.linalg.norm(numeric)), rel=1e-6)


# --------------------------------------------------------------------------------------------------
# Figures and report on a synthetic activations folder with known numbers
# --------------------------------------------------------------------------------------------------

SAMPLES, NODES, BINS = 10, 10, 4
"""100 outputs per layer: counts are percentages."""


def synthetic_case(
    index: int,
    label: str,
    init: dict[str, Any],
    activation: str,
    std: Sequence[float],
    *,
    saturated: Sequence[float] | None = None,
    grad: Sequence[float] | None = None,
    delta: Sequence[float] | None = None,
    mean: float = 0.5,
    zero: float = 0.0,
    hist: tuple[float, float] = (0.0, 1.0),
) -> list[list[Any]]:
    layers = len(std)
    grads = grad or [1.0] * layers
    deltas = delta or [1e-4] * layers
    rows = []
    for k in range(layers):
        sat = saturated[k] if saturated is not None else None
        counts = [10 * (k + 1), 20, 30, 40 - 10 * k] if k < 4 else [25, 25, 25, 25]
        rows.append(
            [
                index,
                label,
                init["name"],
                activation,
                k + 1,
                mean,
                std[k],
                sat,
                zero,
                grads[k],
                deltas[k],
                *hist,
                *counts,
            ]
        )
    return rows


def synthetic_folder(root: Path, cases: Sequence[tuple[dict[str, Any], str, list[list[Any]]]]) -> Path:
    folder = root / "acts"
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "experiment": "acts",
        "description": "Synthetic activation statistics.",
        "input": "normal",
        "samples": SAMPLES,
        "features": 5,
        "layers": 5,
        "nodes": NODES,
        "bins": BINS,
        "seed": 0,
        "data_dir": None,
        "cases": [{"init": init, "activation": activation} for init, activation, _ in cases],
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    rows = [row for _, _, case_rows in cases for row in case_rows]
    (folder / "activations.csv").write_text(csv_text(activations.columns(BINS), rows))
    return folder


def lecture_like(root: Path, eighth: bool = False) -> Path:
    """Seven cases (eight with `eighth`) whose numbers put each on a known side of every threshold."""
    specs: list[tuple[dict[str, Any], str, list[list[Any]]]] = []

    def add(init: dict[str, Any], activation: str, label: str, **kw: Any) -> None:
        specs.append((init, activation, synthetic_case(len(specs), label, init, activation, **kw)))

    add(
        {"name": "normal", "std": 1.0},
        "sigmoid",
        "std=1 + sigmoid",
        std=[0.45] * 5,
        saturated=[0.6, 0.5, 0.4, 0.3, 0.26],
        grad=[0.05, 0.1, 0.3, 0.6, 1.0],
    )
    add(
        {"name": "normal", "std": 0.01},
        "sigmoid",
        "std=0.01 + sigmoid",
        std=[0.06, 0.03, 0.02, 0.02, 0.02],
        saturated=[0.0] * 5,
        grad=[1e-9, 1e-7, 1e-5, 1e-4, 1e-3],
    )
    add(
        {"name": "xavier"},
        "sigmoid",
        "xavier + sigmoid",
        std=[0.2, 0.15, 0.12, 0.12, 0.12],
        saturated=[0.24, 0.0, 0.0, 0.0, 0.0],
        grad=[0.2, 0.3, 0.4, 0.5, 1.0],
    )
    add(
        {"name": "normal", "std": 0.01},
        "relu",
        "std=0.01 + relu",
        std=[1e-1, 1e-2, 1e-3, 1e-4, 1e-5],
        mean=0.1,
        zero=0.5,
        hist=(0.0, 0.3),
        grad=[5e-7] * 5,
        delta=[1e-10, 1e-9, 1e-8, 1e-7, 1e-6],
    )
    add(
        {"name": "xavier"},
        "relu",
        "xavier + relu",
        std=[0.6, 0.5, 0.45, 0.4, 0.36],
        mean=0.4,
        zero=0.5,
        hist=(0.0, 2.0),
    )
    add(
        {"name": "he"},
        "relu",
        "he + relu",
        std=[0.8, 0.8, 0.8, 0.8, 0.76],
        mean=0.5,
        zero=0.5,
        hist=(0.0, 4.0),
        grad=[0.0, 0.5, 1.0, 1.5, 2.0],
    )
    add(
        {"name": "normal", "std": 1.0},
        "tanh",
        "std=1 + tanh",
        std=[0.95] * 5,
        mean=0.0,
        saturated=[0.78] * 5,
        hist=(-1.0, 1.0),
        grad=[20.0, 8.0, 4.0, 2.0, 1.0],
    )
    if eighth:
        add(
            {"name": "xavier"},
            "tanh",
            "xavier + tanh",
            std=[0.6, 0.5, 0.4, 0.35, 0.3],
            mean=0.0,
            saturated=[0.01, 0, 0, 0, 0],
            hist=(-1.0, 1.0),
        )
    return synthetic_folder(root, specs)


@pytest.fixture
def catcher(monkeypatch: pytest.MonkeyPatch) -> FigureCatcher:
    catch = FigureCatcher()
    monkeypatch.setattr(plots.rendering, "save_png", catch)
    return catch


def sentences(folder: Path) -> list[str]:
    return [f.text for f in report.activation_findings(read_activations(folder))]


def one_with(items: list[str], *parts: str) -> str:
    found = [s for s in items if all(p in s for p in parts)]
    assert len(found) == 1, (parts, items)
    return found[0]


def test_an_activations_folder_is_told_apart_from_an_experiment_folder(tmp_path: Path) -> None:
    folder = lecture_like(tmp_path)
    assert is_activations_folder(folder)
    (folder / "experiment.yaml").write_text("experiment: acts\n")
    assert not is_activations_folder(folder)


def test_reading_back_gives_each_case_its_layers_counts_and_init(tmp_path: Path) -> None:
    result = read_activations(lecture_like(tmp_path))
    assert [c.label for c in result.cases][:2] == ["std=1 + sigmoid", "std=0.01 + sigmoid"]
    relu = result.cases[3]
    assert relu.init == {"name": "normal", "std": 0.01} and not relu.bounded and result.cases[0].bounded
    assert relu.counts.shape == (5, BINS) and list(relu.counts[1]) == [20, 20, 30, 30]
    assert result.outputs_per_layer == SAMPLES * NODES


def test_report_names_the_saturated_sigmoid_case_only_above_the_threshold(tmp_path: Path) -> None:
    found = sentences(lecture_like(tmp_path))
    text = one_with(found, "std=1 + sigmoid saturates")
    assert "26–60% of its outputs lie within 0.01 of 0 or 1 in every layer (more than 25%)" in text
    assert "std=1 + tanh saturates: 78% of its outputs lie within 0.01 of −1 or 1" in one_with(
        found, "tanh saturates"
    )
    assert not [s for s in found if s.startswith("xavier + sigmoid saturates")]  # 24% is below 25%


def test_report_names_the_collapse_to_one_half_with_the_layers_below_the_std_threshold(
    tmp_path: Path,
) -> None:
    text = one_with(sentences(lecture_like(tmp_path)), "collapses")
    assert text.startswith(
        "std=0.01 + sigmoid collapses to 0.50: the std of its outputs is 0.02–0.03 in layers 2–5"
    )
    assert "(below 0.05)" in text


def test_a_sigmoid_case_neither_saturated_nor_collapsed_is_said_to_stay_spread(tmp_path: Path) -> None:
    text = one_with(sentences(lecture_like(tmp_path)), "xavier + sigmoid stays spread")
    assert "std 0.12–0.2 and at most 24% saturated in every layer" in text


def test_report_tells_the_relu_case_that_keeps_its_std_from_those_that_shrink(tmp_path: Path) -> None:
    found = sentences(lecture_like(tmp_path))
    he = one_with(found, "he + relu keeps")
    assert he.startswith("he + relu keeps its std across layers")
    assert "(layer 5 / layer 1 = 0.95, between 0.5 and 2), the closest to 1 of the relu cases." in he
    small = one_with(found, "std=0.01 + relu shrinks")
    assert (
        "from 0.1 in layer 1 to 1e-05 in layer 5 (layer 5 / layer 1 = 0.0001, ×0.1 per layer; below 0.5)"
        in small
    )
    xavier = one_with(found, "xavier + relu keeps")  # 0.6 is above the shrink threshold of 0.5
    assert xavier.startswith("xavier + relu keeps its std across layers") and "closest" not in xavier


def test_report_groups_cases_by_where_the_weight_gradient_vanishes_or_grows(tmp_path: Path) -> None:
    found = sentences(lecture_like(tmp_path))
    vanish = one_with(found, "‖∂L/∂W‖ vanishes towards the input")
    assert vanish.endswith(
        "(layer 1 / layer 5 below 0.1): std=1 + sigmoid (×0.05), std=0.01 + sigmoid (×1e-06), he + relu (×0)."
    )
    grows = one_with(found, "‖∂L/∂W‖ grows towards the input")
    assert grows.endswith("(layer 1 / layer 5 above 10): std=1 + tanh (×20).")
    keeps = one_with(found, "‖∂L/∂W‖ stays within a factor 10 from layer 5 to layer 1")
    assert "xavier + sigmoid (×0.2)" in keeps and "std=0.01 + relu (×1)" in keeps
    delta = one_with(found, "The std of ∂L/∂a", "vanishes")
    assert delta.endswith(": std=0.01 + relu (×0.0001).")
    assert "ranges from 0 (he + relu) to 20 (std=1 + tanh)" in one_with(found, "‖∂L/∂W‖ of layer 1 ranges")


def test_report_md_has_the_findings_a_table_per_case_and_the_figures_that_exist(tmp_path: Path) -> None:
    folder = lecture_like(tmp_path)
    (folder / "histograms_sigmoid.png").write_bytes(b"")
    text = report.write_report(folder).read_text()
    assert text.startswith(
        "# acts\n\nInput: 10 × 5 standard normal values, seed 0; 5 hidden layers of 10 units"
    )
    assert "without bias; gradients from one" in text and "\n\nSynthetic activation statistics.\n" in text
    assert "![histograms_sigmoid](histograms_sigmoid.png)" in text and "gradients.png" not in text
    assert text.count("\n### ") == 7
    assert "| layer | mean | std | saturated | zero | ‖∂L/∂W‖ | std of ∂L/∂a |" in text
    assert "| 1 | 0.500 | 0.450 | 60.0% | 0.0% | 0.0500 | 0.000100 |" in text
    assert "| 1 | 0.100 | 1.00e-01 | — | 50.0% | 5.00e-07 | 1.00e-10 |" in text


def test_index_links_an_activations_report_and_its_figures_with_headlines(tmp_path: Path) -> None:
    folder = lecture_like(tmp_path)
    for name in plots.activation_figures_of(["sigmoid", "relu", "tanh"]):
        (folder / name).write_bytes(b"")
    index = report.write_index(tmp_path, [folder]).read_text()
    assert "## [acts](acts/report.md)" in index
    assert (
        "Figures: [histograms_sigmoid](acts/histograms_sigmoid.png) · [histograms_relu]"
        "(acts/histograms_relu.png) · [histograms_tanh](acts/histograms_tanh.png) · "
        "[gradients](acts/gradients.png)"
    ) in index
    assert "- std=1 + sigmoid saturates" in index


def test_activation_figures_are_a_grid_of_histograms_per_activation_and_three_gradient_panels(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    from matplotlib.patches import StepPatch

    folder = lecture_like(tmp_path)
    plots.activation_figures(folder)
    assert list(catcher.figures) == [
        "histograms_sigmoid.png",
        "histograms_relu.png",
        "histograms_tanh.png",
        "gradients.png",
    ]
    rows = {"sigmoid": 3, "relu": 3, "tanh": 1}
    for activation, cases in rows.items():
        assert len(catcher.figures[f"histograms_{activation}.png"].axes) == cases * 5
    hist = catcher.figures["histograms_sigmoid.png"]
    relu_layer_2 = catcher.figures["histograms_relu.png"].axes[1]
    (bars,) = [p for p in relu_layer_2.patches if isinstance(p, StepPatch)]
    heights = bars.get_data().values
    assert list(heights) == pytest.approx([0.2, 0.2, 0.3, 0.3])  # counts / (N × H)
    assert list(bars.get_data().edges) == pytest.approx([0.0, 0.075, 0.15, 0.225, 0.3])
    assert relu_layer_2.get_title() == "layer 2\nstd 0.01 · zero 50%"  # the first row of its figure
    assert hist.axes[1].get_title() == "layer 2\nstd 0.45 · sat 50%"
    assert hist.axes[0].get_ylabel() == "std=1 + sigmoid"
    assert [ax.get_xlabel() for ax in hist.axes] == [""] * 10 + ["output"] * 5  # under the last row
    grads = catcher.figures["gradients.png"]
    assert len(grads.axes) == 3 and all(ax.get_yscale() == "log" for ax in grads.axes)


def test_a_relu_histogram_shows_its_exact_zeros_hatched_in_the_first_bin_cut_at_the_axis_top(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    from matplotlib.patches import Rectangle, StepPatch

    # 100 outputs a layer, 60 of them exactly 0: the first bin holds those and 5 others
    rows = synthetic_case(0, "he + relu", {"name": "he"}, "relu", [0.8] * 5, zero=0.6, hist=(0.0, 4.0))
    for row in rows:
        row[-BINS:] = [65, 20, 10, 5]
    folder = synthetic_folder(tmp_path, [({"name": "he"}, "relu", rows)])
    plots.activation_figures(folder)
    ax = catcher.figures["histograms_relu.png"].axes[0]
    (bars,) = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert list(bars.get_data().values) == pytest.approx([0.65, 0.2, 0.1, 0.05])
    assert ax.get_ylim()[1] == pytest.approx(0.2 * plots.activations.HIST_HEADROOM)  # fitted to the rest
    (zeros,) = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch()]
    assert (zeros.get_x(), zeros.get_width()) == (0.0, 1.0)  # the first bin, [0, 1)
    assert zeros.get_height() == pytest.approx(0.2 * plots.activations.HIST_HEADROOM)  # cut at the top
    assert [t.get_text() for t in ax.texts] == ["▲ 65%"]
    assert "outputs exactly 0, in the first bin" in catcher.figures["histograms_relu.png"].get_suptitle()


def test_gradient_lines_are_coloured_by_init_and_styled_by_activation(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    from matplotlib.colors import to_hex, to_rgb

    plots.activation_figures(lecture_like(tmp_path))
    lines = {line.get_label(): line for line in catcher.figures["gradients.png"].axes[0].get_lines()}
    assert to_hex(lines["he + relu"].get_color()).upper() == plots.INIT_COLORS["he"]
    assert to_hex(lines["xavier + sigmoid"].get_color()).upper() == plots.INIT_COLORS["xavier"]
    assert lines["xavier + sigmoid"].get_linestyle() == "-" and lines["xavier + relu"].get_linestyle() == "--"
    # std=1 and std=0.01 with sigmoid share init and activation: two shades, the smaller std lighter
    light, dark = (sum(to_rgb(lines[k].get_color())) for k in ("std=0.01 + sigmoid", "std=1 + sigmoid"))
    assert light > dark
    assert to_hex(lines["std=0.01 + relu"].get_color()).upper() == plots.INIT_COLORS["normal"]


def test_a_zero_gradient_is_marked_on_the_bottom_edge_of_the_log_axis(
    tmp_path: Path, catcher: FigureCatcher
) -> None:
    plots.activation_figures(lecture_like(tmp_path))
    ax = catcher.figures["gradients.png"].axes[0]
    marks = [line for line in ax.get_lines() if line.get_marker() == "v"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [1.0] and list(marks[0].get_ydata()) == [0.0]
    assert "exactly 0" in catcher.figures["gradients.png"].get_suptitle()


def test_histograms_of_eight_cases_and_five_layers_are_readable_pngs_one_per_activation(
    tmp_path: Path,
) -> None:
    folder = lecture_like(tmp_path, eighth=True)
    assert len(read_activations(folder).cases) == 8
    plots.activation_figures(folder)
    panel_w, panel_h = plots.activations.HIST_PANEL
    for activation, cases in {"sigmoid": 3, "relu": 3, "tanh": 2}.items():
        width, height = png_size(folder / f"histograms_{activation}.png")
        assert width >= 5 * panel_w * plots.axes.DPI and height >= cases * panel_h * plots.axes.DPI
        assert width <= 2400 and height <= 1200


# --------------------------------------------------------------------------------------------------
# End to end: the lecture's config through the command line
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lecture_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lecture")
    result = CliRunner().invoke(main, ["activations", str(CONFIGS / "activations.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "activations"


def test_the_lecture_config_gives_figures_and_a_report_that_names_its_shapes(lecture_folder: Path) -> None:
    assert sorted(p.name for p in lecture_folder.glob("*.png")) == [
        "gradients.png",
        "histograms_relu.png",
        "histograms_sigmoid.png",
        "histograms_tanh.png",
    ]
    text = (lecture_folder / "report.md").read_text()
    for expected in (
        "- std=1 + sigmoid saturates:",
        "- std=0.01 + sigmoid collapses to 0.50:",
        "- xavier + sigmoid stays spread:",
        "- std=0.01 + relu shrinks layer after layer:",
        "- std=1 + tanh saturates:",
    ):
        assert expected in text
    assert one_with(text.splitlines(), "closest to 1").startswith("- he + relu keeps its std across layers")
    redrawn = CliRunner().invoke(main, ["report", str(lecture_folder)])
    assert redrawn.exit_code == 0, redrawn.output
    assert redrawn.stdout.splitlines()[0].split() == [
        "case",
        "std",
        "first",
        "std",
        "last",
        "grad_norm",
        "first",
        "grad_norm",
        "last",
    ]
    assert (lecture_folder / "report.md").read_text() == text


def test_every_sentence_of_the_lecture_report_agrees_with_its_own_table(lecture_folder: Path) -> None:
    result = read_activations(lecture_folder)
    found = sentences(lecture_folder)
    vanish = next((s for s in found if "‖∂L/∂W‖ vanishes" in s), "")
    for c in result.cases:
        saturates = bool(c.bounded and np.any(c["saturated_frac"] > report.SATURATED_SHARE))
        assert any(s.startswith(f"{c.label} saturates") for s in found) == saturates, c
        collapses = bool(c.bounded and np.any(c["std"] < report.COLLAPSE_STD))
        assert any(s.startswith(f"{c.label} collapses") for s in found) == collapses, c
        if not c.bounded:
            shrinks = c["std"][-1] / c["std"][0] < report.SHRINK_RATIO
            assert any(s.startswith(f"{c.label} shrinks") for s in found) == shrinks, c
        first_last = c["grad_norm"][0] / c["grad_norm"][-1]
        assert (f"{c.label} (×" in vanish) == (first_last < 1 / report.GRADIENT_RATIO), c


def test_an_activations_config_is_written_as_readable_utf8() -> None:
    from optbench.config import activations_to_yaml, load_activations

    description = "σ(x) piles up at 0 and 1 — ×2 per layer"
    text = activations_to_yaml(load_activations(CONFIGS / "activations.yaml", [f"description={description}"]))
    assert f"description: {description}" in text and "\\u" not in text and "\\x" not in text
    assert yaml.safe_load(text)["description"] == description


# --------------------------------------------------------------------------------------------------
# Batch normalisation before each activation
# --------------------------------------------------------------------------------------------------

SIGMOID_OF_NORMAL_STD = 0.20827
"""std of sigmoid(Z), Z standard normal: √(E[σ(Z)²] − ¼), by quadrature (checked in the test)."""


def test_batch_norm_gives_sigmoid_the_spread_of_a_standard_normal_input_whatever_the_scale() -> None:
    z = np.linspace(-12, 12, 200_001)
    density = np.exp(-(z**2) / 2) / np.sqrt(2 * np.pi)
    second = np.sum(density / (1 + np.exp(-z)) ** 2) * (z[1] - z[0])
    assert np.sqrt(second - 0.25) == pytest.approx(SIGMOID_OF_NORMAL_STD, abs=1e-5)
    cases = tuple(
        ActivationCase(INITIALIZERS["normal"](std=std), "sigmoid", batch_norm=True) for std in (1.0, 0.01)
    )
    rows = list(run(ActivationsConfig(experiment="bn", cases=cases)))
    for label in ("std=1 + batch norm + sigmoid", "std=0.01 + batch norm + sigmoid"):
        layers = by_case(rows, label)
        # each unit's input is standardised over the 1000 samples: N(0, 1)-like in every layer
        assert [r.std for r in layers] == pytest.approx([SIGMOID_OF_NORMAL_STD] * 5, abs=0.01)
        assert all(r.mean == pytest.approx(0.5, abs=0.01) for r in layers)
        assert all(r.saturated_frac is not None and r.saturated_frac < 1e-4 for r in layers)


def test_a_case_batch_norm_must_be_true_or_false(tmp_path: Path) -> None:
    path = tmp_path / "acts.yaml"
    path.write_text(
        "experiment: acts\ncases:\n  - {init: he, activation: relu, batch_norm: true}\n"
        "  - {init: he, activation: relu, batch_norm: 0.5}\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_activations(path)
    assert str(raised.value).count("\n") == 0
    assert "cases[1].batch_norm: must be true or false, got 0.5" in str(raised.value)
    path.write_text("experiment: acts\ncases:\n  - {init: he, activation: relu, batch_norm: true}\n")
    (written,) = load_activations(path).cases
    assert written.batch_norm and written.label == "he + batch norm + relu"
