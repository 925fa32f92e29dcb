-- 005_messages_features.sql - mentions (docs/messages.md "Revoke and mentions").
--
-- messages.mentions keeps the mentioned user ids of a message as it was
-- sent (comma-separated decimal ids, at most 50), so sync and history show
-- them without a join.  message_mentions has one row per (conversation,
-- mentioned user, seq): "my unread mentions in this conversation" is one
-- range scan of its primary key, seq > my read_seq.  A revoke clears both.
-- messages.revoked exists since 002.

ALTER TABLE messages ADD COLUMN IF NOT EXISTS
  mentions VARCHAR(1100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '';

CREATE TABLE IF NOT EXISTS message_mentions (
  conversation_id BIGINT UNSIGNED NOT NULL,
  user_id         BIGINT UNSIGNED NOT NULL,
  seq             BIGINT NOT NULL,
  PRIMARY KEY (conversation_id, user_id, seq),
  KEY message_mentions_seq (conversation_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
