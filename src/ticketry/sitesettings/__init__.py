"""Site settings an admin changes at runtime (ticket number prefix, customer sign-up), stored in
one row over the defaults from the environment (`core.config`).
May import ticketry.auth and below; ticketry.tickets and above read it."""
