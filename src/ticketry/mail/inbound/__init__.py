"""Mail in (docs/product.md §4, docs/architecture.md §4 "Mail in"): mailboxes, the IMAP poller
and the inbound webhook store each raw message first; then parse (`ticketry.mailparse`) →
classify → thread → ingest through the ticket and message services, and log the outcome. May
import the domain packages below `search`, the outbound mail package (our own Message-IDs and
reply addresses), the mail log and core; never the web framework."""
