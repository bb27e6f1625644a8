"""Blob storage: the BlobStore port and its backends (local disk, memory, S3)."""
