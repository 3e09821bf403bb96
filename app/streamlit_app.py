"""Streamlit app: upload images or studies, see what medcnn says about each.

Run with `streamlit run app/streamlit_app.py`. Thin on purpose: every answer comes from
`medcnn.inference`, like the CLI and the notebook widget. DICOM files of one series uploaded
together are answered as one study, as are NIfTI files and zips of DICOM files.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from medcnn.config import CLASSES
from medcnn.inference.study import StudyPrediction, predict_uploads


def bars(column, probabilities: dict[str, float]) -> None:
    frame = pd.DataFrame({"probability": probabilities}).loc[list(CLASSES)]
    column.bar_chart(frame, y="probability", horizontal=True)


def show_image(prediction) -> None:
    """One image: verdict, image, probabilities, Grad-CAM and warnings."""
    st.subheader(f"{prediction.name}: {prediction.summary()}")
    image, chart, heatmap = st.columns(3)
    image.image(prediction.pixels, caption="what the model sees", clamp=True)
    bars(chart, prediction.probabilities)
    if prediction.overlay is not None:
        heatmap.image(prediction.overlay, caption=f"Grad-CAM for {prediction.top_class}")
    for warning in prediction.warnings:
        st.warning(warning)


def show_study(study: StudyPrediction) -> None:
    """One study: verdict, probabilities, the most supporting slice's Grad-CAM, the strip."""
    st.subheader(f"{study.name}: {study.summary()}")
    chart, heatmap = st.columns(2)
    bars(chart, study.probabilities)
    if study.overlay is not None:
        caption = f"Grad-CAM for {study.top_class}, slice {study.explained_slice}"
        heatmap.image(study.overlay, caption=caption)
    captions = [f"{s.index}: {'?' if s.unsure else ''}{s.top_class}" for s in study.slices]
    st.image(list(study.pixels), caption=captions, width=96, clamp=True)
    for warning in study.warnings:
        st.warning(warning)


st.title("medcnn: brain, lung or other?")
st.caption("A research demo, not a medical device. Files are processed in memory only.")
uploads = st.file_uploader(
    "Images (PNG, JPEG, JPEG 2000, BMP, TIFF, GIF, WebP, DICOM) or studies (NIfTI .nii/.nii.gz, "
    "a .zip of DICOM files, several .dcm files of one series)",
    accept_multiple_files=True,
)
for name, answers in predict_uploads([(u.name, u.getvalue()) for u in uploads or []]):
    if isinstance(answers, str):
        st.error(f"{name}: {answers}")
        continue
    for answer in answers:
        if isinstance(answer, StudyPrediction):
            show_study(answer)
        else:
            show_image(answer)
