"""The one prediction path from a file to a verdict, and the rules for saying "unsure"."""
