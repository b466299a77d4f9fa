"""libfed's federation room: records, the union catalog, the coordinator and the CLI."""

__version__ = "0.1.0"
