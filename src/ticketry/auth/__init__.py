"""Who may do what: permissions, role bundles, the Actor, passwords, API tokens, web sessions
and login throttling. May import ticketry.users, ticketry.jobs and ticketry.core."""
