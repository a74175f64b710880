-- The ridership tables on one node, for database vnpass: ridershipch.LocalSchema("vnpass").
-- Generated: go test ./services/ridershipch -run TestLocalSchema -update

CREATE DATABASE IF NOT EXISTS vnpass;

CREATE TABLE IF NOT EXISTS vnpass.taps (
    event_id String,
    device String,
    site String,
    kind String,
    rider_key String,
    captured_at DateTime,
    received_at DateTime,
    open UInt8,
    reason String,
    fare Decimal(18, 0)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(captured_at)
ORDER BY (site, captured_at, event_id);

CREATE TABLE IF NOT EXISTS vnpass.journeys (
    journey_id UInt64,
    rider_key String,
    network_id String,
    operator_id String,
    entry_site String,
    exit_site String,
    entry_at DateTime,
    exit_at DateTime,
    status String,
    category String,
    fare_rule String,
    fare Decimal(18, 0),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(exit_at)
ORDER BY (network_id, exit_at, journey_id);

CREATE TABLE IF NOT EXISTS vnpass.station_activity_15m (
    site String,
    slot DateTime,
    kind String,
    taps AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(slot)
ORDER BY (site, slot, kind);

CREATE MATERIALIZED VIEW IF NOT EXISTS vnpass.station_activity_15m_mv TO vnpass.station_activity_15m AS
SELECT site, toDateTime(intDiv(toUInt32(captured_at), 900) * 900) AS slot, kind, uniqExactState(event_id) AS taps
FROM vnpass.taps WHERE open = 1 AND kind IN ('metro_entry', 'metro_exit')
GROUP BY site, slot, kind;

CREATE TABLE IF NOT EXISTS vnpass.parking_sessions (
    session_id UInt64,
    lot String,
    operator_id String,
    rider_key String,
    plate_key String,
    class String,
    tariff String,
    entry_at DateTime,
    exit_at DateTime,
    duration_s UInt32,
    fee Decimal(18, 0),
    rule String,
    entry_offline UInt8,
    exit_offline UInt8,
    override UInt8
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(exit_at)
ORDER BY (lot, exit_at, session_id);

CREATE TABLE IF NOT EXISTS vnpass.parking_flow_1h (
    operator_id String,
    lot String,
    hour DateTime,
    dir String,
    sessions AggregateFunction(uniqExact, UInt64),
    fees AggregateFunction(groupUniqArray, Tuple(UInt64, Decimal(18, 0)))
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(hour)
ORDER BY (operator_id, lot, hour, dir);

CREATE MATERIALIZED VIEW IF NOT EXISTS vnpass.parking_flow_1h_mv TO vnpass.parking_flow_1h AS
SELECT operator_id, lot, tupleElement(e, 1) AS hour, tupleElement(e, 2) AS dir,
    uniqExactState(session_id) AS sessions,
    groupUniqArrayState((session_id, if(tupleElement(e, 2) = 'out', fee, toDecimal64(0, 0)))) AS fees
FROM vnpass.parking_sessions
ARRAY JOIN [(toDateTime(intDiv(toUInt32(entry_at), 3600) * 3600), 'in'),
    (toDateTime(intDiv(toUInt32(exit_at), 3600) * 3600), 'out')] AS e
GROUP BY operator_id, lot, hour, dir;
