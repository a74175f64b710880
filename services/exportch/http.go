package exportch

import (
	"bufio"
	"context"

	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/services/authjwt"
)

// HTTPConfig is the download API's.
type HTTPConfig struct {
	Exporter *Exporter
	// MasterKey (>= 32 bytes) derives each recipient's pseudonym key
	// (RecipientKey): a committee's recipient is "committee:<city>", an
	// admin's the recipient query parameter.
	MasterKey []byte
	Log       *slog.Logger
	Timeout   time.Duration // of one download; 30 minutes when 0
}

// Routes adds GET /v1/exports/{kind}.{csv|parquet}?city=&from=&to=[&k=][&recipient=]
// for admins (any city) and committees (their own city only). The file is
// streamed as it is read from ClickHouse.
func Routes(cfg HTTPConfig) func(fiber.Router) {
	return func(v1 fiber.Router) {
		v1.Get("/exports/:file", func(c *fiber.Ctx) error { return download(c, cfg) })
	}
}

func download(c *fiber.Ctx, cfg HTTPConfig) error {
	cl := authjwt.Caller(c)
	city := c.Query("city")
	recipient := ""
	switch cl.Role {
	case authjwt.RoleAdmin:
		recipient = c.Query("recipient", "admin")
	case authjwt.RoleCommittee:
		if cl.City == "" || cl.City != city {
			return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "A committee may download its own city's exports only.")
		}
		recipient = "committee:" + cl.City
	default:
		return authjwt.Problem(c, fiber.StatusForbidden, "forbidden", "Exports are for admins and People's Committees.")
	}
	name, ext, _ := strings.Cut(c.Params("file"), ".")
	kind, ok := ParseKind(name)
	format := Format(ext)
	if !ok || (format != CSV && format != Parquet) {
		return authjwt.Problem(c, fiber.StatusNotFound, "not-found", "Exports: station_hours, od_daily, od_hourly, revenue, station_activities, fare_transactions; .csv or .parquet.")
	}
	from, err1 := time.Parse(time.DateOnly, c.Query("from"))
	to, err2 := time.Parse(time.DateOnly, c.Query("to"))
	if err1 != nil || err2 != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-period", "from and to must be local dates YYYY-MM-DD.")
	}
	k, _ := strconv.Atoi(c.Query("k"))
	if k != 0 && k < cfg.Exporter.minK() {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-k", "k may not be lower than the platform's minimum.")
	}
	req := Request{City: city, From: from, To: to, Recipient: recipient, RecipientKey: RecipientKey(cfg.MasterKey, recipient), K: k}
	if _, err := cfg.Exporter.plan(req); err != nil {
		return authjwt.Problem(c, fiber.StatusBadRequest, "bad-request", "city must be hanoi or hcmc and the period at most a year.")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	ctype := "text/csv; charset=utf-8"
	if format == Parquet {
		ctype = "application/vnd.apache.parquet"
	}
	fname := city + "_" + from.Format("20060102") + "_" + to.Format("20060102") + "_" + string(kind) + "." + ext
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+fname+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	who := string(cl.Role) + ":" + cl.Subject
	c.Context().SetBodyStreamWriter(func(bw *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		w, err := NewWriter(format, flushWriter{bw})
		if err == nil {
			var s Summary
			s, err = cfg.Exporter.Export(ctx, kind, req, w, nil)
			if err == nil {
				log.Info("export downloaded", "by", who, "kind", kind, "city", city, "from", req.From.Format(time.DateOnly),
					"to", req.To.Format(time.DateOnly), "rows", s.Rows, "suppressed", s.SuppressedCells)
			}
		}
		if err != nil {
			// The status is sent; a truncated file must not look whole.
			log.Error("export failed", "by", who, "kind", kind, "err", err)
			if format == CSV {
				bw.WriteString("\n# export failed; this file is incomplete\n")
			}
		}
		bw.Flush()
	})
	return nil
}

func (e *Exporter) minK() int {
	if e.K > 0 {
		return e.K
	}
	return 10
}

// flushWriter hands each write to the client at once: the download streams
// instead of growing in memory.
type flushWriter struct{ w *bufio.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	if f.w.Buffered() > 32<<10 {
		return n, f.w.Flush()
	}
	return n, nil
}
