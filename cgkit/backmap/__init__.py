"""cgkit.backmap (under construction)."""
