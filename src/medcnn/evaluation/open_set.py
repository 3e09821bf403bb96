"""An open-set check: kinds of image no source contains, which must never be asserted brain or lung.

People upload documents, charts, screenshots, drawings, textures, microscopy and photos of a
screen showing a scan. None of these is in the training data, and no mirror source holds
them, so they are drawn here from a seed: the same set every run, kept out of training and
out of every choice of recipe or threshold. Each image goes through the canonical
preprocessing, as an upload would. A kind passes when none of its images is asserted
`brain` or `lung` (answered `other`, or "unsure", is right).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFilter

from medcnn.imaging.canonical import to_canonical

PER_KIND = 40
WORDS = [
    "patient",
    "report",
    "result",
    "normal",
    "findings",
    "history",
    "date",
    "signature",
    "page",
    "total",
    "invoice",
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "with",
    "on",
    "by",
    "this",
    "that",
    "protocol",
    "study",
    "figure",
    "table",
]


def _paper(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    shade = int(rng.integers(215, 256))
    return Image.new("L", size, shade)


def document(rng: np.random.Generator) -> Image.Image:
    """A page of text lines, sometimes with a ruled table."""
    width, height = int(rng.integers(300, 500)), int(rng.integers(380, 640))
    page = _paper(rng, (width, height))
    draw = ImageDraw.Draw(page)
    y = int(rng.integers(10, 40))
    while y < height - 20:
        words = " ".join(rng.choice(WORDS, int(rng.integers(3, 12))))
        draw.text((int(rng.integers(8, 40)), y), words, fill=int(rng.integers(0, 80)))
        y += int(rng.integers(12, 22))
        if rng.random() < 0.08:
            top = y
            for _ in range(int(rng.integers(3, 7))):
                draw.line((10, y, width - 10, y), fill=40)
                y += 16
            for x in np.linspace(10, width - 10, int(rng.integers(3, 6))):
                draw.line((x, top, x, y - 16), fill=40)
    return page


def chart(rng: np.random.Generator) -> Image.Image:
    """A line, bar or scatter chart with axes and labels, as a screenshot of a plot would be."""
    figure = Figure(figsize=(rng.uniform(3, 5), rng.uniform(2.5, 4)), dpi=60)
    axes = figure.subplots()
    x = np.arange(int(rng.integers(5, 30)))
    kind = rng.integers(3)
    if kind == 0:
        axes.plot(x, np.cumsum(rng.normal(size=len(x))), color="k")
    elif kind == 1:
        axes.bar(x, rng.uniform(1, 10, len(x)), color="0.4")
    else:
        axes.scatter(rng.normal(size=60), rng.normal(size=60), s=8, color="k")
    axes.set_xlabel("time")
    axes.set_ylabel("value")
    axes.set_title("measurements")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("L")


def screenshot(rng: np.random.Generator) -> Image.Image:
    """A window with a title bar, buttons, panels and text: a screenshot of an application."""
    width, height = int(rng.integers(320, 520)), int(rng.integers(220, 380))
    screen = Image.new("L", (width, height), int(rng.integers(200, 250)))
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, width, 24), fill=int(rng.integers(40, 120)))
    draw.text((8, 6), "medical viewer - settings", fill=255)
    for _ in range(int(rng.integers(3, 8))):
        left, top = int(rng.integers(5, width - 80)), int(rng.integers(30, height - 40))
        draw.rectangle(
            (left, top, left + int(rng.integers(40, 160)), top + int(rng.integers(16, 60))),
            outline=60,
            fill=int(rng.integers(150, 240)),
        )
        draw.text((left + 4, top + 3), " ".join(rng.choice(WORDS, 2)), fill=20)
    return screen


def drawing(rng: np.random.Generator) -> Image.Image:
    """Line art: circles, polygons and strokes on paper."""
    side = int(rng.integers(200, 400))
    paper = _paper(rng, (side, side))
    draw = ImageDraw.Draw(paper)
    for _ in range(int(rng.integers(4, 14))):
        points = rng.uniform(0, side, (int(rng.integers(2, 6)), 2))
        if rng.random() < 0.4:
            (x0, y0), (x1, y1) = np.sort(points[:2], axis=0)
            draw.ellipse((x0, y0, x1 + 5, y1 + 5), outline=0, width=int(rng.integers(1, 4)))
        else:
            draw.line([tuple(p) for p in points], fill=0, width=int(rng.integers(1, 5)))
    return paper


def texture(rng: np.random.Generator) -> Image.Image:
    """Smoothed noise, stripes or a checkerboard: fabric, wood, tiles."""
    side = int(rng.integers(128, 300))
    kind = rng.integers(3)
    if kind == 0:
        noise = Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8))
        return noise.filter(ImageFilter.GaussianBlur(float(rng.uniform(1, 6))))
    grid = np.indices((side, side)).sum(axis=0) if kind == 1 else np.indices((side, side))[0]
    period = float(rng.uniform(6, 30))
    values = 127 + 100 * np.sin(2 * np.pi * grid / period + rng.uniform(0, 6))
    if kind == 1:
        values = np.where(((np.indices((side, side)) // int(period)).sum(axis=0)) % 2, 220, 40)
    noisy = values + rng.normal(0, 10, values.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def microscopy(rng: np.random.Generator) -> Image.Image:
    """Cells: dark, textured ellipses with nuclei on a bright field."""
    side = int(rng.integers(200, 360))
    field = Image.new("L", (side, side), int(rng.integers(190, 245)))
    draw = ImageDraw.Draw(field)
    for _ in range(int(rng.integers(15, 60))):
        x, y = rng.uniform(0, side, 2)
        r = float(rng.uniform(6, 20))
        draw.ellipse((x - r, y - r * 0.8, x + r, y + r * 0.8), fill=int(rng.integers(90, 170)))
        draw.ellipse((x - r / 3, y - r / 3, x + r / 3, y + r / 3), fill=int(rng.integers(20, 80)))
    return field.filter(ImageFilter.GaussianBlur(1.0))


def screen_photo(rng: np.random.Generator, scan: np.ndarray) -> Image.Image:
    """A photograph of a monitor showing `scan`: bezel, room, tilt, glare and moiré."""
    width, height = 320, 260
    room = np.full((height, width), float(rng.integers(60, 160)))
    room += np.linspace(0, float(rng.uniform(-40, 40)), width)[None]
    photo = Image.fromarray(np.clip(room, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(photo)
    draw.rectangle((40, 30, 280, 230), fill=int(rng.integers(10, 40)))
    shown = Image.fromarray(scan).resize((180, 180))
    photo.paste(shown, (70, 40))
    pixels = np.asarray(photo, np.float64)
    rows = np.arange(height)[:, None]
    pixels += 12 * np.sin(rows / float(rng.uniform(1.5, 3.0)))  # moiré of the screen's pixels
    pixels += 60 * np.exp(-((np.arange(width)[None] - rng.uniform(60, 260)) ** 2) / 800)  # glare
    tilted = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return tilted.rotate(float(rng.uniform(-12, 12)), fillcolor=int(rng.integers(60, 160)))


KINDS = {
    "document": document,
    "chart": chart,
    "screenshot": screenshot,
    "drawing": drawing,
    "texture": texture,
    "microscopy": microscopy,
}
"""The generated kinds; `screen photo` (a scan shown on a monitor) is added by `open_set`."""


def open_set(scans: np.ndarray, per_kind: int = PER_KIND, seed: int = 0) -> tuple:
    """Canonical pixels (N, S, S) and their kinds (N,): `per_kind` images of each kind.

    `scans` are canonical images (brain or lung) shown on the monitor of the screen photos;
    pass test-split images, never training ones.
    """
    rng = np.random.default_rng(seed)
    pixels, kinds = [], []
    for kind, make in KINDS.items():
        for _ in range(per_kind):
            pixels.append(to_canonical(make(rng)))
            kinds.append(kind)
    for index in rng.choice(len(scans), per_kind, replace=len(scans) < per_kind):
        pixels.append(to_canonical(screen_photo(rng, np.asarray(scans[index]).squeeze())))
        kinds.append("screen photo")
    return np.stack(pixels), np.asarray(kinds)


def open_set_table(verdict: pd.DataFrame, kinds: np.ndarray) -> pd.DataFrame:
    """Per kind: images, answered other, unsure, and asserted brain or lung (the failures).

    `verdict` is one row per image as `UnsureRule.judge` gives it.
    """
    frame = verdict.assign(kind=kinds)
    asserted = ~frame["unsure"]
    frame["answered other"] = asserted & (frame["top_class"] == "other")
    frame["asserted brain or lung"] = asserted & (frame["top_class"] != "other")
    table = frame.groupby("kind", sort=False).agg(
        images=("unsure", "size"),
        other=("answered other", "sum"),
        unsure=("unsure", "sum"),
        asserted_brain_or_lung=("asserted brain or lung", "sum"),
    )
    table.loc["all"] = table.sum()
    return table
