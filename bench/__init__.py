"""Benchmarks of livepeer-webhooks (issue 6): `python -m bench` or `make bench`; see README.md.

Not part of `make test`: it starts its own Redis and servers and takes minutes.
"""
