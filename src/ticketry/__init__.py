"""Ticketry: a self-hosted helpdesk. See SPEC.md for the product and DESIGN.md for the layers."""

__version__ = "0.1.0"
