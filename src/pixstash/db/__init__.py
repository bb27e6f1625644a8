"""Metadata: SQLAlchemy models, the MetadataStore port and its SQL implementation."""
