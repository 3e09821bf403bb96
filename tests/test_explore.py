"""Exploration tables and leakage checks, and the figures drawn from them."""

from __future__ import annotations

from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from medcnn.config import CLASSES
from medcnn.data import explore
from medcnn.data.build import BuildSettings
from medcnn.data.sources import Source, load_sources
from medcnn.presentation import figures as plots
from tests.helpers import brighter, synthetic_image


@pytest.fixture
def manifest() -> pd.DataFrame:
    """Twelve images: pairs 0-1 and 2-3 are near twins; 0-1 share a split, 2-3 do not."""
    splits = ["train", "train", "train", "test", "val", "test"] * 2
    return pd.DataFrame(
        {
            "label": [CLASSES[i % 3] for i in range(12)],
            "source": [f"s{i % 3}" for i in range(12)],
            "modality": ["MRI"] * 12,
            "split": splits[:10] + ["external", "external"],
            "group": ["g0", "g0", "g2", "g3"] + [f"g{i}" for i in range(4, 12)],
            "width": [128, 256, 64, 100] * 3,
            "height": [128, 200, 64, 100] * 3,
        }
    )


@pytest.fixture
def pixels() -> np.ndarray:
    images = [np.asarray(synthetic_image(seed, (128, 128))) for seed in range(12)]
    images[1] = np.asarray(brighter(synthetic_image(0, (128, 128)), 8))
    images[3] = np.asarray(brighter(synthetic_image(2, (128, 128)), 8))
    return np.stack(images)


def test_split_table_counts_every_image_once(manifest) -> None:
    table = explore.split_table(manifest)
    assert table.loc["total", "total"] == len(manifest)
    assert list(table.columns) == [*CLASSES, "total"]
    assert table.loc["external", "total"] == 2


def test_leakage_table_finds_the_crossing_twin_and_only_it(manifest, pixels) -> None:
    pairs = explore.near_pairs_frame(pixels)
    assert {(0, 1), (2, 3)} <= set(zip(pairs["first"], pairs["second"], strict=True))
    table = explore.leakage_table(manifest, pairs)
    assert list(table["across splits (medcnn)"]) == [1] * len(explore.THRESHOLDS)


def test_random_split_is_seeded_and_near_70_15_15() -> None:
    first, again = explore.random_image_split(20_000, 3), explore.random_image_split(20_000, 3)
    assert (first == again).all()
    assert abs((first == "train").mean() - 0.70) < 0.02


def test_group_check_counts_groups_across_splits(manifest) -> None:
    check = explore.group_check(manifest)
    assert check.groups_across_splits == 0
    assert check.groups == 11 and check.largest_group == 2
    crossing = manifest.assign(group=["same"] * 4 + list(manifest["group"][4:]))
    assert explore.group_check(crossing).groups_across_splits == 1


def test_copies_of_low_texture_are_alike_beyond_the_hash_criterion() -> None:
    settings = BuildSettings()
    assert settings.is_near_twin(40, 0.995) and settings.is_near_duplicate(40, 0.995)
    assert not settings.is_near_twin(40, 0.95)
    assert settings.is_near_twin(20, 0.96) and not settings.is_near_duplicate(20, 0.96)


def rgba(color) -> tuple[float, ...]:
    return tuple(float(c) for c in matplotlib.colors.to_rgba(color))


def test_class_balance_bars_are_the_split_counts_in_class_colours(manifest) -> None:
    table = explore.split_table(manifest)
    figure = plots.plot_class_balance(table)
    axis = figure.axes[0]
    assert [tick.get_text() for tick in axis.get_xticklabels()] == list(explore.SPLIT_ORDER)
    assert [text.get_text() for text in axis.get_legend().get_texts()] == list(CLASSES)
    assert axis.get_title() == "Images per split and class" and axis.get_ylabel() == "images"
    bottom = np.zeros(len(explore.SPLIT_ORDER))
    for name, bars in zip(CLASSES, axis.containers, strict=True):
        counts = table.loc[list(explore.SPLIT_ORDER), name].to_numpy()
        assert [bar.get_height() for bar in bars] == list(counts)
        assert [bar.get_y() for bar in bars] == list(bottom)  # stacked on the classes before
        assert {rgba(bar.get_facecolor()) for bar in bars} == {rgba(plots.CLASS_COLORS[name])}
        bottom += counts
    assert list(bottom) == list(table.loc[list(explore.SPLIT_ORDER), "total"])
    matplotlib.pyplot.close(figure)


def test_source_balance_stacks_each_source_by_split_in_its_class_colour(manifest) -> None:
    table = explore.source_split_table(manifest)
    figure = plots.plot_source_balance(table)
    axis = figure.axes[0]
    bars = axis.patches
    sources = len(table)
    assert len(bars) == sources * len(table.columns)
    for column, split in enumerate(table.columns):
        drawn = bars[column * sources : (column + 1) * sources]
        assert [bar.get_width() for bar in drawn] == list(table[split])
    totals = [bar.get_x() + bar.get_width() for bar in bars[-sources:]]
    assert totals == list(manifest.groupby("source").size().loc[table.index.get_level_values(1)])
    for bar, (label, _) in zip(bars, list(table.index) * len(table.columns), strict=True):
        assert rgba(bar.get_facecolor()) == rgba(plots.CLASS_COLORS[label])
    assert [text.get_text() for text in axis.get_legend().get_texts()] == [
        "train",
        "val",
        "test",
        "external",
    ]
    matplotlib.pyplot.close(figure)


def test_image_grid_draws_each_image_once_with_its_caption(pixels) -> None:
    captions = ["a", "b", "c", "d", "e"]
    figure = plots.plot_image_grid(pixels[:5], captions, columns=3, title="grid")
    drawn = [axis for axis in figure.axes if axis.images]
    assert len(figure.axes) == 6 and len(drawn) == 5
    assert [axis.get_title() for axis in drawn] == captions
    for axis, image in zip(drawn, pixels[:5], strict=True):
        np.testing.assert_array_equal(axis.images[0].get_array(), image)
    assert figure.get_suptitle() == "grid"
    matplotlib.pyplot.close(figure)


def test_size_distribution_plots_every_image_in_its_class_colour(manifest) -> None:
    figure = plots.plot_size_distribution(manifest)
    sizes, aspects = figure.axes
    for name, points in zip(CLASSES, sizes.collections, strict=True):
        rows = manifest[manifest["label"] == name]
        np.testing.assert_array_equal(points.get_offsets(), rows[["width", "height"]].to_numpy())
        assert rgba(points.get_facecolor()[0])[:3] == rgba(plots.CLASS_COLORS[name])[:3]
    assert sum(bar.get_height() for bar in aspects.patches) == len(manifest)
    assert [text.get_text() for text in aspects.get_legend().get_texts()] == list(CLASSES)
    assert (sizes.get_xlabel(), sizes.get_ylabel()) == ("width (px)", "height (px)")
    matplotlib.pyplot.close(figure)


def test_intensity_histograms_count_each_class(manifest, pixels) -> None:
    figure = plots.plot_intensity_distribution(pixels, manifest["label"])
    for axis in figure.axes:
        per_class = np.array_split(np.array(axis.patches), len(CLASSES))
        for name, bars in zip(CLASSES, per_class, strict=True):
            assert sum(bar.get_height() for bar in bars) == (manifest["label"] == name).sum()
            assert rgba(bars[0].get_facecolor())[:3] == rgba(plots.CLASS_COLORS[name])[:3]
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["Mean intensity per image", "Contrast per image"]
    matplotlib.pyplot.close(figure)


def test_group_sizes_title_and_histogram_count_the_groups(manifest) -> None:
    figure = plots.plot_group_sizes(manifest)
    axis = figure.axes[0]
    assert axis.get_title() == "11 groups: patients joined with their near twins"
    assert sum(bar.get_height() for bar in axis.patches) == manifest["group"].nunique()
    matplotlib.pyplot.close(figure)


def test_pair_examples_show_each_image_above_its_twin(pixels) -> None:
    pairs = explore.near_pairs_frame(pixels).head(2)
    figure = plots.plot_pair_examples(pixels, pairs, ["x", "y"])
    top, bottom = figure.axes[:2], figure.axes[2:]
    for column, pair in enumerate(pairs.itertuples()):
        np.testing.assert_array_equal(top[column].images[0].get_array(), pixels[pair.first])
        np.testing.assert_array_equal(bottom[column].images[0].get_array(), pixels[pair.second])
    assert [axis.get_title() for axis in top] == ["x", "y"]
    matplotlib.pyplot.close(figure)


def test_class_modality_table_counts_each_class_by_modality(manifest) -> None:
    mixed = manifest.assign(modality=["CT", "MRI", "XR", "CT"] * 3)
    table = explore.class_modality_table(mixed)
    assert list(table.index) == [*CLASSES, "total"]
    assert list(table.columns) == ["CT", "MRI", "XR", "total"]  # most common first
    assert table.loc["total", "total"] == len(mixed)
    assert (
        table.loc["brain", "CT"]
        == ((mixed["label"] == "brain") & (mixed["modality"] == "CT")).sum()
    )


def test_sample_indices_draws_per_source_in_order_and_seeded(manifest) -> None:
    shown = explore.sample_indices(manifest, ["s2", "s0"], per_source=3, seed=1)
    assert list(manifest.loc[shown, "source"]) == ["s2"] * 3 + ["s0"] * 3
    assert len(set(shown)) == 6
    assert (shown == explore.sample_indices(manifest, ["s2", "s0"], 3, seed=1)).all()
    assert len(explore.sample_indices(manifest, ["s1"], per_source=10)) == 4  # all it has
    with pytest.raises(ValueError, match="no image"):
        explore.sample_indices(manifest, ["missing"], per_source=1)


def test_dataset_summary_states_the_headline_figures(manifest) -> None:
    summary = explore.dataset_summary(manifest)
    assert (summary.images, summary.sources) == (12, 3)
    assert summary.external_sources == {"lung": ["s1"], "other": ["s2"]}
    assert summary.fewest_training_sources == 1 and summary.training_class_ratio == 1.0
    assert "12 images from 3 sources" in summary.summary()
    assert "2 whole sources kept apart" in summary.summary()


def test_source_table_carries_provenance_and_licence(manifest) -> None:
    source = Source(
        slug="s0",
        label="brain",
        title="t",
        upstream="https://example.org",
        repository="owner/repo",
        commit="0123456789" + "a" * 30,
        licence="CC0",
        citation="c",
        bibkey="key2020",
        images=5,
        files_csv_sha256="0" * 64,
        patient_namespace="s0",
    )
    wheel = replace(source, slug="s1", label="lung", commit="n/a (a wheel)")
    table = explore.source_table([source, wheel], manifest).set_index("source")
    assert table.loc["s0", "repository"] == "owner/repo"
    assert table.loc["s0", "commit"] == "0123456789"
    assert table.loc["s1", "commit"] == "n/a (a wheel)"
    assert table.loc["s0", "licence"] == "CC0" and table.loc["s0", "reference"] == "key2020"
    assert table.loc["s0", "kept"] == 4 and table.loc["s0", "listed"] == 5


def test_second_round_sources_are_all_listed() -> None:
    listed = {source.slug: source for source in load_sources()}
    assert len(explore.SECOND_ROUND) == 14
    assert set(explore.SECOND_ROUND) <= set(listed)
    assert {listed[slug].label for slug in explore.SECOND_ROUND} == set(CLASSES)
