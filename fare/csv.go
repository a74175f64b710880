package fare

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf8"
)

// ErrInvalidData is wrapped by every error LoadGTFS returns for bad fare data,
// so a caller can tell "the operator's files are wrong" from other failures.
var ErrInvalidData = errors.New("fare: invalid fare data")

// DataError points at the place in a GTFS file that is wrong, so an operator
// editing the files can go straight to it.
type DataError struct {
	File   string // e.g. "fare_leg_rules.txt"
	Line   int    // 1-based line in the file; 0 when the whole file is concerned
	Field  string // column name; "" when the whole row or file is concerned
	Value  string // the offending value, if any
	Reason string
}

// Error reads like a compiler message:
//
//	fare_leg_rules.txt:17: from_area_id "hn2a-xyz": unknown area
func (e *DataError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		if e.Value != "" {
			fmt.Fprintf(&b, " %q", e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

func (e *DataError) Unwrap() error { return ErrInvalidData }

// maxErrors bounds what one load reports: enough to fix a file in one pass,
// not so many that a wrong delimiter buries the first message.
const maxErrors = 25

// errList collects DataErrors so an operator sees every problem in a file at once.
type errList struct {
	errs    []error
	dropped int
	last    string
}

func (l *errList) add(file string, line int, field, value, reason string) {
	l.last = file
	if len(l.errs) >= maxErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, &DataError{File: file, Line: line, Field: field, Value: value, Reason: reason})
}

func (l *errList) failed() bool { return len(l.errs) > 0 }

func (l *errList) err() error {
	if !l.failed() {
		return nil
	}
	errs := l.errs
	if l.dropped > 0 {
		errs = append(errs[:len(errs):len(errs)], &DataError{File: l.last, Reason: fmt.Sprintf("%d more errors not shown", l.dropped)})
	}
	return errors.Join(errs...)
}

// feedFile is one GTFS file read whole: its header and its data rows.
type feedFile struct {
	name string
	cols map[string]int
	rows []row
}

// row is one data record; line is where it starts in the file.
type row struct {
	file *feedFile
	line int
	rec  []string
}

// get returns the trimmed value of col, or "" when the file has no such column.
func (r row) get(col string) string {
	i, ok := r.file.cols[col]
	if !ok {
		return ""
	}
	return strings.TrimSpace(r.rec[i])
}

// has reports whether the file has the column at all.
func (f *feedFile) has(col string) bool {
	_, ok := f.cols[col]
	return ok
}

var bom = []byte("\xef\xbb\xbf")

// readFeedFile reads name from fsys. A missing optional file returns nil and
// no error; problems are added to errs and reported by file and line.
// Columns beyond required are kept: GTFS consumers ignore unknown columns, and
// vnpass reads a few extensions (networks.operator_id).
func readFeedFile(fsys fs.FS, name string, required bool, cols []string, errs *errList) *feedFile {
	data, err := fs.ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		if required {
			errs.add(name, 0, "", "", "missing required file")
		}
		return nil
	}
	if err != nil {
		errs.add(name, 0, "", "", "cannot read: "+err.Error())
		return nil
	}
	// Spreadsheet programs save UTF-8 with a byte order mark; GTFS allows it.
	data = bytes.TrimPrefix(data, bom)
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		errs.add(name, line, "", "", "not valid UTF-8")
		return nil
	}

	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1 // checked below, to word the message and skip blank lines
	f := &feedFile{name: name, cols: make(map[string]int)}

	header, err := r.Read()
	if err == io.EOF {
		errs.add(name, 1, "", "", "empty file, expected a header line")
		return nil
	}
	if err != nil {
		errs.add(name, csvLine(err, 1), "", "", "header: "+csvReason(err))
		return nil
	}
	for i, c := range header {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if _, dup := f.cols[c]; dup {
			errs.add(name, 1, c, "", "duplicate column")
			continue
		}
		f.cols[c] = i
	}
	missing := false
	for _, c := range cols {
		if !f.has(c) {
			errs.add(name, 1, c, "", "missing required column")
			missing = true
		}
	}
	if missing {
		return nil
	}

	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs.add(name, csvLine(err, 0), "", "", csvReason(err))
			// encoding/csv cannot resync after a quoting error; report and stop.
			return nil
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // whitespace-only line
		}
		if len(rec) != len(header) {
			errs.add(name, line, "", "", fmt.Sprintf("has %d fields, header has %d", len(rec), len(header)))
			continue
		}
		f.rows = append(f.rows, row{file: f, line: line, rec: rec})
	}
	return f
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func csvLine(err error, def int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return def
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
