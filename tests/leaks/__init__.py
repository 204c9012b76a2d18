"""Proofs that internal notes and staff-only fields never reach a customer (DESIGN.md §7)."""
