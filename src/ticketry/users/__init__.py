"""People: users (customers, agents, admins), organizations, departments and memberships.
May import ticketry.core and ticketry.jobs."""
