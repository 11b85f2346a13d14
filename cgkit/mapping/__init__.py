"""cgkit.mapping (under construction)."""
