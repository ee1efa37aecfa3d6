//! The schema, as migrations versioned in code: migration `n` (1-based) takes a database at
//! `user_version` n − 1 to n. Never edit a released migration; add one.

/// Migrations in order; the schema version is their count. Public so that tests can build a
/// database exactly as an earlier release left it.
pub const MIGRATIONS: &[&str] = &[
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
    // 2: latency per 10 minutes, kept up to date from the minutes by the writer, so that a
    // 30-day chart reads 4 320 rows per gateway instead of 43 200. `p50_weighted_us` is the
    // sum of each minute's median times its answered pings, so that the mean of the minutes'
    // medians is `p50_weighted_us / answered`, as from the minutes themselves.
    "
    CREATE TABLE latency_10min (
        gateway TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        count INTEGER NOT NULL,
        lost INTEGER NOT NULL,
        max_us INTEGER,
        p50_weighted_us INTEGER,
        answered INTEGER,
        PRIMARY KEY (gateway, start_ms)
    ) WITHOUT ROWID;
    INSERT INTO latency_10min
        SELECT gateway, minute_ms / 600000 * 600000, sum(count), sum(lost), max(max_us),
               sum(p50_us * (count - lost)),
               sum(CASE WHEN p50_us IS NOT NULL THEN count - lost END)
        FROM latency_minute GROUP BY gateway, minute_ms / 600000;
    ",
    // 3: when each gateway was watched (one row per stretch, its end moved forward at every
    // write), so uptime is over watched time and an incident a killed run left open ends
    // where watching ended. Nothing is filled in for earlier data: its days read as not
    // watched rather than as up.
    "
    CREATE TABLE watched (
        id INTEGER PRIMARY KEY,
        gateway TEXT NOT NULL,
        from_ms INTEGER NOT NULL,
        until_ms INTEGER NOT NULL
    );
    CREATE INDEX watched_by_gateway ON watched (gateway, until_ms);
    ",
];

/// Recomputes one gateway's 10-minute row from its minutes (`?1` gateway, `?2` the slot's
/// start).
pub(crate) const ROLL_UP_TEN_MINUTES: &str = "
    INSERT OR REPLACE INTO latency_10min
        SELECT gateway, ?2, sum(count), sum(lost), max(max_us),
               sum(p50_us * (count - lost)),
               sum(CASE WHEN p50_us IS NOT NULL THEN count - lost END)
        FROM latency_minute
        WHERE gateway = ?1 AND minute_ms >= ?2 AND minute_ms < ?2 + 600000
        GROUP BY gateway";

/// The schema version this release writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;
