"""Image processing: validation by content and rendering of variants."""
