"""Single source of the cgkit version (read by packaging and written into every file)."""

__version__ = "0.1.0"
