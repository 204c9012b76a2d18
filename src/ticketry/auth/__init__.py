"""Who may do what: permissions, role bundles, the Actor, passwords, API tokens, web sessions,
login throttling, and account mail (password reset, e-mail verification). May import
ticketry.users, ticketry.mail.outbound, ticketry.jobs and ticketry.core."""
