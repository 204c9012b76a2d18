"""Ticketry: a self-hosted helpdesk. See docs/product.md for the product and
docs/architecture.md for the layers."""

__version__ = "0.1.0"
