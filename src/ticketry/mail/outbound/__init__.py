"""Mail out: RFC 5322 messages built safely, signed Message-IDs, SMTP delivery as retried jobs,
and the log of every mail sent (DESIGN.md §4 "Mail out")."""
