"""Durable background jobs: the JobQueue port, the db:// queue and the worker loop."""
