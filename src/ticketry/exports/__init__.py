"""Exports of the desk's lists and tickets: CSV (streamed) and PDF (with the optional extra)."""
