"""Telemetry: metrics (``base`` is the port services record through, ``prometheus`` the
metric objects, ``exposition`` the ``/metrics`` text across processes) and structured
logs with a request id (``context``, ``logs``).

It imports nothing else of pixstash, so every layer may use the port and the context.
"""
