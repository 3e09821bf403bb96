"""The data layer: sources → fetch → build (decode, dedup, split) → manifest → tf.data loader."""
