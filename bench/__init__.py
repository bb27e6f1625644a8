"""pixstash benchmark harness (``make bench`` = ``python -m bench``).

Not a test: it starts pixstash, a bare ASGI floor app and nginx on free 127.0.0.1 ports,
drives them with wrk side by side in one run and reports ratios (absolute numbers depend
on the machine and on whatever else shares its cores). Results go to ``bench/out/``.
"""
