"""HTTP plumbing shared by the API and the web UI: the per-request unit of work, the Actor
behind a bearer token or a session cookie, paging. May import every domain package; imported
by ticketry.api and ticketry.web only."""
