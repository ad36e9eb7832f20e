"""Benchmarks (``make bench``); ``bench.settings`` and ``bench.urls`` serve them."""
