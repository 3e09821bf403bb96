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
# # 2. Training: the original CNN, made robust, then beaten by transfer learning
#
# ## Overview
#
# This notebook trains three models on the `train` split and compares them:
#
# 1. the **original CNN**, its architecture exactly as published (four 4×4
#    convolutions, 64 × 64 grayscale input), trained with Adam for 3 epochs;
# 2. a **robust CNN** of the same family, with augmentation, BatchNorm, Dropout and
#    weight decay;
# 3. **transfer learning**: MobileNetV2 with ImageNet weights, cut inside its 13th
#    block, trained with the base frozen and then partly fine-tuned.
#
# Every model takes the same canonical 128 × 128 grayscale image and does its own
# resizing, scaling and augmentation in Keras layers, so evaluation, the app and the
# command line all share one preprocessing. Models are selected on `val` only (the
# checkpoint keeps the epoch with the lowest validation loss); `test` and the
# `external` sources are only looked at in the comparison below.
#
# **Needs:** the built dataset (`make data`) and the MobileNetV2 ImageNet weights in
# the Keras cache (`make setup` copies them; nothing is downloaded).
# **Takes:** about 18 minutes on 2 CPU cores (the original CNN about 10 of them, the
# robust CNN 4, the transfer model 3.5), almost all of it training; a GPU makes it
# a minute or two. `MEDCNN_SMOKE=1` trains on a
# few images for one epoch, which only checks that the code runs.

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

from medcnn.config import smoke_mode
from medcnn.modeling.artifacts import read_card, release_model_path
from medcnn.presentation.training import comparison_table, plot_learning_curves
from medcnn.training.holdout import holdout_table, read_results, results_path, seed_spread
from medcnn.training.recipes import RECIPES, RELEASE_RECIPE
from medcnn.training.run import conditions, default_seed, runs_dir, train_model

SEED = default_seed()  # MEDCNN_SEED: weights, shuffling, augmentation, dropout
MODELS = os.environ.get("MEDCNN_MODELS", ",".join(RECIPES)).split(",")
pd.set_option("display.precision", 3)
print(f"seed {SEED}; models {MODELS}; smoke mode {smoke_mode()}; saved to {runs_dir()}")
print("conditions:", conditions())

# %% [markdown]
# The seeds fix the initial weights, the shuffling order, the augmentation and the
# dropout masks. What still varies between runs is the order in which TensorFlow's
# threads add up floating-point numbers, so a rerun can differ in the third decimal.
# Training speed depends on the machine: every time below is measured on the machine
# named in the line above, while whatever else ran on it kept running.

# %% [markdown]
# ## The original CNN
#
# Four convolutions with 128, 64, 32 and 16 filters of 4 × 4, each followed by 2 × 2
# max-pooling, then a 64-unit dense layer and the softmax. The only addition is in
# front: a resizing layer takes the canonical 128 px image down to the original's
# 64 px, so that this model accepts the same input as the others. It trains for 3
# epochs with Adam from its default learning rate 10⁻³, without early stopping or
# augmentation, as the original demo did. Two things differ from the original's
# training, as for every model here: the learning rate decays along a cosine over
# the 3 epochs, and images are weighted so that the three classes count equally.

# %%
runs = {}
if "original_cnn" in MODELS:
    runs["original_cnn"] = train_model("original_cnn", SEED)
    runs["original_cnn"].model.summary()

# %% [markdown]
# ## A robust CNN of the same family
#
# Same idea, small convolutions (16 → 128 filters, 3 × 3) with BatchNorm, global
# average pooling, Dropout and L2 weight decay. The augmentation layers inside the
# model change every training image a little, in ways a different scanner or clinic
# could: left-right flips (anatomy is nearly symmetric and display conventions
# differ), rotations up to 10°, zoom up to 10 %, shifts up to 5 % (positioning), and
# brightness and contrast up to 20 % (window settings and exposure). Nothing turns an
# image upside down: that is not a real input. At inference these layers do nothing.
#
# Within each class, images from small sources weigh more (a source of *n* images
# weighs *n*^-½ per image), so a few dozen CT slices are not drowned out by
# thousands of MRI slices. The learning rate follows a cosine decay and training
# stops early when the validation loss has not improved for two epochs.
#
# A caveat on honesty: this weighting, and the 64 px working size of the transfer
# model, were chosen after an earlier version of the recipe (no source weighting,
# 96 px) had been scored on the `external` split. Selection of epochs uses `val`
# only, but the external figures below are not entirely untouched by design choices.

# %%
if "robust_cnn" in MODELS:
    runs["robust_cnn"] = train_model("robust_cnn", SEED)

# %% [markdown]
# ## Transfer learning: MobileNetV2 from ImageNet
#
# The grayscale image is repeated into three channels and scaled as MobileNetV2
# expects; the network is cut at the expansion layer of block 13 (`block_13_expand`), which
# keeps about a quarter of its weights and most of its general-purpose features.
# First only the new softmax head trains on top of the frozen base (3 epochs at
# 10⁻³); then the top 30 % of the base's layers are unfrozen and fine-tuned at
# 10⁻⁴ for up to 3 more epochs. BatchNorm layers keep their ImageNet statistics
# throughout, so the small batches of fine-tuning cannot disturb them. The same
# augmentation and source weighting as for the robust CNN apply.

# %%
if "mobilenet_v2" in MODELS:
    runs["mobilenet_v2"] = train_model("mobilenet_v2", SEED)

# %% [markdown]
# ## Learning curves
#
# Training (solid) against validation (dashed) loss and accuracy for each model, on
# the same axes. The circle marks the epoch the checkpoint kept; the dotted line
# marks where fine-tuning starts. The training curves are measured with
# augmentation and dropout switched on, so they can lie below the validation curves.

# %%
plot_learning_curves([(run.title, run.history) for run in runs.values()])
plt.show()

# %% [markdown]
# ## Comparison
#
# Accuracy and macro-F1 (the mean of the three per-class F1 scores) on the `test`
# split, drawn from the same sources as training, and on the `external` split: head
# CT from MedNIST, lung CT cut from COVID-19 papers and grayscale photographs of
# scenes, three whole sources no model saw in training or selection. *Training s*
# and *train images/s* count every epoch including its validation pass; *predict
# images/s* is inference over the evaluation splits in batches of 128. Both are
# measured on the machine described at the top of this notebook.

# %%
comparison = comparison_table([run.card for run in runs.values()])
comparison

# %% [markdown]
# ## The release model
#
# `models/medcnn.keras` is what the app, the widget and `medcnn predict` use. It is
# the transfer model trained with the same recipe and seed as above by
# `make model` (`medcnn train --release`), and committed so that prediction works
# on a fresh clone. Its model card records how it scored and under which conditions
# it was trained; here it is next to the original CNN trained in this notebook.

# %%
release_card = read_card(release_model_path())
release = comparison_table([release_card]).rename(index=lambda title: f"release: {title}")
release_size_mb = release_model_path().stat().st_size / 1e6
print(
    f"{release_model_path().name}: {release_size_mb:.1f} MB, recipe {RELEASE_RECIPE}, "
    f"trained {release_card['date']} on {release_card['training']['conditions']}"
)
pd.concat([release, comparison.loc[comparison.index.str.startswith("original")]])

# %% [markdown]
# ## Would another recipe do better on unseen sources?
#
# The transfer model's weakness, lung CT from a source it never saw, shows on the
# `external` split. Trying remedies against that split would turn it into a second
# validation set and its figure into an optimistic one. So remedies are compared on
# folds built from the training pool alone: each holds out sources of the kinds
# `external` holds (lung CT, head CT, photographs, with every image that shares a
# patient or duplicate group with them), trains on the rest of `train`, selects its
# epoch on the rest of `val`, and is scored on the held-out images. Fold A holds out
# the two DICOM-derived lung CT collections, fold B the CT slices cut from papers in
# the COVID-19 image collection (which brings 24 of its patients' X-rays along).
# `test` and `external` are not touched.
#
# The candidates: the release recipe; a 96 px working size; modality balancing within
# each class (an image whose modality has *n* images in its class weighs *n*^-½, which
# lifts the 112 lung CT slices against the 4,640 chest X-rays); and both. The release
# recipe also runs under seeds 1 and 2, to show how far the seed alone moves these
# figures. `make holdout` (`medcnn train --holdout`) trains the 12 runs, about an hour
# on 2 CPU cores, and writes `models/medcnn.holdout.json`; this page reads that file
# rather than training them again.

# %%
holdout = read_results()
print(results_path().name)
display(pd.DataFrame(holdout["folds"]).T[["held_out", "held_out_images", "train_images"]])
holdout_table(holdout).round(3)

# %%
spread = seed_spread(holdout, "64 px (release)")
print(
    "release recipe, mean held-out macro-F1 by seed:",
    spread.round(3).to_dict(),
    f"(range {spread.max() - spread.min():.3f})",
)

# %% [markdown]
# What the folds show (figures from the file above; 2 CPU cores):
#
# - They reproduce the weakness without `external`: with its lung CT sources held
#   out, the release recipe finds only about half of the TCGA-LUAD and Lung-PET-CT-Dx
#   slices (fold A lung recall 0.47–0.50 over three seeds), while fold A's `val`
#   macro-F1 is 0.999. Chest CT cut from papers (fold B) is easier: 86–92 % of
#   its slices right.
# - The seed alone moves the release recipe's mean held-out macro-F1 between 0.870
#   and 0.887. Against that, 96 px alone (0.876) and modality balancing alone (0.874)
#   change nothing measurable. Both together score 0.896, above the release recipe's
#   three seeds, with lung recall 0.62 in fold A; it is one seed, and the
#   recipe takes 2.4 times as long to train.
# - That recipe was also trained once on the full `train` split (seed 0, by setting
#   it as the release recipe and running `make model`). This looks at `external`,
#   and is reported for that reason: test macro-F1 0.997 as the release, external
#   0.881 against the release's 0.934, with 67 % of the unseen lung CT source right
#   against 82 % (notebook 03).
# - The release recipe itself, trained with seeds 1 and 2 (`medcnn train
#   mobilenet_v2 --seed 1`, 2 CPU cores), scored test macro-F1 0.998 both times but
#   external 0.828 and 0.912, with 60 % and 76 % of the unseen lung CT source right.
#   The seed moves the external figure more than any recipe change tried here, so
#   with one seed per recipe neither the folds nor `external` can rank these recipes.
#   The release recipe stays as it is; its external 0.934 is the best of three seeds.
# - Fold A stays far below `val` whatever the recipe: 76 lung CT slices from two
#   collections are not learnt from the few dozen of a third. More lung CT sources
#   in training, not a recipe, is what would close the gap.

# %% [markdown]
# ## What we learned
#
# Accuracy figures from runs of this notebook with seed 0 on 2 CPU cores (no GPU),
# which gave the same figures to the third decimal each time; other hardware may
# differ in the third decimal. The times in the table above are those of the run
# shown on this page.
#
# - The original CNN, trained as published but on medcnn's honest group split,
#   reproduces its reputation: test macro-F1 0.981, and only 0.765 on the external
#   sources. It is also by far the slowest to train (about ten minutes for its 3
#   epochs on 2 cores), most of it in the 4 × 4 convolution from 128 to 64 channels.
# - Augmentation, BatchNorm, weight decay and source weighting lift the same family
#   to test 0.993 and external 0.924 with 98 k parameters (a 0.5 MB file), in about
#   four minutes.
# - The cut MobileNetV2 with ImageNet weights is best on `val` (0.999) and so is the
#   release model: test 0.997, external 0.934, 618 k parameters, a 3.0 MB file,
#   the fastest of the three to train. Its external figure depends on the seed:
#   0.828 and 0.912 with seeds 1 and 2 (see the section before).
# - None of the three reaches the external target of 0.95 macro-F1. Head CT and
#   scenes are nearly solved; the errors are lung CT slices cut from papers (white
#   page backgrounds, lung window), called brain or other. The training set holds
#   112 lung CT slices against 4,640 chest X-rays, and the closest-looking images in
#   it are abdominal CT, labelled other: more lung CT in training is the honest fix,
#   not more tuning against the external split. The held-out folds above agree: no
#   recipe variant tried there finds more than 62 % of fold A's lung CT slices.
# - High in-distribution scores say little here: all three models are above 0.98 on
#   `test`, and the external split separates them.
