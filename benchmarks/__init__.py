"""Speed measurements of medcnn, each against a baseline measured in the same run."""
