-- StreamSwarm metadata store, version 2 (SQLite): tokens keep their creator's name.
-- A token never outlives its creator: deleting a user revokes the API and enrolment
-- tokens they created, and created_by_name keeps them traceable once created_by is NULL.

ALTER TABLE api_tokens ADD COLUMN created_by_name TEXT NOT NULL DEFAULT 'cli';
CREATE INDEX api_tokens_created_by ON api_tokens (created_by);

UPDATE api_tokens
SET created_by_name = (SELECT username FROM users WHERE users.id = api_tokens.created_by)
WHERE created_by IS NOT NULL;

-- Tokens whose creator was deleted before this version: the audit log still names them.
UPDATE api_tokens
SET created_by_name = (
    SELECT substr(a.actor, 6) FROM audit_log a
    WHERE a.action = 'token.create' AND a.target = 'token:' || api_tokens.id AND a.actor LIKE 'user:%'
    ORDER BY a.id LIMIT 1)
WHERE created_by IS NULL AND EXISTS (
    SELECT 1 FROM audit_log a
    WHERE a.action = 'token.create' AND a.target = 'token:' || api_tokens.id AND a.actor LIKE 'user:%');

-- ... and they are revoked now, as deleting their creator does from this version on.
INSERT INTO audit_log (at, actor, action, target, details)
SELECT CAST(strftime('%s', 'now') AS INTEGER) * 1000, 'system', 'token.revoke', 'token:' || api_tokens.id,
       '{"reason": "creator deleted", "created_by": "' || created_by_name || '"}'
FROM api_tokens
WHERE created_by IS NULL AND created_by_name <> 'cli' AND kind <> 'agent' AND revoked_at IS NULL
ORDER BY id;

UPDATE api_tokens SET revoked_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE created_by IS NULL AND created_by_name <> 'cli' AND kind <> 'agent' AND revoked_at IS NULL;
