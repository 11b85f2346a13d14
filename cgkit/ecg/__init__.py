"""cgkit.ecg (under construction)."""
