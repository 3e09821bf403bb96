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
# # 4. Grad-CAM: where the models look, and whether the maps mean anything
#
# ## Overview
#
# Grad-CAM {cite}`selvaraju2017gradcam` weighs the feature maps of a convolution
# layer by how much each raises the score of one class, and keeps the positive part:
# a coarse map of the regions that speak *for* that class. This notebook shows those
# maps for the release model beside the original CNN, for right and wrong answers,
# for each class on one image, at two depths of the network, and then tests whether
# the maps depend on what the model learnt at all: the randomization check of
# {cite}`adebayo2018sanity`.
#
# The release model is four networks answering as one (MobileNetV2 cut inside block 13,
# and the whole MobileNetV2, each under two seeds): its logit for a class is the sum of
# the members' scaled logits, so its map is the sum of the members' maps, each taken at
# that member's last convolution before the positive part is kept.
#
# **Needs:** the built dataset (`make data`), the release model (committed), and the
# original CNN saved by notebook 02 in `runs/` (trained here if missing).
# **Takes:** about three minutes on 2 CPU cores when notebook 02 has run.

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

from medcnn.config import CLASSES
from medcnn.data.dataset import split_arrays
from medcnn.evaluation.report import misclassified
from medcnn.explain.gradcam import grid_size, last_conv_layer, overlays, randomization_check
from medcnn.modeling.artifacts import load_model, release_model_path
from medcnn.modeling.ensemble import members_of
from medcnn.modeling.forward import class_probabilities
from medcnn.presentation.figures import plot_heatmaps, plot_randomization
from medcnn.training.run import trained_model

release = load_model(release_model_path())
original = trained_model("original_cnn")
networks = {f"release member {i + 1}": member for i, member in enumerate(members_of(release))}
for title, model in {**networks, "original CNN": original}.items():
    rows, columns = grid_size(model)
    print(
        f"{title}: works at {model.get_layer('resize').height} px; last convolution "
        f"{last_conv_layer(model)}, a map of {rows} × {columns} cells"
    )

# %% [markdown]
# ## Right and wrong answers, release model beside the original CNN
#
# Two `test` images per class (drawn from a seeded, class-balanced 600) that the
# release model gets right, then the release
# model's three most confident mistakes on `external`. Each model's map is for the
# class *it* predicts (named in the caption), at its last convolution.

# %%
rng = np.random.default_rng(0)
test_images, test_labels, _ = split_arrays("test", limit=600)
external_images, external_labels, external_rows = split_arrays("external")
test_predicted = np.argmax(class_probabilities(release, test_images), axis=1)
right = [
    rng.choice(np.flatnonzero((test_labels == c) & (test_predicted == c)), 2, replace=False)
    for c in range(len(CLASSES))
]
external_probabilities = class_probabilities(release, external_images)
mistakes = misclassified(external_probabilities, external_labels, external_rows)
wrong = mistakes.head(3)
images = np.concatenate([test_images[np.concatenate(right)], external_images[wrong["index"]]])
truths = [CLASSES[c] for c in np.repeat(range(len(CLASSES)), 2)] + list(wrong["true"])

release_maps, release_answers = overlays(release, images)
original_maps, original_answers = overlays(original, images)
captions = [
    f"true {t}\nrelease: {CLASSES[a]}\noriginal: {CLASSES[b]}"
    for t, a, b in zip(truths, release_answers, original_answers, strict=True)
]
plot_heatmaps(
    images,
    {"release model": release_maps, "original CNN": original_maps},
    captions,
    "Grad-CAM for the predicted class",
)
plt.show()

# %% [markdown]
# Every network's last convolution sees the image through a coarse grid (printed
# above): the release model's members through 6 and 3 cells a side, the original
# CNN through two. The maps are therefore blobs: they say which part of the picture
# carried the decision, not which structure.

# %% [markdown]
# ## One image, each class
#
# Grad-CAM is class-specific: asked about a different class, it highlights different
# evidence. Here, for the lung CT slice from `external` that the release model most
# confidently called something else, the map for each of the three classes.

# %%
lung_miss = mistakes[mistakes["true"] == "lung"]["index"].iloc[0]  # the most confident one
one = np.repeat(external_images[lung_miss][np.newaxis], len(CLASSES), axis=0)
per_class_maps, _ = overlays(release, one, class_indices=range(len(CLASSES)))
shares = external_probabilities[lung_miss]
titles = [f"for {name} ({share:.0%})" for name, share in zip(CLASSES, shares, strict=True)]
plot_heatmaps(
    one[:1],
    {title: maps[np.newaxis] for title, maps in zip(titles, per_class_maps, strict=True)},
    ["lung CT\n(external)"],
    "Release model: Grad-CAM for each class on one image",
)
plt.show()

# %% [markdown]
# ## A shallower layer: sharper, less specific
#
# Any convolution can be chosen. An earlier layer sees a finer grid (printed below for
# the release model's `block_3_expand` and the original's `conv_64`) but its features
# are closer to edges and textures than to "brain" or "lung".

# %%
shallow = {"release, block_3_expand": "block_3_expand", "original, conv_64": "conv_64"}
layer_maps = {}
for title, layer in shallow.items():
    model = release if title.startswith("release") else original
    answers = release_answers if model is release else original_answers
    layer_maps[title], _ = overlays(model, images[:6:2], answers[:6:2], layer_name=layer)
    print(f"{title}: a map of {' × '.join(map(str, grid_size(model, layer)))} cells")
plot_heatmaps(images[:6:2], layer_maps, truths[:6:2], "Grad-CAM at a shallower layer")
plt.show()

# %% [markdown]
# ## Sanity check: do the maps depend on the learnt weights?
#
# {cite}`adebayo2018sanity` showed that some saliency methods produce nearly the same
# maps for a trained and a randomly initialized network: such maps show the image's
# edges, not the model's reasoning. Their test: randomize the weights from the output
# down (each layer redrawn from a normal with the trained weights' mean and spread),
# recompute the maps for the same class, and measure how similar they stay (Spearman
# rank correlation with the trained model's map, over 12 `test` images). Meaningful
# maps decorrelate. Here the cascade takes one MobileNetV2 block (an inverted residual:
# expansion, depthwise and projection layers) per step, and each layer outside the
# blocks on its own; the release model's four networks are randomized together, depth
# by depth: each step takes the same block (or layer) of every network that has it, from
# the whole networks' top blocks down.

# %%
sample = test_images[rng.choice(len(test_images), 12, replace=False)]
checks = {
    "release model": randomization_check(release, sample),
    "original CNN": randomization_check(original, sample),
}
for title, steps in checks.items():
    plot_randomization(steps, f"{title}: cascading randomization")
    plt.show()

# %%
sanity = pd.DataFrame(
    {
        title: {
            "randomization steps": len(steps),
            "after the output layer": steps[0]["spearman"],
            "mean over all steps": np.mean([s["spearman"] for s in steps]),
            "largest |correlation| at any step": max(abs(s["spearman"]) for s in steps),
            "all layers randomized": steps[-1]["spearman"],
        }
        for title, steps in checks.items()
    }
)
sanity.round(2)

# %% [markdown]
# ## What we learned
#
# Observations from the run of this notebook: the release model is the committed one,
# so its maps are reproducible; the original CNN is retrained by notebook 02.
#
# - Grad-CAM works on every model here, including the release model, four networks each
#   with its ImageNet base nested inside it, and on models loaded from their `.keras`
#   files.
#   At the last convolution the maps are coarse (a few cells a side): good for
#   "where", not "what". The original CNN's 2 × 2 maps say almost nothing.
# - On right answers the release model's maps lie on the anatomy and around it: the
#   head and skull of the brain images, the mediastinum and lung fields of a chest
#   X-ray. Built from a 6 × 6 and a 3 × 3 grid, they are blobs. Its most confident
#   mistakes on `external` are MedNIST head CT slices cut low, through the skull base
#   with the face and sinuses in view, called `other`: the map for that answer sits on
#   the bone and soft tissue of the skull base, not on brain. On the coronal chest CT
#   slice it gets most confidently wrong (`other` at 99 %), the evidence for `other`
#   lies mostly in the liver at the bottom of the slice and in its upper corners; the
#   maps for `brain` and `lung` are empty: nothing in the slice raises either score.
# - The maps pass the randomization check: once the output layer is randomized the
#   rank correlation with the trained model's maps is already near zero for both
#   models, and it stays near zero, never returning to a strong correlation, as the
#   randomization cascades down block by block (the table gives the measured values).
#   The maps depend on what the model learnt, not only on the image's edges.
