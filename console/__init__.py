"""Crisis console: a local operation store for joint emergency operations that
syncs between agencies' consoles and merges their changes deterministically."""

__version__ = "0.1.0"
