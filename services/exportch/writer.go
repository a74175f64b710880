package exportch

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// Column of an export table; Int columns are whole numbers (or empty when
// suppressed), the others text.
type Column struct {
	Name string
	Int  bool
}

// TableWriter writes one table: a header, rows of strings ("" = no value),
// then Close (which does not close the underlying writer).
type TableWriter interface {
	Header(cols []Column) error
	Row(values []string) error
	Close() error
}

// Format of a file.
type Format string

const (
	CSV     Format = "csv"
	Parquet Format = "parquet"
)

// NewWriter returns a table writer of format f over w.
func NewWriter(f Format, w io.Writer) (TableWriter, error) {
	switch f {
	case CSV:
		return &csvWriter{w: csv.NewWriter(w)}, nil
	case Parquet:
		return &parquetWriter{out: w}, nil
	}
	return nil, fmt.Errorf("%w: unknown format %q", ErrBadRequest, f)
}

type csvWriter struct {
	w *csv.Writer
	n int
}

func (c *csvWriter) Header(cols []Column) error {
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.Name
	}
	return c.w.Write(names)
}

func (c *csvWriter) Row(v []string) error {
	if err := c.w.Write(v); err != nil {
		return err
	}
	// Flush now and then so that an HTTP download streams.
	if c.n++; c.n%4096 == 0 {
		c.w.Flush()
		return c.w.Error()
	}
	return nil
}

func (c *csvWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// parquetWriter writes every column as optional (a suppressed cell is
// null): Int columns as INT64, the others as UTF-8 strings; pages are
// Snappy-compressed.
type parquetWriter struct {
	out  io.Writer
	w    *parquet.GenericWriter[any]
	cols []Column
	idx  []int // column i of the table is leaf idx[i] of the schema
	buf  []parquet.Row
}

func (p *parquetWriter) Header(cols []Column) error {
	g := parquet.Group{}
	for _, c := range cols {
		if c.Int {
			g[c.Name] = parquet.Optional(parquet.Int(64))
		} else {
			g[c.Name] = parquet.Optional(parquet.String())
		}
	}
	schema := parquet.NewSchema("export", g)
	leaf := map[string]int{}
	for i, path := range schema.Columns() {
		leaf[path[0]] = i
	}
	p.cols = cols
	p.idx = make([]int, len(cols))
	for i, c := range cols {
		p.idx[i] = leaf[c.Name]
	}
	p.w = parquet.NewGenericWriter[any](p.out, schema, parquet.Compression(&parquet.Snappy))
	return nil
}

func (p *parquetWriter) Row(v []string) error {
	row := make(parquet.Row, len(v))
	for i, s := range v {
		col := p.idx[i]
		switch {
		case s == "":
			row[col] = parquet.Value{}.Level(0, 0, col)
		case p.cols[i].Int:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("exportch: column %s: %w", p.cols[i].Name, err)
			}
			row[col] = parquet.Int64Value(n).Level(0, 1, col)
		default:
			row[col] = parquet.ByteArrayValue([]byte(s)).Level(0, 1, col)
		}
	}
	p.buf = append(p.buf, row)
	if len(p.buf) >= 4096 {
		return p.flush()
	}
	return nil
}

func (p *parquetWriter) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	_, err := p.w.WriteRows(p.buf)
	p.buf = p.buf[:0]
	return err
}

func (p *parquetWriter) Close() error {
	if p.w == nil {
		return nil
	}
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}
