-- 002_conversations.sql - conversations, their members and messages (msg pool).
--
-- DESIGN.md "Messages: the invariants": each conversation has a dense
-- sequence.  conversations.last_seq is the counter; a send locks that row
-- (SELECT ... FOR UPDATE), takes last_seq + 1 and stores the message in the
-- same transaction, so any number of msg processes hand out 1, 2, 3, ...
-- with no gap and no reuse.  (conversation_id, seq) is the primary key of
-- messages, so a page of history or sync is one range scan of the
-- clustered index.
--
-- A retried send is found by UNIQUE (conversation_id, sender_id,
-- client_msg_id) and answered with the original.  A direct conversation
-- has direct_key "<low uid>:<high uid>" (UNIQUE; NULL for groups, and NULLs
-- never collide), so creating the same pair twice, in either order or
-- concurrently, returns the one conversation.
--
-- members.read_seq is the caller's read position: unread = last_seq -
-- read_seq.  The index on members(user_id) serves "my conversations".
--
-- No foreign keys on messages: it is the hot table, and the parent check on
-- every insert buys nothing the transaction does not already guarantee.
-- Times are BIGINT milliseconds (see 001_accounts.sql).

CREATE TABLE IF NOT EXISTS conversations (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  type          VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name          VARCHAR(128) NOT NULL DEFAULT '',
  owner_id      BIGINT UNSIGNED NULL,
  direct_key    VARCHAR(48) CHARACTER SET ascii COLLATE ascii_bin NULL,
  last_seq      BIGINT NOT NULL DEFAULT 0,
  last_activity BIGINT NOT NULL,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY conversations_direct (direct_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS members (
  conversation_id BIGINT UNSIGNED NOT NULL,
  user_id         BIGINT UNSIGNED NOT NULL,
  role            VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'member',
  read_seq        BIGINT NOT NULL DEFAULT 0,
  joined_at       BIGINT NOT NULL,
  PRIMARY KEY (conversation_id, user_id),
  KEY members_user (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS messages (
  conversation_id BIGINT UNSIGNED NOT NULL,
  seq             BIGINT NOT NULL,
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  sender_id       BIGINT UNSIGNED NOT NULL,
  client_msg_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  type            VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  body            MEDIUMTEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  revoked         TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (conversation_id, seq),
  UNIQUE KEY messages_id (id),
  UNIQUE KEY messages_client (conversation_id, sender_id, client_msg_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
