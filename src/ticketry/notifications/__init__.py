"""Notification mail (docs/product.md §4 "E-mail out", issue 5 part 5): who hears about which ticket event,
each user's choices, and the per-audience templates. Reacts to the ticket and message events as
their job handlers, renders from the database at job time and hands finished mail to
`mail.outbound`. May import ticketry.messages and below, and Jinja2 (mail templates only)."""
