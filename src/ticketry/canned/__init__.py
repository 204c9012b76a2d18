"""Canned replies: saved answers agents insert into the composer (docs/product.md §3)."""
