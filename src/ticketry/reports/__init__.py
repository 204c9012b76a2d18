"""Metrics over the tickets an actor may see: counts, response and resolution times, trends,
agent workload. May import ticketry.search and below."""
