"""cgkit.sampling (under construction)."""
