"""The union catalog: every harvested record, deduplicated into clusters, searchable."""
