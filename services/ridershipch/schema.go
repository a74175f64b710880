package ridershipch

import (
	"strings"
)

// The tables are defined once, below, and rendered two ways:
//
//   - localSchema: the single-node schema every test and the local stack use
//     (ReplacingMergeTree raw tables, AggregatingMergeTree aggregates fed by
//     materialized views over the raw tables), exactly the DDL this package
//     has always run;
//   - clusterSchema: the same tables on a sharded, replicated cluster. Each
//     table becomes <name>_local, a Replicated*MergeTree on every shard, plus
//     <name>, a Distributed table over the <name>_local tables under the name
//     the queries use, so no query changes. The views read the local raw table
//     of the shard an insert landed on and write to the local aggregate of
//     the same shard. See README.md, "Cluster".

// column is one column: its name and ClickHouse type.
type column struct{ name, typ string }

// engine is the MergeTree family a table belongs to.
type engine string

const (
	replacing   engine = "ReplacingMergeTree"
	aggregating engine = "AggregatingMergeTree"
)

// view is the materialized view that keeps an aggregate table: SELECT
// selectList FROM <source> rest. The source is the raw table's name; the
// view reads db.source on one node and db.source_local on a cluster.
type view struct {
	selectList string
	source     string
	rest       string
}

// table is one table's definition.
type table struct {
	name      string
	columns   []column
	engine    engine
	version   string // ReplacingMergeTree's version column; "" keeps the last inserted row
	partition string
	orderBy   string
	// shardKey is the Distributed table's sharding key on a cluster: which
	// shard an inserted row goes to.
	shardKey string
	view     *view // for an aggregate: the view that fills it
}

// The raw tables shard by a hash of the row's own id, so every copy of a
// row (a batch written again after a crash between writing and marking the
// outbox) lands on the same shard, where ReplacingMergeTree and FINAL
// collapse it: FINAL works per shard and would not see two copies on two
// shards. The row id is used rather than the rider key because refused taps
// and plate-only parking sessions have an empty rider key, which would send
// them all to one shard; nothing here needs a rider's rows together (counts
// of distinct riders merge exactly across shards).
var (
	tapsTable = table{
		name: "taps",
		columns: []column{
			{"event_id", "String"},
			{"device", "String"},
			{"site", "String"},
			{"kind", "String"},
			{"rider_key", "String"},
			{"captured_at", "DateTime"},
			{"received_at", "DateTime"},
			{"open", "UInt8"},
			{"reason", "String"},
			{"fare", "Decimal(18, 0)"},
		},
		engine:    replacing,
		partition: "toYYYYMM(captured_at)",
		orderBy:   "(site, captured_at, event_id)",
		shardKey:  "cityHash64(event_id)",
	}
	journeysTable = table{
		name: "journeys",
		columns: []column{
			{"journey_id", "UInt64"},
			{"rider_key", "String"},
			{"network_id", "String"},
			{"operator_id", "String"},
			{"entry_site", "String"},
			{"exit_site", "String"},
			{"entry_at", "DateTime"},
			{"exit_at", "DateTime"},
			{"status", "String"},
			{"category", "String"},
			{"fare_rule", "String"},
			{"fare", "Decimal(18, 0)"},
			// version orders the exports of one journey: a journey closed
			// again (a late exit or entry corrects it) is exported again with
			// a higher version, and its exit time, hence its sorting key,
			// may have changed, so FINAL alone does not collapse the two.
			// Queries take each journey's latest row (latestJourneys).
			{"version", "UInt64"},
		},
		engine:    replacing,
		version:   "version",
		partition: "toYYYYMM(exit_at)",
		orderBy:   "(network_id, exit_at, journey_id)",
		shardKey:  "cityHash64(journey_id)",
	}
	parkingTable = table{
		name: "parking_sessions",
		columns: []column{
			{"session_id", "UInt64"},
			{"lot", "String"},
			{"operator_id", "String"},
			{"rider_key", "String"},
			{"plate_key", "String"},
			{"class", "String"},
			{"tariff", "String"},
			{"entry_at", "DateTime"},
			{"exit_at", "DateTime"},
			{"duration_s", "UInt32"},
			{"fee", "Decimal(18, 0)"},
			{"rule", "String"},
			{"entry_offline", "UInt8"},
			{"exit_offline", "UInt8"},
			{"override", "UInt8"},
		},
		engine:    replacing,
		partition: "toYYYYMM(exit_at)",
		orderBy:   "(lot, exit_at, session_id)",
		shardKey:  "cityHash64(session_id)",
	}

	// The aggregates hold sets of ids (see aggregates.go), which merge
	// exactly across shards and across retries, so where a state is stored
	// does not matter: the views write on the shard the raw rows landed on,
	// and the Distributed tables' key only places rows inserted through them
	// (a backfill), by a hash of the bucket.

	// TIDES station_activities: entries (boardings) and exits (alightings)
	// that opened the gate, per station per 15 minutes.
	stationActivityTable = table{
		name: "station_activity_15m",
		columns: []column{
			{"site", "String"},
			{"slot", "DateTime"},
			{"kind", "String"},
			{"taps", "AggregateFunction(uniqExact, String)"},
		},
		engine:    aggregating,
		partition: "toYYYYMM(slot)",
		orderBy:   "(site, slot, kind)",
		shardKey:  "cityHash64(site, slot, kind)",
		view: &view{
			selectList: "site, toDateTime(intDiv(toUInt32(captured_at), 900) * 900) AS slot, kind, uniqExactState(event_id) AS taps",
			source:     "taps",
			rest: ` WHERE open = 1 AND kind IN ('metro_entry', 'metro_exit')
GROUP BY site, slot, kind`,
		},
	}
	// Vehicles in and out of each lot per hour, from closed sessions (a
	// session is exported when it closes): each session counts once in its
	// entry hour and once in its exit hour.
	parkingFlowTable = table{
		name: "parking_flow_1h",
		columns: []column{
			{"operator_id", "String"},
			{"lot", "String"},
			{"hour", "DateTime"},
			{"dir", "String"},
			{"sessions", "AggregateFunction(uniqExact, UInt64)"},
			{"fees", "AggregateFunction(groupUniqArray, Tuple(UInt64, Decimal(18, 0)))"},
		},
		engine:    aggregating,
		partition: "toYYYYMM(hour)",
		orderBy:   "(operator_id, lot, hour, dir)",
		shardKey:  "cityHash64(operator_id, lot, hour, dir)",
		view: &view{
			selectList: `operator_id, lot, tupleElement(e, 1) AS hour, tupleElement(e, 2) AS dir,
    uniqExactState(session_id) AS sessions,
    groupUniqArrayState((session_id, if(tupleElement(e, 2) = 'out', fee, toDecimal64(0, 0)))) AS fees`,
			source: "parking_sessions",
			rest: `
ARRAY JOIN [(toDateTime(intDiv(toUInt32(entry_at), 3600) * 3600), 'in'),
    (toDateTime(intDiv(toUInt32(exit_at), 3600) * 3600), 'out')] AS e
GROUP BY operator_id, lot, hour, dir`,
		},
	}
)

// The two groups Open and EnsureParking create, in creation order (a view
// after its source and target).
var (
	coreTables = []table{tapsTable, journeysTable, stationActivityTable}
	// Columns added after their table was first created: migrate adds
	// them to a database made before (18.16 has no ADD COLUMN IF NOT
	// EXISTS). A column is added at the end, where its definition is.
	addedColumns = []struct {
		table string
		col   column
	}{{"journeys", column{"version", "UInt64"}}}
	// Tables no longer made, dropped from a database made before:
	// journeys_1h held (journey, fare) sets per hour, origin and
	// destination, which a journey closed again (a late exit moves its
	// hour, a late entry its fare) entered twice; the journeys are read
	// from the raw table, latest version each (latestJourneys).
	droppedTables = []string{"journeys_1h_mv", "journeys_1h"}
	parkingTables = []table{parkingTable, parkingFlowTable}
)

func (t table) columnList() string {
	var b strings.Builder
	b.WriteString("(\n")
	for i, c := range t.columns {
		b.WriteString("    " + c.name + " " + c.typ)
		if i < len(t.columns)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")")
	return b.String()
}

func (t table) mergeTreeTail() string {
	return "\nPARTITION BY " + t.partition + "\nORDER BY " + t.orderBy
}

// localSchema renders tables for one node: db.<name> and db.<name>_mv.
func localSchema(db string, tables []table) []string {
	var out []string
	for _, t := range tables {
		out = append(out, "CREATE TABLE IF NOT EXISTS "+db+"."+t.name+" "+t.columnList()+
			" ENGINE = "+string(t.engine)+"("+t.version+")"+t.mergeTreeTail())
		if v := t.view; v != nil {
			out = append(out, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+db+"."+t.name+"_mv TO "+db+"."+t.name+" AS\nSELECT "+
				v.selectList+"\nFROM "+db+"."+v.source+v.rest)
		}
	}
	return out
}

// clusterLayout is how clusterSchema renders.
type clusterLayout struct {
	db      string // the database of the Distributed tables, which the queries name
	cluster string // the cluster's name in remote_servers, or a macro: "{cluster}"
	// localDB holds the <name>_local tables and the views ("" means db).
	localDB string
	// remoteDB is the database the Distributed tables name on each shard;
	// "" makes each shard use its replica's <default_database> (how the
	// tests put two shards on one server). Ignored unless remoteSet.
	remoteDB  string
	remoteSet bool
	// replicated: Replicated*MergeTree local tables (they need ZooKeeper or
	// ClickHouse Keeper), else plain *MergeTree.
	replicated bool
	// onCluster: every statement ON CLUSTER (distributed DDL, which also
	// needs ZooKeeper or Keeper), else each runs on the server it is sent to.
	onCluster bool
}

// ClusterSchema is the DDL of the ridership tables, parking included, on a
// sharded and replicated ClickHouse cluster: run once, from any node, by a
// migration job (every statement is ON CLUSTER and IF NOT EXISTS). On every
// shard, <table>_local tables are ReplicatedReplacingMergeTree (raw) or
// ReplicatedAggregatingMergeTree (aggregates) with ZooKeeper path
// /clickhouse/tables/{shard}/<db>/<table>_local and replica '{replica}'
// (macros every server defines); the materialized views read and write the
// local tables; Distributed('<cluster>', '<db>', '<table>_local', key)
// tables carry the names the code reads and writes, so inserts go through
// them and are spread by the keys documented on the table definitions.
// cluster is a cluster name or the macro "{cluster}".
func ClusterSchema(db, cluster string) []string {
	return clusterSchema(clusterLayout{db: db, cluster: cluster, replicated: true, onCluster: true},
		append(append([]table{}, coreTables...), parkingTables...))
}

func (l clusterLayout) on() string {
	if l.onCluster {
		return " ON CLUSTER '" + l.cluster + "'"
	}
	return ""
}

func (l clusterLayout) local() string {
	if l.localDB != "" {
		return l.localDB
	}
	return l.db
}

// localStatements renders the local tables and views of one shard.
func (l clusterLayout) localStatements(tables []table) []string {
	var out []string
	on, ldb := l.on(), l.local()
	for _, t := range tables {
		eng := string(t.engine) + "(" + t.version + ")"
		if l.replicated {
			args := "'/clickhouse/tables/{shard}/" + ldb + "/" + t.name + "_local', '{replica}'"
			if t.version != "" {
				args += ", " + t.version
			}
			eng = "Replicated" + string(t.engine) + "(" + args + ")"
		}
		out = append(out, "CREATE TABLE IF NOT EXISTS "+ldb+"."+t.name+"_local"+on+" "+t.columnList()+
			" ENGINE = "+eng+t.mergeTreeTail())
		if v := t.view; v != nil {
			out = append(out, "CREATE MATERIALIZED VIEW IF NOT EXISTS "+ldb+"."+t.name+"_mv"+on+" TO "+ldb+"."+t.name+"_local AS\nSELECT "+
				v.selectList+"\nFROM "+ldb+"."+v.source+"_local"+v.rest)
		}
	}
	return out
}

// distributedStatements renders the Distributed tables over the local ones.
func (l clusterLayout) distributedStatements(tables []table) []string {
	var out []string
	remote := l.local()
	if l.remoteSet {
		remote = l.remoteDB
	}
	for _, t := range tables {
		out = append(out, "CREATE TABLE IF NOT EXISTS "+l.db+"."+t.name+l.on()+" "+t.columnList()+
			" ENGINE = Distributed('"+l.cluster+"', '"+remote+"', '"+t.name+"_local', "+t.shardKey+")")
	}
	return out
}

func clusterSchema(l clusterLayout, tables []table) []string {
	out := []string{"CREATE DATABASE IF NOT EXISTS " + l.db + l.on()}
	if l.localDB != "" && l.localDB != l.db {
		out = append(out, "CREATE DATABASE IF NOT EXISTS "+l.localDB+l.on())
	}
	out = append(out, l.localStatements(tables)...)
	return append(out, l.distributedStatements(tables)...)
}
