"""search documents: one full-text document per ticket (public and staff)

A search reads one index on one table: each ticket's number, title, description and messages in
one document for customers (public messages) and one for staff (notes too), never-deleted
messages only. It replaces the per-ticket and per-message indexes, which made a common word read
every matching message before a page of 25 tickets could be cut (issue 13).

The database keeps the documents current in the writer's transaction: statement triggers with
transition tables on PostgreSQL (a merge moving 500 messages refreshes each ticket once), row
triggers on SQLite, where the FTS5 table takes its text from a view and is told the old text
before a change (external content).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# --- PostgreSQL ----------------------------------------------------------------------------------

POSTGRES = """
CREATE TABLE search_documents (
    ticket_id integer PRIMARY KEY
        CONSTRAINT fk_search_documents_ticket_id_tickets REFERENCES tickets (id) ON DELETE CASCADE,
    public_document tsvector NOT NULL,
    staff_document tsvector NOT NULL
);

CREATE FUNCTION search_documents_build(first_id integer, last_id integer) RETURNS void
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

CREATE FUNCTION search_documents_refresh(ids integer[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    one integer;
BEGIN
    FOREACH one IN ARRAY ids LOOP
        PERFORM search_documents_build(one, one);
    END LOOP;
END;
$$;

CREATE FUNCTION search_documents_tickets_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_documents (ticket_id, public_document, staff_document)
    SELECT id, v, v FROM (
        SELECT id, to_tsvector('english', concat_ws(' ', number, title, description)) AS v FROM new_rows
    ) n;
    RETURN NULL;
END;
$$;

CREATE FUNCTION search_documents_tickets_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_documents_refresh(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.number, n.title, n.description) IS DISTINCT FROM (o.number, o.title, o.description)
    ));
    RETURN NULL;
END;
$$;

CREATE FUNCTION search_documents_messages_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_documents d
    SET public_document = d.public_document || n.public_part,
        staff_document = d.staff_document || n.staff_part
    FROM (
        SELECT ticket_id,
               to_tsvector('english', coalesce(string_agg(body, ' ' ORDER BY id)
                   FILTER (WHERE NOT is_internal), '')) AS public_part,
               to_tsvector('english', string_agg(body, ' ' ORDER BY id)) AS staff_part
        FROM new_rows WHERE deleted_at IS NULL GROUP BY ticket_id
    ) n
    WHERE d.ticket_id = n.ticket_id;
    RETURN NULL;
END;
$$;

CREATE FUNCTION search_documents_messages_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_documents_refresh(ARRAY(
        SELECT DISTINCT unnest(ARRAY[o.ticket_id, n.ticket_id])
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.ticket_id, n.body, n.is_internal, n.deleted_at)
              IS DISTINCT FROM (o.ticket_id, o.body, o.is_internal, o.deleted_at)
    ));
    RETURN NULL;
END;
$$;

CREATE FUNCTION search_documents_messages_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_documents_refresh(ARRAY(SELECT DISTINCT ticket_id FROM old_rows));
    RETURN NULL;
END;
$$;

CREATE TRIGGER search_documents_tickets_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_tickets_inserted();
CREATE TRIGGER search_documents_tickets_update AFTER UPDATE ON tickets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_tickets_updated();
CREATE TRIGGER search_documents_messages_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_messages_inserted();
CREATE TRIGGER search_documents_messages_update AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_messages_updated();
CREATE TRIGGER search_documents_messages_delete AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_documents_messages_deleted();
"""
POSTGRES_INDEXES = """
CREATE INDEX ix_search_documents_public_document ON search_documents USING gin (public_document);

CREATE INDEX ix_search_documents_staff_document ON search_documents USING gin (staff_document);
"""
POSTGRES_OLD = """
DROP INDEX IF EXISTS ix_tickets_search_vector;

DROP INDEX IF EXISTS ix_messages_search_vector;

ALTER TABLE tickets DROP COLUMN IF EXISTS search_vector;

ALTER TABLE messages DROP COLUMN IF EXISTS search_vector;
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS search_documents_messages_delete ON messages;

DROP TRIGGER IF EXISTS search_documents_messages_update ON messages;

DROP TRIGGER IF EXISTS search_documents_messages_insert ON messages;

DROP TRIGGER IF EXISTS search_documents_tickets_update ON tickets;

DROP TRIGGER IF EXISTS search_documents_tickets_insert ON tickets;

DROP FUNCTION IF EXISTS search_documents_messages_deleted();

DROP FUNCTION IF EXISTS search_documents_messages_updated();

DROP FUNCTION IF EXISTS search_documents_messages_inserted();

DROP FUNCTION IF EXISTS search_documents_tickets_updated();

DROP FUNCTION IF EXISTS search_documents_tickets_inserted();

DROP FUNCTION IF EXISTS search_documents_refresh(integer[]);

DROP FUNCTION IF EXISTS search_documents_build(integer, integer);

DROP TABLE IF EXISTS search_documents;
"""
# Existing tickets are indexed in slices, so a large helpdesk's upgrade shows progress in the
# database's activity and never builds one giant sort.
BUILD_SLICE = 50_000

# --- SQLite --------------------------------------------------------------------------------------

SQLITE_TEXT = """
CREATE VIEW search_document_texts AS
SELECT t.id AS id,
       t.number || ' ' || t.title || ' ' || t.description || coalesce(' ' || (
           SELECT group_concat(body, ' ') FROM (
               SELECT body FROM messages
               WHERE ticket_id = t.id AND deleted_at IS NULL AND NOT is_internal ORDER BY id)
       ), '') AS public_text,
       t.number || ' ' || t.title || ' ' || t.description || coalesce(' ' || (
           SELECT group_concat(body, ' ') FROM (
               SELECT body FROM messages WHERE ticket_id = t.id AND deleted_at IS NULL ORDER BY id)
       ), '') AS staff_text
FROM tickets t;
"""
SQLITE = """
CREATE VIRTUAL TABLE search_documents USING fts5(
    public_text, staff_text, content='search_document_texts', content_rowid='id',
    tokenize='porter unicode61'
);

CREATE TRIGGER search_documents_ticket_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO search_documents (rowid, public_text, staff_text)
    SELECT id, public_text, staff_text FROM search_document_texts WHERE id = new.id;
END;

CREATE TRIGGER search_documents_ticket_before_update BEFORE UPDATE OF number, title, description ON tickets
BEGIN
    INSERT INTO search_documents (search_documents, rowid, public_text, staff_text)
    SELECT 'delete', id, public_text, staff_text FROM search_document_texts WHERE id = old.id;
END;

CREATE TRIGGER search_documents_ticket_update AFTER UPDATE OF number, title, description ON tickets
BEGIN
    INSERT INTO search_documents (rowid, public_text, staff_text)
    SELECT id, public_text, staff_text FROM search_document_texts WHERE id = new.id;
END;

CREATE TRIGGER search_documents_ticket_delete BEFORE DELETE ON tickets BEGIN
    INSERT INTO search_documents (search_documents, rowid, public_text, staff_text)
    SELECT 'delete', id, public_text, staff_text FROM search_document_texts WHERE id = old.id;
END;

CREATE TRIGGER search_documents_message_before_insert BEFORE INSERT ON messages BEGIN
    INSERT INTO search_documents (search_documents, rowid, public_text, staff_text)
    SELECT 'delete', id, public_text, staff_text FROM search_document_texts WHERE id = new.ticket_id;
END;

CREATE TRIGGER search_documents_message_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_documents (rowid, public_text, staff_text)
    SELECT id, public_text, staff_text FROM search_document_texts WHERE id = new.ticket_id;
END;

CREATE TRIGGER search_documents_message_before_update
BEFORE UPDATE OF ticket_id, body, is_internal, deleted_at ON messages BEGIN
    INSERT INTO search_documents (search_documents, rowid, public_text, staff_text)
    SELECT 'delete', id, public_text, staff_text FROM search_document_texts
    WHERE id IN (old.ticket_id, new.ticket_id);
END;

CREATE TRIGGER search_documents_message_update
AFTER UPDATE OF ticket_id, body, is_internal, deleted_at ON messages BEGIN
    INSERT INTO search_documents (rowid, public_text, staff_text)
    SELECT id, public_text, staff_text FROM search_document_texts
    WHERE id IN (old.ticket_id, new.ticket_id);
END;

CREATE TRIGGER search_documents_message_before_delete BEFORE DELETE ON messages BEGIN
    INSERT INTO search_documents (search_documents, rowid, public_text, staff_text)
    SELECT 'delete', id, public_text, staff_text FROM search_document_texts WHERE id = old.ticket_id;
END;

CREATE TRIGGER search_documents_message_delete AFTER DELETE ON messages BEGIN
    INSERT INTO search_documents (rowid, public_text, staff_text)
    SELECT id, public_text, staff_text FROM search_document_texts WHERE id = old.ticket_id;
END;
"""
SQLITE_OLD = """
DROP TRIGGER IF EXISTS tickets_fts_insert;

DROP TRIGGER IF EXISTS tickets_fts_delete;

DROP TRIGGER IF EXISTS tickets_fts_update;

DROP TRIGGER IF EXISTS messages_fts_insert;

DROP TRIGGER IF EXISTS messages_fts_delete;

DROP TRIGGER IF EXISTS messages_fts_update;

DROP TABLE IF EXISTS tickets_fts;

DROP TABLE IF EXISTS messages_fts;
"""
SQLITE_TRIGGERS = (
    "search_documents_ticket_insert",
    "search_documents_ticket_before_update",
    "search_documents_ticket_update",
    "search_documents_ticket_delete",
    "search_documents_message_before_insert",
    "search_documents_message_insert",
    "search_documents_message_before_update",
    "search_documents_message_update",
    "search_documents_message_before_delete",
    "search_documents_message_delete",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run(POSTGRES_OLD)
        _run(POSTGRES)
        last = op.get_bind().exec_driver_sql("SELECT coalesce(max(id), 0) FROM tickets").scalar_one()
        for first in range(1, last + 1, BUILD_SLICE):
            op.execute(f"SELECT search_documents_build({first}, {first + BUILD_SLICE - 1})")
        _run(POSTGRES_INDEXES)
        # A word outside the most common ones is estimated below the rarest of them: with the
        # default 1,000 lexemes that was 0.5% of tickets (5,000 at a million), and a word in 600
        # was counted by hashing every visible ticket. 10,000 lexemes estimate it within 5%.
        for column in ("public_document", "staff_document"):
            op.execute(f"ALTER TABLE search_documents ALTER COLUMN {column} SET STATISTICS 1000")
        op.execute("ANALYZE search_documents")
        return
    _run(SQLITE_OLD)
    _run(SQLITE_TEXT)
    _run(SQLITE)
    op.execute("INSERT INTO search_documents (search_documents) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run(POSTGRES_DOWN)
        _initial_search("postgresql")
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS search_documents")
    op.execute("DROP VIEW IF EXISTS search_document_texts")
    _initial_search("sqlite")


def _initial_search(dialect: str) -> None:
    """The per-ticket and per-message indexes of the first migration, and their contents."""
    initial = importlib.import_module("ticketry.migrations.versions.0001_initial_schema")
    initial._create_search(dialect)
    if dialect == "sqlite":
        op.execute("INSERT INTO tickets_fts (tickets_fts) VALUES ('rebuild')")
        op.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")


def _run(script: str) -> None:
    """The script's statements, one per paragraph (function and trigger bodies have no blank lines)."""
    for statement in script.strip().split("\n\n"):
        op.execute(statement)
