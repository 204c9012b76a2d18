"""Which address a mail is from (docs/product.md §4, mail in: the sender finds or becomes the customer),
chosen as the stdlib's `email` parser and mail clients read a header section that bends the
rules. Pure; used by `parse` and by the mail log's columns (`receive`).

- The first From header with a usable address: RFC 5322 allows one From header, a second is a
  defect, and the first is the one mail clients show.
- Of a From that names several authors (RFC 5322 §3.6.2: then a Sender header names the one who
  sent it), the Sender when it is one of those authors, else the first author. A Sender that is
  none of them is not taken: the mail's identity stays one the reader sees in its From.
- Without a usable From, the Sender, then the first Reply-To. Reply-To never outranks a usable
  From or Sender: anyone may name any reply address, and identity (issue 12, `identity`,
  `admission`) rests on the From a trusted server checked.

Every step away from one plain From is said in a sentence for the mail log (`problems`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ticketry.mailparse.addresses import read_addresses
from ticketry.mailparse.decode import HeaderSection


@dataclass(frozen=True)
class Sender:
    name: str = ""
    address: str = ""  # lower-case addr-spec; "" when the mail names no one usable
    problems: tuple[str, ...] = ()


def choose_sender(section: HeaderSection) -> Sender:
    """The sender of the mail whose top header section is `section`."""
    problems: list[str] = []
    froms = section.get_all("from")
    authors = _first_usable(froms, problems)
    if authors:
        if len(froms) > 1:
            problems.append(
                f"The mail has {len(froms)} From headers; the first with a usable address was taken"
            )
        chosen = authors[0]
        if len(authors) > 1:
            chosen = _among_authors(section, authors, problems)
        return Sender(chosen[0], chosen[1], tuple(problems))
    for header, label in (("sender", "Sender"), ("reply-to", "Reply-To")):
        found = _first_usable(section.get_all(header), problems)
        if found:
            missing = "no usable From address" if froms else "no From header"
            problems.append(
                f"The mail has {missing}; the sender {found[0][1]} was taken from its {label} header"
            )
            return Sender(found[0][0], found[0][1], tuple(problems))
    return Sender(problems=tuple(problems))


def _first_usable(values: list[str], problems: list[str]) -> list[tuple[str, str]]:
    """The addresses of the first header value that has any; why any address before them that
    looked like one was refused."""
    for value in values:
        found, refused = read_addresses(value)
        problems.extend(refused)
        if found:
            return found
    return []


def _among_authors(
    section: HeaderSection, authors: list[tuple[str, str]], problems: list[str]
) -> tuple[str, str]:
    sender = next(iter(_first_usable(section.get_all("sender"), [])), ("", ""))[1]
    named = next((author for author in authors if author[1] == sender), None)
    if named is not None:
        problems.append(
            f"The From header names {len(authors)} addresses; {named[1]}, which its Sender header names, "
            "was taken as the sender"
        )
        return named
    problems.append(
        f"The From header names {len(authors)} addresses; the first, {authors[0][1]}, was taken as the sender"
    )
    return authors[0]
