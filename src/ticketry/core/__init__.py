"""Foundations every package may use: configuration, database, clock, errors, schema base,
pagination and text sanitizing. Imports nothing else from Ticketry."""
