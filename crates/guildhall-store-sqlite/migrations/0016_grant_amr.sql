-- How the person signed in (the session's amr, space-separated), carried
-- by codes and refresh tokens into ID tokens' amr and acr claims.
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '';
