"""cgkit.cgmp (under construction)."""
