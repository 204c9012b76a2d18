"""The browser UI: customer portal (`/`), agent desk (`/desk`), admin (`/admin`).
Server-rendered Jinja2 with htmx fragments; routes parse, call one use case, render.
May import ticketry.http and every domain package; never ticketry.api."""
