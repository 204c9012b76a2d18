"""Canned replies: saved answers agents insert into the composer (SPEC §3)."""
