"""Where Signal Server relies on another project's private internals, and nowhere else.

Each piece here overrides or reuses something its upstream does not promise to keep. It stays only
because `make bench` showed, in an interleaved A/B on a deployment the README recommends, that it buys
at least 10 % (figures in docs/performance.md), and each sits beside a contract test in
tests/infrastructure/ that fails when the upstream behaviour it relies on changes. Below every app:
it imports none of them.
"""
