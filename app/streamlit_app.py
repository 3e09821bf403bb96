"""Streamlit app: upload images, see what medcnn says about each.

Run with `streamlit run app/streamlit_app.py`. Thin on purpose: every answer comes from
`medcnn.inference.predictor`, like the CLI and the notebook widget.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from medcnn.config import CLASSES
from medcnn.imaging.errors import UnusableImageError
from medcnn.inference.predictor import predict
from medcnn.io import one_line
from medcnn.modeling.artifacts import ModelLoadError


def show(name: str, content: bytes) -> None:
    """One file: verdict, image, probabilities, Grad-CAM and warnings, or one error line."""
    try:
        prediction = predict(content, name)
    except (UnusableImageError, ModelLoadError) as error:
        st.error(f"{name}: {error}")
        return
    except Exception as error:  # a user must never get a traceback
        st.error(f"{name}: could not be classified ({one_line(str(error))})")
        return
    st.subheader(f"{name}: {prediction.summary()}")
    image, bars, heatmap = st.columns(3)
    image.image(prediction.pixels, caption="what the model sees", clamp=True)
    probabilities = pd.DataFrame({"probability": prediction.probabilities}).loc[list(CLASSES)]
    bars.bar_chart(probabilities, y="probability", horizontal=True)
    if prediction.overlay is not None:
        heatmap.image(prediction.overlay, caption=f"Grad-CAM for {prediction.top_class}")
    for warning in prediction.warnings:
        st.warning(warning)


st.title("medcnn: brain, lung or other?")
st.caption("A research demo, not a medical device. Files are processed in memory only.")
uploads = st.file_uploader(
    "Images (PNG, JPEG, BMP, TIFF, GIF, WebP or DICOM)", accept_multiple_files=True
)
for upload in uploads or []:
    show(upload.name, upload.getvalue())
