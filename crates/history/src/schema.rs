//! The schema, as migrations versioned in code: migration `n` (1-based) takes a database at
//! `user_version` n − 1 to n. Never edit a released migration; add one.

/// Migrations in order; the schema version is their count.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: events, incidents, latency per minute, raw pings, connect attempts, CLOSE_WAIT counts.
    "
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        gateway TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        expected INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX events_by_time ON events (gateway, at_ms);
    CREATE TABLE incidents (
        id INTEGER PRIMARY KEY,
        gateway TEXT NOT NULL,
        kind TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        ended_ms INTEGER,
        cause TEXT NOT NULL,
        stage TEXT,
        notices TEXT NOT NULL DEFAULT '',
        expected INTEGER NOT NULL DEFAULT 0,
        outage TEXT
    );
    CREATE INDEX incidents_by_time ON incidents (gateway, started_ms);
    CREATE TABLE latency_minute (
        gateway TEXT NOT NULL,
        minute_ms INTEGER NOT NULL,
        count INTEGER NOT NULL,
        lost INTEGER NOT NULL,
        min_us INTEGER,
        p50_us INTEGER,
        p95_us INTEGER,
        p99_us INTEGER,
        max_us INTEGER,
        PRIMARY KEY (gateway, minute_ms)
    ) WITHOUT ROWID;
    CREATE TABLE pings (
        gateway TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        rtt_us INTEGER
    );
    CREATE INDEX pings_by_time ON pings (gateway, at_ms);
    CREATE TABLE connects (
        gateway TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        stage TEXT,
        tcp_us INTEGER,
        version_us INTEGER,
        start_api_us INTEGER,
        first_ping_us INTEGER,
        error TEXT
    );
    CREATE INDEX connects_by_time ON connects (gateway, at_ms);
    CREATE TABLE zombies (
        gateway TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        ours INTEGER NOT NULL,
        gateway_side INTEGER NOT NULL,
        others INTEGER NOT NULL
    );
    CREATE INDEX zombies_by_time ON zombies (gateway, at_ms);
    ",
];

/// The schema version this release writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;
