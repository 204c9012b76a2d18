"""Reading mail and talking IMAP, independent of everything else in Ticketry: MIME structure
and transfer encodings (`parse`, `decode`), senders and addresses (`senders`), undeclared header
charsets (`headercharset`), forwarded messages, uuencoded blocks and winmail.dat (`forwarded`,
`uuencoded`, `tnef`), HTML to safe HTML and to text (`htmlbody`, `htmlbounds`), quoted history
(`quotes`), delivery reports (`bounces`), and an IMAP client with hard deadlines (`imap`,
`imapwire`). Every stage is bounded in size and CPU time.

It imports no `ticketry` package (import-linter holds this): what it returns is plain data
(`ParsedMail`), and `ticketry.mail.inbound` decides what that data means for tickets."""
