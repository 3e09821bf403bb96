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
# Upload one or more images and the release model says, for each, whether it shows a
# brain, a lung or something other, with the probabilities, a Grad-CAM heatmap of
# where it looked, and a warning when the file is unusable or the model is unsure.
#
# **Needs:** the release model `models/medcnn.keras`, committed with the project; the
# worked example further down also needs the built dataset (`make data`).
# **Takes:** a second to start; a fraction of a second per image on a laptop CPU.
#
# The same `medcnn.inference.predictor` answers here, in the web app (`make serve`, the page
# without the code), in the Streamlit app (`make app`) and on the command line
# (`medcnn predict FILE...`). It reads PNG, JPEG, BMP, TIFF (16-bit too), GIF,
# WebP and DICOM, and applies exactly the preprocessing the model was trained with.

# %%
import os

import matplotlib.pyplot as plt

from medcnn.config import raw_dir
from medcnn.data.manifest import read_manifest
from medcnn.imaging.errors import UnusableImageError
from medcnn.inference.predictor import predict
from medcnn.modeling.artifacts import read_card, release_model_path
from medcnn.presentation.figures import plot_prediction
from medcnn.ui.widget import PredictionWidget

MODEL = os.environ.get("MEDCNN_MODEL", str(release_model_path()))
card = read_card(MODEL)
print(f"model {card['name']}, trained {card['date'][:10]}, classes {card['classes']}")

# %% [markdown]
# ## Upload your images
#
# Click **Upload images** and choose one or several files. On this static page the
# button does nothing (there is no Python behind it): open the notebook live with the
# launch buttons at the top of the page, or run `make serve` for the web app.

# %%
PredictionWidget(MODEL)

# %% [markdown]
# ## A worked example
#
# What the upload cell shows, for three test images the model never trained on, one
# per class, and for a photograph from the external split:

# %%
manifest = read_manifest()
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
# ## When the file is not usable
#
# A file that is not an image, is damaged, or is too large gets one line saying why,
# never a traceback. Here, the first bytes of a JPEG and then nothing:

# %%
truncated = (raw / examples[0]["path"]).read_bytes()[:300]
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
# - The answer comes with its doubt: a top probability below the threshold, or an
#   image unlike the training data, is reported as *unsure* with the best guess,
#   rather than as a confident class.
# - Unusable files get one clear line: the cell and the apps never crash.
