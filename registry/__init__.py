"""Profile Registry: profiles for AI chat apps, grouped in registries."""

__version__ = "0.1.0"
