"""Training pieces: recipes (what to train), fitting, scores and the figures that compare runs."""
