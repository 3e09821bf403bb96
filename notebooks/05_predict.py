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
# # 5. Classify your own image
#
# ## Overview
#
# Upload one or more images, or a whole study, and the release model says whether it shows
# a brain, a lung or something other, with the probabilities, a Grad-CAM heatmap of where it
# looked, and a warning when the file is unusable or the model is unsure.
#
# **Needs:** the release model `models/medcnn.keras`, committed with the project; the
# worked examples further down also need the built dataset (`make data`) and are skipped,
# with a note, without it.
# **Takes:** a second to start; a fraction of a second per image, about a second per
# 100-slice volume, on a laptop CPU.
#
# The same `medcnn.inference` answers here, in the web app (`make serve`, the page without
# the code), in the Streamlit app (`make app`) and on the command line
# (`medcnn predict PATH...`). It reads PNG, JPEG, JPEG 2000, BMP, TIFF (16-bit too), GIF,
# WebP and DICOM images, and studies: NIfTI volumes (`.nii`, `.nii.gz`), multi-frame DICOM,
# multi-page TIFF, and DICOM series as a zip, a folder, or several `.dcm` files uploaded
# together. Images meet exactly the preprocessing the model was trained with.

# %%
import io
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
from IPython.display import Markdown, display
from PIL import Image

from medcnn.config import raw_dir
from medcnn.data.manifest import ManifestError, read_manifest, read_pixels
from medcnn.imaging.errors import UnusableImageError
from medcnn.inference.predictor import predict
from medcnn.inference.study import predict_path
from medcnn.modeling.artifacts import read_card, release_model_path
from medcnn.presentation.figures import plot_prediction
from medcnn.presentation.studies import plot_study
from medcnn.ui.widget import STATIC_NOTE, PredictionWidget, live_in_voila

MODEL = os.environ.get("MEDCNN_MODEL", str(release_model_path()))
card = read_card(MODEL)
print(f"model {card['name']}, trained {card['date'][:10]}, classes {card['classes']}")

# %% [markdown]
# ## Upload your images
#
# Click **Upload images** and choose one or several files: images, a `.nii.gz`, a `.zip` of
# a DICOM series, or the `.dcm` files of one series at once.

# %%
PredictionWidget(MODEL)

# %%
if not live_in_voila():
    display(Markdown(STATIC_NOTE))

# %% [markdown]
# ## A worked example
#
# What the upload cell shows, for three test images the model never trained on, one
# per class, and for a photograph from the external split:

# %%
try:
    manifest = read_manifest()
except ManifestError as error:
    manifest = None
    print(f"Worked examples skipped: they need the built dataset (`make data`). {error}")
if manifest is not None:
    raw = raw_dir()
    examples = [
        manifest[(manifest["split"] == "test") & (manifest["label"] == label)].iloc[0]
        for label in ("brain", "lung", "other")
    ] + [manifest[(manifest["split"] == "external") & (manifest["modality"] == "photo")].iloc[0]]
    for row in examples:
        prediction = predict(raw / row["path"], row["path"].rsplit("/", 1)[-1], MODEL)
        plot_prediction(prediction, truth=row["label"])
        plt.show()

# %% [markdown]
# ## A worked volume example
#
# A study is answered as a whole. Here 24 held-out brain MRI slices of one test source are
# stacked into a NIfTI volume, as a scanner export would hold them (voxel axes right, anterior,
# superior). medcnn lays the slices out from the volume's affine, drops near-empty ones,
# classifies every k-th of the rest (at most 32) in one batch, and averages their
# probabilities; the study is asserted only when most used slices are sure and agree. Below:
# the verdict, the Grad-CAM of the slice that most supports it, and every used slice with its
# own verdict ("?" marks a slice the model is unsure about).

# %%
if manifest is not None:
    brain_mri = manifest[
        (manifest["split"] == "test")
        & (manifest["label"] == "brain")
        & (manifest["modality"] == "MRI")
    ]
    source = brain_mri["source"].value_counts().index[0]
    rows = brain_mri[brain_mri["source"] == source].sort_values("path").head(24)
    pixels = read_pixels()
    slices = np.stack([pixels[i] for i in rows.index]).astype(np.int16)
    voxels = np.ascontiguousarray(np.transpose(slices, (2, 1, 0))[::-1, ::-1, :])
    volume_path = Path(tempfile.mkdtemp()) / "brain_study.nii.gz"
    nib.save(nib.Nifti1Image(voxels, np.eye(4)), volume_path)
    (study,) = predict_path(volume_path, MODEL)
    plot_study(study, truth="brain")
    plt.show()

# %% [markdown]
# ## When the file is not usable
#
# A file that is not an image, is damaged, or is too large gets one line saying why,
# never a traceback. Here, the first bytes of a JPEG and then nothing:

# %%
buffer = io.BytesIO()
Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (256, 1))).save(buffer, "JPEG")
truncated = buffer.getvalue()[:1000]
try:
    predict(truncated, "truncated.jpg", MODEL)
except UnusableImageError as error:
    print(f"truncated.jpg: {error}")

# %% [markdown]
# ## What we learned
#
# - One prediction path serves the notebook, the web app, the Streamlit app and the
#   command line, with the training preprocessing, so an image is never seen
#   differently by the model at prediction time than at training time.
# - A volume gets one answer from the slices that carry it, judged by the same rules as
#   single images, with the slices it used shown beside it.
# - The answer comes with its doubt: a top probability below the threshold, or an
#   image unlike the training data, is reported as *unsure* with the best guess,
#   rather than as a confident class.
# - Unusable files get one clear line: the cell and the apps never crash.
