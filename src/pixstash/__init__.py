"""pixstash: a self-hostable image upload and sharing service."""

__version__ = "0.1.0"
