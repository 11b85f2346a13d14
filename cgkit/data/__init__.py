"""cgkit.data (under construction)."""
