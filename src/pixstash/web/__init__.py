"""HTTP: the FastAPI app, its API routes, pages and media delivery. Nothing imports web."""
