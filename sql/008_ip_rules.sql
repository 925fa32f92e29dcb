-- 008_ip_rules.sql - the admin's IP rules (docs/API.md "Admin").
--
-- cidr is the canonical text of common/cidr.c ("203.0.113.0/24"), so the
-- same block added twice is the same row (unique).  action is 'deny' (the
-- only action so far).  Every edge-http loads all rows at start and again
-- when the auth pool announces a change (im.evt.ip_rules.changed), so the
-- table stays small by nature: it is for abuse, not for geo-blocking.
CREATE TABLE IF NOT EXISTS ip_rules (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  cidr        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  action      VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_by  BIGINT UNSIGNED NOT NULL,
  created_at  BIGINT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY ip_rules_cidr (cidr)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
