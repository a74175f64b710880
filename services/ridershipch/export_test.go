package ridershipch

// Hooks for the cluster tests (ridershipch_test): the pieces of the cluster
// schema without ON CLUSTER, which needs the distributed DDL queue.

func allTables() []table { return append(append([]table{}, coreTables...), parkingTables...) }

// ShardLocalSchema is one shard's local tables and views in localDB with
// plain (not replicated) engines: what a shard holds, minus replication.
func ShardLocalSchema(localDB string) []string {
	return clusterLayout{db: localDB, localDB: localDB}.localStatements(allTables())
}

// ReplicatedLocalSchema is the production local tables and views in db,
// without ON CLUSTER.
func ReplicatedLocalSchema(db string) []string {
	return clusterLayout{db: db, replicated: true}.localStatements(allTables())
}

// DistributedSchema is the Distributed tables in db over cluster, naming no
// database, so each shard's replica reads its own <default_database>.
func DistributedSchema(db, cluster string) []string {
	return clusterLayout{db: db, cluster: cluster, remoteSet: true}.distributedStatements(allTables())
}

// LocalSchema is the single-node DDL Open and EnsureParking run.
func LocalSchema(db string) []string {
	return append([]string{"CREATE DATABASE IF NOT EXISTS " + db}, localSchema(db, allTables())...)
}
