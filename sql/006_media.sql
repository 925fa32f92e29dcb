-- 006_media.sql - uploaded files and where they were sent (media pool, msg
-- pool; docs/media.md).
--
-- The bytes live under the media root, content-addressed by sha256, once
-- per distinct content; a row of files is one upload: who uploaded it,
-- under which name, what the pool sniffed it to be.  Two uploads of the
-- same bytes are two rows (names and uploaders may differ) with one sha256
-- and one stored copy, so files_sha256 is what the pool looks a new
-- upload's content up by.  Rows are never updated or deleted: an id always
-- means the same bytes.
--
-- conversation_files records that file_id was sent as message seq of a
-- conversation.  The msg pool writes it in the send's group commit (same
-- transaction as the message) and a revoke deletes it.  Who may read a
-- file: its uploader, and the current members of any conversation with a
-- row for it, which is one lookup of conversation_files_file joined to the
-- members primary key.  No foreign keys, like messages: conversation_files
-- is written on the hot path by the transaction that checks the file
-- itself, and files by the pool for a caller the edge authenticated.
-- Times are BIGINT milliseconds (see 001_accounts.sql).

CREATE TABLE IF NOT EXISTS files (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  uploader_id   BIGINT UNSIGNED NOT NULL,
  sha256        CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  size          BIGINT NOT NULL,
  mime          VARCHAR(127) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name          VARCHAR(255) NOT NULL,
  has_thumbnail TINYINT(1) NOT NULL DEFAULT 0,
  created_at    BIGINT NOT NULL,
  PRIMARY KEY (id),
  KEY files_sha256 (sha256),
  KEY files_uploader (uploader_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS conversation_files (
  conversation_id BIGINT UNSIGNED NOT NULL,
  seq             BIGINT NOT NULL,
  file_id         BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (conversation_id, seq),
  KEY conversation_files_file (file_id, conversation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
