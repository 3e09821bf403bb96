"""Training: recipes (what to train), fitting, a whole run with its card, held-out-source folds."""
