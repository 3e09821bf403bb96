"""The upload cell of notebook 05: drop files, see what the model says about each.

Per image: the image as the model sees it, the class probabilities as bars, the Grad-CAM
overlay and any warning. Per study (a NIfTI file, a zip of DICOM, DICOM files of one series
uploaded together): the verdict, bars, the Grad-CAM of the slice that most supports it and
the strip of used slices with their verdicts. A file that cannot be classified gets one line
saying why. Every answer comes from `medcnn.inference`, as for the CLI and the Streamlit app.
"""

from __future__ import annotations

import html
import io
import os
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from PIL import Image

from medcnn.config import CLASSES
from medcnn.presentation.figures import CLASS_COLORS

IMAGE_WIDTH = "192px"
THUMB_WIDTH = "96px"


VOILA_VARIABLES = ("VOILA_KERNEL_ID", "VOILA_SERVER_URL")
STATIC_NOTE = (
    "On the static book page the button does nothing (there is no Python behind it): open "
    "the notebook live with the launch buttons at the top of the page, or run `make serve` "
    "for the web app."
)


def live_in_voila() -> bool:
    """True in a kernel started by Voilà (`make serve`), which sets its VOILA_* variables."""
    return any(name in os.environ for name in VOILA_VARIABLES)


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def probability_bars(probabilities: dict[str, float]) -> widgets.VBox:
    """One labelled bar per class, in the class colours of every figure of the book."""
    rows = []
    for name in CLASSES:
        share = probabilities[name]
        bar = widgets.FloatProgress(
            value=share,
            min=0.0,
            max=1.0,
            description=name,
            style={"bar_color": CLASS_COLORS[name]},
            layout={"width": "260px"},
        )
        rows.append(widgets.HBox([bar, widgets.Label(f"{share:.1%}")]))
    return widgets.VBox(rows)


def figure(pixels: np.ndarray, caption: str) -> widgets.VBox:
    image = widgets.Image(value=png_bytes(pixels), format="png", layout={"width": IMAGE_WIDTH})
    return widgets.VBox([image, widgets.Label(caption)])


def error_line(name: str, message: str) -> widgets.HTML:
    """A file that could not be classified: its name and one line, never a traceback."""
    return widgets.HTML(
        f'<p style="color:#b00020"><b>{html.escape(name)}</b>: {html.escape(message)}</p>'
    )


def result_view(prediction) -> widgets.VBox:
    """Verdict, image, bars, overlay and warnings of one `Prediction`."""
    title = widgets.HTML(
        f"<h4>{html.escape(prediction.name)}: {html.escape(prediction.summary())}</h4>"
    )
    panels = [
        figure(prediction.pixels, "what the model sees"),
        probability_bars(prediction.probabilities),
    ]
    if prediction.overlay is not None:
        panels.append(figure(prediction.overlay, f"Grad-CAM for {prediction.top_class}"))
    notes = "".join(f"<li>⚠ {html.escape(w)}</li>" for w in prediction.warnings)
    warnings = widgets.HTML(f'<ul style="color:#8a5a00">{notes}</ul>' if notes else "")
    return widgets.VBox([title, widgets.HBox(panels), warnings])


def study_view(study) -> widgets.VBox:
    """Verdict, bars, the Grad-CAM of the most supporting slice, the strip of used slices
    with their verdicts, and warnings of one `StudyPrediction`."""
    title = widgets.HTML(f"<h4>{html.escape(study.name)}: {html.escape(study.summary())}</h4>")
    panels = [probability_bars(study.probabilities)]
    if study.overlay is not None:
        caption = f"Grad-CAM for {study.top_class}, slice {study.explained_slice}"
        panels.append(figure(study.overlay, caption))
    strip = widgets.GridBox(
        [
            thumbnail(pixels, f"{s.index}: {'?' if s.unsure else ''}{s.top_class}")
            for pixels, s in zip(study.pixels, study.slices, strict=True)
        ],
        layout={"grid_template_columns": f"repeat(auto-fill, {THUMB_WIDTH})"},
    )
    notes = "".join(f"<li>⚠ {html.escape(w)}</li>" for w in study.warnings)
    warnings = widgets.HTML(f'<ul style="color:#8a5a00">{notes}</ul>' if notes else "")
    return widgets.VBox([title, widgets.HBox(panels), strip, warnings])


def thumbnail(pixels: np.ndarray, caption: str) -> widgets.VBox:
    image = widgets.Image(value=png_bytes(pixels), format="png", layout={"width": THUMB_WIDTH})
    return widgets.VBox([image, widgets.Label(caption)])


class PredictionWidget:
    """A FileUpload (several files at once) and, below it, one result per image or study.

    DICOM files of one series uploaded together are answered as one study.
    """

    def __init__(self, model_path: Path | str | None = None) -> None:
        self.model_path = model_path
        self.upload = widgets.FileUpload(multiple=True, description="Upload images")
        self.results = widgets.VBox()
        self.view = widgets.VBox([self.upload, self.results])
        self.upload.observe(self.on_upload, names="value")

    def _repr_mimebundle_(self, **kwargs):
        return self.view._repr_mimebundle_(**kwargs)

    def on_upload(self, change: dict) -> None:
        from medcnn.inference.study import StudyPrediction, predict_uploads

        files = [(u.get("name") or "upload", bytes(u["content"])) for u in change["new"]]
        views = []
        for name, answers in predict_uploads(files, self.model_path):
            if isinstance(answers, str):
                views.append(error_line(name, answers))
                continue
            views += [
                study_view(a) if isinstance(a, StudyPrediction) else result_view(a) for a in answers
            ]
        self.results.children = views
