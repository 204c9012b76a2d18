"""Proofs that internal notes and staff-only fields never reach a customer (docs/architecture.md §7)."""
