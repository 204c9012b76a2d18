"""Mail out: RFC 5322 messages built safely, signed Message-IDs, SMTP delivery as retried jobs,
recorded in the mail log (`ticketry.mail.log`) (docs/architecture.md §4 "Mail out")."""
