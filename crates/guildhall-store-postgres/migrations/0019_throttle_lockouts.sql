-- Lockouts in a row for a key, so each one lasts longer (cleared by a
-- successful attempt).
ALTER TABLE throttles ADD COLUMN lockouts INTEGER NOT NULL DEFAULT 0;
