"""The upload cell of notebook 05: drop files, see what the model says about each.

Per file: the image as the model sees it, the class probabilities as bars, the Grad-CAM
overlay and any warning; a file that cannot be classified gets one line saying why. Every
answer comes from `medcnn.inference.predictor`, the path the CLI and the Streamlit app use.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from PIL import Image

from medcnn.config import CLASSES
from medcnn.presentation.figures import CLASS_COLORS

IMAGE_WIDTH = "192px"


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


class PredictionWidget:
    """A FileUpload (several files at once) and, below it, one result per uploaded file."""

    def __init__(self, model_path: Path | str | None = None) -> None:
        self.model_path = model_path
        self.upload = widgets.FileUpload(multiple=True, description="Upload images")
        self.results = widgets.VBox()
        self.view = widgets.VBox([self.upload, self.results])
        self.upload.observe(self.on_upload, names="value")

    def _repr_mimebundle_(self, **kwargs):
        return self.view._repr_mimebundle_(**kwargs)

    def on_upload(self, change: dict) -> None:
        self.results.children = [self.classify(upload) for upload in change["new"]]

    def classify(self, upload: dict) -> widgets.Widget:
        """The result view of one upload dict (`name`, `content`), or its one-line error."""
        from medcnn.imaging.errors import UnusableImageError
        from medcnn.inference.predictor import predict
        from medcnn.io import one_line
        from medcnn.modeling.artifacts import ModelLoadError

        name = upload.get("name") or "upload"
        try:
            prediction = predict(bytes(upload["content"]), name, self.model_path)
        except (UnusableImageError, ModelLoadError) as error:
            return error_line(name, str(error))
        except Exception as error:  # a notebook user must never get a traceback
            return error_line(name, f"could not be classified ({one_line(str(error))})")
        return result_view(prediction)
