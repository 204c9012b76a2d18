"""The mail log: every mail sent and received, its status, reason, problems and raw bytes. Read
and written by `mail.outbound` and `mail.inbound`; imports only `ticketry.core`."""
