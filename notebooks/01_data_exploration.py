# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. The data: where it comes from and why the split is honest
#
# ## Overview
#
# medcnn learns to tell a **brain** image from a **lung** image from anything
# **other** (other organs, other modalities, photographs). This notebook shows the
# dataset the models are trained and judged on: which public sources it draws
# from and under which licences, how the classes and sources are balanced across
# the splits, what the images look like, and, above all, a measured check that no
# patient and no near-identical image sits on both sides of a split.
#
# **Needs:** the built dataset (`make data`: copies the sources from the mirror and
# runs `medcnn data build`). It reads `data/processed/manifest.csv` and the
# canonical pixels written beside it; it never re-scans the image folders.
# **Takes:** about 30 seconds on a laptop CPU, most of it the near-duplicate search.

# %% [markdown]
# **Running this notebook elsewhere** (Colab, Binder, a laptop): the images are not
# redistributed; `make data` rebuilds every source from its public original at a
# pinned commit (the upstream mode of `medcnn data fetch`; see the README for how long
# it takes and how much it downloads), or copies them from a local mirror named by
# `MEDCNN_MIRROR`. On Colab, run this in a first cell, then open the notebook from the
# clone:
#
# ```
# !git clone --depth 1 https://github.com/medcnn/medcnn && cd medcnn && make data
# ```
#
# Binder builds the environment from `environment.yml` and `postBuild`; run `make data`
# in its terminal once.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from medcnn.config import CLASSES, processed_dir
from medcnn.data import explore
from medcnn.data.manifest import read_manifest, read_pixels
from medcnn.data.sources import load_sources
from medcnn.presentation.figures import (
    plot_class_balance,
    plot_group_sizes,
    plot_image_grid,
    plot_intensity_distribution,
    plot_pair_examples,
    plot_size_distribution,
    plot_source_balance,
)

SEED = 0  # which sample images are shown; the dataset itself is fixed by data/dataset.yml
pd.set_option("display.max_colwidth", 60)
manifest = read_manifest()
pixels = read_pixels()
sources = load_sources()
print(f"{len(manifest):,} images from {manifest['source'].nunique()} sources in {processed_dir()}")

# %% [markdown]
# ## Sources and licences
#
# Every image comes from one of the public sources recorded in `data/sources.yml`,
# with the repository and commit it was taken from, its licence as stated there,
# and how to cite it (*reference* is its key in the book's references, which list
# them all). *Listed* is what the source ships; *kept* is what survived decoding and
# deduplication.

# %%
source_table = explore.source_table(sources, manifest)
source_table

# %% [markdown]
# Several sources state no licence; they are used here for research and teaching, as
# their publishers offered them, and nothing of them is redistributed by this project:
# `medcnn data fetch` downloads each one from where it is published.

# %% [markdown]
# ## Classes and modalities
#
# Each class mixes modalities on purpose: brain is mostly MRI with some head CT,
# lung mixes chest X-rays with chest CT, and other holds photographs as well as
# medical images of other anatomy, the hard negatives (X-rays of knee, hand and
# spine, abdominal CT and MRI, cardiac MRI, mammography, ultrasound, retina,
# dermoscopy). Images per class and modality:

# %%
explore.class_modality_table(manifest)

# %% [markdown]
# ## Classes and splits
#
# The build puts 70 / 15 / 15 % of every source into `train` / `val` / `test`, by
# whole groups (below), and keeps a few whole sources apart as the `external`
# split, at least one per class, listed below. No model is trained or selected on
# them, so they measure how far a model carries to scanners and cameras it never saw.

# %%
summary = explore.dataset_summary(manifest)
external = manifest[manifest["split"] == "external"]
external.groupby(["label", "source", "modality"]).size().rename("images").to_frame()

# %%
split_counts = explore.split_table(manifest)
plot_class_balance(split_counts)
plt.show()
split_counts

# %%
source_splits = explore.source_split_table(manifest)
plot_source_balance(source_splits)
plt.show()

# %% [markdown]
# The classes are close to balanced in training, and every class draws on several
# sources there, so a model cannot score well by recognising one scanner's look:

# %%
print(
    f"largest class / smallest class in train: {summary.training_class_ratio:.2f}; "
    f"fewest sources of any class in train: {summary.fewest_training_sources}"
)
train = manifest[manifest["split"] == "train"]
train.groupby("label")["source"].nunique().rename("sources in train").to_frame()

# %% [markdown]
# ## What the images look like
#
# Every image is stored as the build left it: grayscale, padded to a square without
# distortion, resized to 128 × 128 pixels. Eight random training images per class:

# %%
rng = np.random.default_rng(SEED)
shown = np.concatenate(
    [rng.choice(train.index[train["label"] == name], 8, replace=False) for name in CLASSES]
)
plot_image_grid(
    pixels[shown],
    [f"{manifest.at[i, 'label']}\n{manifest.at[i, 'modality']}" for i in shown],
    title="Random training images, 8 per class",
)
plt.show()

# %% [markdown]
# And one image from each source, external sources included, to see the variety the
# model must cover within each class:

# %%
per_source = (
    manifest.sort_values(["label", "source"])
    .groupby("source", sort=False)
    .sample(1, random_state=SEED)
)
plot_image_grid(
    pixels[per_source.index],
    [f"{row.label}: {row.source[:18]}\n{row.split}" for row in per_source.itertuples()],
    columns=7,
    title="One image per source",
)
plt.show()

# %% [markdown]
# The sources the mirror added in its second round, a few images each: chest CT
# from more hospitals (São Paulo, Tehran, China, Italy, Coronacases and Radiopaedia),
# head CT in a brain window, and hard negatives whose anatomy borders the classes:
# abdominal CT and MRI, cardiac MRI with the lungs around the heart, full-spine
# X-rays that show the thorax, and colour dermoscopy. Each caption gives the class,
# the source, its modality and view, and the split it went to.

# %%
PER_SOURCE = 4
added = explore.sample_indices(manifest, explore.SECOND_ROUND, PER_SOURCE, seed=SEED)
plot_image_grid(
    pixels[added],
    [
        f"{row.label}: {row.source[:18]}\n{row.modality} {row.view}, {row.split}"
        for row in manifest.loc[added].itertuples()
    ],
    columns=8,
    title=f"{PER_SOURCE} images from each of the {len(explore.SECOND_ROUND)} second-round sources",
)
plt.show()

# %% [markdown]
# ## Sizes and intensities
#
# The sources store images at very different sizes and aspect ratios; the canonical
# form removes that difference, so size cannot give the class away.

# %%
plot_size_distribution(manifest)
plt.show()

# %% [markdown]
# Intensity differs between classes (MRI and CT slices are mostly black background;
# photographs are not), which is a real cue but also a shortcut: a model that only
# learned "dark image → medical" would fail on a bright scan. The external split
# tests exactly that kind of shortcut.

# %%
plot_intensity_distribution(pixels, manifest["label"])
plt.show()

# %% [markdown]
# ## Duplicates found and removed
#
# The build drops exact copies (identical canonical pixels) anywhere, and near
# duplicates across sources (the same picture republished elsewhere). Unreadable
# files are skipped and listed. The mirror this book is built from has already been
# deduplicated by its curators, so on it the build finds nothing to drop; the
# tables stay here because any other set of sources may well contain some.

# %%
report = pd.read_json(processed_dir() / "build_report.json", typ="series")
dropped = pd.read_csv(processed_dir() / "duplicates.csv")
unreadable = pd.read_csv(processed_dir() / "unreadable.csv")
print(
    f"listed {report['images_listed']:,}, kept {report['images_kept']:,}: "
    f"{report['exact_duplicates']} exact duplicates, "
    f"{report['near_duplicates_across_sources']} near duplicates across sources, "
    f"{len(unreadable)} unreadable"
)
dropped.groupby("reason").size() if len(dropped) else dropped

# %% [markdown]
# ## Groups: why the split is honest
#
# The danger the original project suspected is subtler than exact copies: adjacent
# MRI slices of one patient, or one scan saved twice with a different window, are
# *near twins*. Split at random, one twin lands in training and the other in test,
# and the test score measures memory, not recognition. The build therefore joins
# into one **group** every image of a patient (where the source names patients) and
# every pair of near twins within a source, and splits whole groups. Two images are
# near twins when their 256-bit difference hashes are at most 20 bits apart and their
# 32 × 32 thumbnails correlate at 0.96 or more, or when the thumbnails correlate at 0.99
# or more whatever the hash says (up to 48 bits): on low-texture images such as
# ultrasound, a one-pixel shift flips many hash bits of what is plainly one picture.

# %%
check = explore.group_check(manifest)
print(check.summary())
plot_group_sizes(manifest)
plt.show()

# %% [markdown]
# The check that matters is measured afresh here, from the canonical pixels: every
# pair of images that look alike, at three thresholds, and how many of those pairs
# cross splits: under medcnn's group split, and under the random image-level split
# the original project used.

# %%
pairs = explore.near_pairs_frame(pixels)
leakage = explore.leakage_table(manifest, pairs, seed=SEED)
leakage

# %% [markdown]
# At the criterion of `../shared/data/README.md` (distance ≤ 16, correlation ≥ 0.98)
# and at both criteria the build groups by, **no pair crosses a split**, where a
# random image-level split would have put thousands of near-identical pairs on both
# sides. Only at a looser threshold (distance ≤ 24, correlation ≥ 0.95) do some pairs
# cross; here are the most alike of them, so the reader can judge how close they are:

# %%
splits = manifest["split"].to_numpy()
crossing = pairs[splits[pairs["first"]] != splits[pairs["second"]]]
examples = crossing.sort_values("correlation", ascending=False).head(8)
plot_pair_examples(
    pixels,
    examples,
    [
        f"{manifest.at[p.first, 'source'][:16]}\n{splits[p.first]}/{splits[p.second]} "
        f"d={p.distance} r={p.correlation:.2f}"
        for p in examples.itertuples()
    ],
)
plt.show()
crossing.assign(source=manifest.loc[crossing["first"], "source"].to_numpy()).groupby(
    "source"
).size()

# %% [markdown]
# ## What we learned

# %%
print(summary.summary())

# %% [markdown]
# - The dataset draws every class from several public sources in training, and keeps
#   whole sources of every class apart as an external test of generalisation (the
#   figures are printed just above).
# - Near twins are common (thousands of pairs, mostly adjacent slices and re-windowed
#   copies within a source). A random image-level split, as in the original project,
#   would have leaked thousands of them between training and test.
# - medcnn's group split leaves zero patients, zero groups and zero near-duplicate
#   pairs across splits at the published criterion, measured above from the pixels.
# - Classes differ in intensity and modality as well as in anatomy: the external split
#   will show whether the models learned anatomy or shortcuts.
