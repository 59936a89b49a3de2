-- Background jobs take leases here, so any number of nodes can run the
-- same schedule and one does the work at a time.
CREATE TABLE job_leases (
    name        TEXT PRIMARY KEY NOT NULL,
    owner       TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);

-- Operator settings kept in the database (shared by every node).
CREATE TABLE operator_settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
