"""E-mail: mail out (`outbound`), and later mail in."""
