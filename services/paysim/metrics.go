package paysim

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

// counters are Prometheus counters keyed by their full series,
// e.g. `paysim_problems_total{type="bad-json"}`.
type counters struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counters) add(series string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]int64)
	}
	c.m[series] += n
}

func (c *counters) get(series string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[series]
}

// write is the Prometheus text exposition, series sorted.
func (c *counters) write(w io.Writer) {
	c.mu.Lock()
	series := make([]string, 0, len(c.m))
	for k := range c.m {
		series = append(series, k)
	}
	vals := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		vals[k] = v
	}
	c.mu.Unlock()
	slices.Sort(series)
	last := ""
	for _, k := range series {
		name, _, _ := strings.Cut(k, "{")
		if name != last {
			fmt.Fprintf(w, "# TYPE %s counter\n", name)
			last = name
		}
		fmt.Fprintf(w, "%s %d\n", k, vals[k])
	}
}
