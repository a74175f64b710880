package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ClickHouseDB returns ClickHouse's address and credentials with a database
// name of this test's own. The database is dropped when the test ends (the
// code under test creates it).
func ClickHouseDB(t testing.TB) ClickHouse {
	t.Helper()
	c := ClickHouse{
		Addr:     Get(t, "VNPASS_CH_ADDR"),
		User:     Get(t, "VNPASS_CH_USER"),
		Password: Get(t, "VNPASS_CH_PASSWORD"),
		Database: Name("t_"),
	}
	t.Cleanup(func() {
		conn, err := clickhouse.Open(&clickhouse.Options{
			Addr: []string{c.Addr},
			Auth: clickhouse.Auth{Database: "default", Username: c.User, Password: c.Password},
		})
		if err != nil {
			t.Errorf("testenv: drop ClickHouse database: %v", err)
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+c.Database); err != nil {
			t.Errorf("testenv: drop ClickHouse database %s: %v", c.Database, err)
		}
	})
	return c
}
