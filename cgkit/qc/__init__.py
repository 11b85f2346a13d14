"""cgkit.qc (under construction)."""
