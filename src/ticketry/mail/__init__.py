"""E-mail: mail out (`outbound`), mail in (`inbound`), and the log of both (`log`). Reading a
mail's bytes (MIME, headers, addresses, HTML, quotes, delivery reports) and talking IMAP is the
separate package `ticketry.mailparse`, which knows nothing of tickets."""
