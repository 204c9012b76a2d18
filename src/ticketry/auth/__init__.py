"""Who may do what: permissions, role bundles, the Actor, passwords, API tokens (with scopes and
expiry), web sessions, login throttling, revoking credentials, sign-up (`auth.signup`), and
account mail (password reset, e-mail verification, sign-up links). May import ticketry.users,
ticketry.mail.outbound, ticketry.jobs and ticketry.core."""
