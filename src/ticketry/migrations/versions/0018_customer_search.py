"""customer search: a customer's words are looked up among that customer's documents only

On PostgreSQL a customer searching their own tickets found a word's matches among everyone's
public documents, then kept their own: a word in 2 % of a million tickets meant 20,000 matches
read for the few of theirs (15 ms), or walking all of their tickets testing each document. The
public documents now carry their ticket's customer, and one GIN index holds both (`btree_gin`,
shipped with PostgreSQL and trusted: the database's owner may create it), so the index itself
intersects "this customer" with the words. That index serves searches without a customer too,
and replaces the index on the public document alone. The triggers keep the customer current
when a ticket changes hands. SQLite's full-text tables are unchanged: a customer's search there
walks their own tickets (docs/architecture.md, "Search").

At a million tickets the upgrade fills the column and builds the index in six minutes (two cores),
holding a lock on `search_documents` (searches wait; writes to tickets and messages too).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE EXTENSION IF NOT EXISTS btree_gin;

ALTER TABLE search_documents ADD COLUMN customer_id integer;
UPDATE search_documents d SET customer_id = t.customer_id FROM tickets t WHERE t.id = d.ticket_id;
ALTER TABLE search_documents ALTER COLUMN customer_id SET NOT NULL;

CREATE OR REPLACE FUNCTION search_documents_build(first_id integer, last_id integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO search_documents (ticket_id, customer_id, public_document, staff_document)
    SELECT t.id, t.customer_id, d.public_document, d.public_document || d.notes
    FROM tickets t
    LEFT JOIN LATERAL (
        SELECT string_agg(body, ' ' ORDER BY id) FILTER (WHERE NOT is_internal) AS public_text,
               string_agg(body, ' ' ORDER BY id) FILTER (WHERE is_internal) AS notes_text
        FROM messages WHERE ticket_id = t.id AND deleted_at IS NULL
    ) m ON true
    CROSS JOIN LATERAL (
        SELECT to_tsvector('english', concat_ws(' ', t.number, t.title, t.description, m.public_text))
                   AS public_document,
               to_tsvector('english', coalesce(m.notes_text, '')) AS notes
    ) d
    WHERE t.id BETWEEN first_id AND last_id
    ON CONFLICT (ticket_id) DO UPDATE
        SET customer_id = excluded.customer_id,
            public_document = excluded.public_document,
            staff_document = excluded.staff_document;
$$;

CREATE OR REPLACE FUNCTION search_documents_tickets_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_documents (ticket_id, customer_id, public_document, staff_document)
    SELECT id, customer_id, v, v FROM (
        SELECT id, customer_id, to_tsvector('english', concat_ws(' ', number, title, description)) AS v
        FROM new_rows
    ) n;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION search_documents_tickets_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_documents_refresh(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.number, n.title, n.description) IS DISTINCT FROM (o.number, o.title, o.description)
    ));
    UPDATE search_documents d SET customer_id = n.customer_id
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE d.ticket_id = n.id AND n.customer_id IS DISTINCT FROM o.customer_id
      AND d.customer_id IS DISTINCT FROM n.customer_id;
    RETURN NULL;
END;
$$;

CREATE INDEX ix_search_documents_customer_public ON search_documents
    USING gin (customer_id, public_document);
DROP INDEX ix_search_documents_public_document;
ANALYZE search_documents;
"""

DOWNGRADE = """
CREATE INDEX ix_search_documents_public_document ON search_documents USING gin (public_document);
DROP INDEX ix_search_documents_customer_public;

CREATE OR REPLACE FUNCTION search_documents_tickets_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_documents_refresh(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.number, n.title, n.description) IS DISTINCT FROM (o.number, o.title, o.description)
    ));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION search_documents_tickets_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_documents (ticket_id, public_document, staff_document)
    SELECT id, v, v FROM (
        SELECT id, to_tsvector('english', concat_ws(' ', number, title, description)) AS v FROM new_rows
    ) n;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION search_documents_build(first_id integer, last_id integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO search_documents (ticket_id, public_document, staff_document)
    SELECT t.id, d.public_document, d.public_document || d.notes
    FROM tickets t
    LEFT JOIN LATERAL (
        SELECT string_agg(body, ' ' ORDER BY id) FILTER (WHERE NOT is_internal) AS public_text,
               string_agg(body, ' ' ORDER BY id) FILTER (WHERE is_internal) AS notes_text
        FROM messages WHERE ticket_id = t.id AND deleted_at IS NULL
    ) m ON true
    CROSS JOIN LATERAL (
        SELECT to_tsvector('english', concat_ws(' ', t.number, t.title, t.description, m.public_text))
                   AS public_document,
               to_tsvector('english', coalesce(m.notes_text, '')) AS notes
    ) d
    WHERE t.id BETWEEN first_id AND last_id
    ON CONFLICT (ticket_id) DO UPDATE
        SET public_document = excluded.public_document, staff_document = excluded.staff_document;
$$;

ALTER TABLE search_documents DROP COLUMN customer_id;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DOWNGRADE)
