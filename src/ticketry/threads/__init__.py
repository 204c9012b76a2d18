"""Merging duplicate tickets, undoing a merge exactly, and splitting messages off into a new
ticket (docs/product.md §3, issue 6 part 6).

Sits beside search, notifications and mail.inbound: it may import messages, tickets, history,
attachments, jobs and below, never its siblings. Side effects (the customer's mail) go through the
`tickets.merged` job, handled in `notifications.tasks`.
"""
