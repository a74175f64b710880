package exportch

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// PurgeResult tells what PurgeTaps removed.
type PurgeResult struct {
	DroppedPartitions []string // whole months (YYYYMM) dropped
	Mutation          bool     // an ALTER TABLE ... DELETE was issued for the rest
}

var month = regexp.MustCompile(`^[0-9]{6}$`)

// PurgeTaps removes raw tap rows captured before cutoff from db.taps; the
// journeys and the aggregate tables are not touched. Taps are partitioned by
// month (toYYYYMM(captured_at)), so every month wholly before cutoff is
// dropped with ALTER TABLE ... DROP PARTITION (instant, the usual way, and
// the same on 18.16 and current ClickHouse). With exact, the rows of the
// cutoff's own month before it are removed too with ALTER TABLE ... DELETE,
// a mutation that ClickHouse (18.16 included) applies in the background
// while queries go on; without it they go when their month is dropped.
func PurgeTaps(ctx context.Context, conn driver.Conn, db string, cutoff time.Time, exact bool) (PurgeResult, error) {
	var res PurgeResult
	if !dbName.MatchString(db) {
		return res, fmt.Errorf("exportch: bad database name %q", db)
	}
	cutoff = cutoff.UTC()
	// Partitions are months of captured_at as ClickHouse's server time zone
	// sees it; a month is dropped only when its whole range (with a day of
	// margin for any server zone) lies before the cutoff.
	limit := cutoff.AddDate(0, 0, -1)
	keep := limit.Year()*100 + int(limit.Month())
	rows, err := conn.Query(ctx, `SELECT DISTINCT partition FROM system.parts
		WHERE database = '`+db+`' AND table = 'taps' AND active ORDER BY partition`)
	if err != nil {
		return res, fmt.Errorf("exportch: purge: %w", err)
	}
	var parts []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return res, fmt.Errorf("exportch: purge: %w", err)
		}
		parts = append(parts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("exportch: purge: %w", err)
	}
	for _, p := range parts {
		if !month.MatchString(p) {
			continue
		}
		n, _ := strconv.Atoi(p)
		if n >= keep {
			continue
		}
		if err := conn.Exec(ctx, "ALTER TABLE "+db+".taps DROP PARTITION "+p); err != nil {
			return res, fmt.Errorf("exportch: purge month %s: %w", p, err)
		}
		res.DroppedPartitions = append(res.DroppedPartitions, p)
	}
	if exact {
		var n uint64
		q := fmt.Sprintf("captured_at < toDateTime(%d)", cutoff.Unix())
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".taps WHERE "+q).Scan(&n); err != nil {
			return res, fmt.Errorf("exportch: purge: %w", err)
		}
		if n > 0 {
			if err := conn.Exec(ctx, "ALTER TABLE "+db+".taps DELETE WHERE "+q); err != nil {
				return res, fmt.Errorf("exportch: purge rows: %w", err)
			}
			res.Mutation = true
		}
	}
	return res, nil
}

var dbName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
