"""Collections (dunning) models arrive with the dunning engine issue."""
