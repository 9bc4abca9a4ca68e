"""`profile-registry bench`: throughput and latency of the served app (README "Performance").

Seeds a store, serves it with `profile-registry serve` (gunicorn gthread workers) in a
subprocess, and drives load from separate processes (`python -m registry.bench drive`) over
keep-alive HTTP/1.1 connections, one `http.client.HTTPConnection` per client thread. Each
endpoint runs for a fixed time after a warm-up; requests/s and p50/p99 latency are reported
with the ratio to `GET /-/hello` measured the same way in the same run, so results compare
across machines. Speed is judged by reading this output, never by a test.

Modules: `seed` (seed plan, seeded store, import document), `endpoints` (what is measured and
its targets), `drive` (the load driver processes), `measure` (probes and timed rounds),
`report` (figures, pass/miss, table), `server` (a server subprocess, shared with the tests),
`command` (`profile-registry bench`). This package imports nothing itself, so the driver
processes (`python -m registry.bench drive`) load only `drive`, which uses the standard
library alone.
"""
