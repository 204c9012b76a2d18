"""Messages on tickets: public replies and internal notes, who may read them
(`readable_messages`), and posting them. May import ticketry.tickets and below."""
