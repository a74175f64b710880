package camera_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/vnpass/vnpass/turnstile-agent/camera"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    camera.Capture
		ok      bool
		wantErr bool
	}{
		{name: "blank", line: ""},
		{name: "spaces", line: "  \t "},
		{name: "comment", line: "# morning rush"},
		{name: "indented comment", line: "   # x y z"},
		{name: "face", line: "face-0001", want: camera.Capture{FaceRef: "face-0001"}, ok: true},
		{name: "face padded", line: "\t face-0001  \r", want: camera.Capture{FaceRef: "face-0001"}, ok: true},
		{name: "face and plate", line: "face-0002 30A-123.45", want: camera.Capture{FaceRef: "face-0002", Plate: "30A-123.45"}, ok: true},
		{name: "plate upper-cased", line: "face-0002 51f-678.90", want: camera.Capture{FaceRef: "face-0002", Plate: "51F-678.90"}, ok: true},
		{name: "trailing comment", line: "face-0003 # at gate 1", want: camera.Capture{FaceRef: "face-0003"}, ok: true},
		{name: "plate and comment", line: "face-0003 29B1-111.11#car", want: camera.Capture{FaceRef: "face-0003", Plate: "29B1-111.11"}, ok: true},
		{name: "unicode face ref", line: "khuôn-mặt-01", want: camera.Capture{FaceRef: "khuôn-mặt-01"}, ok: true},
		{name: "three fields", line: "face-0001 30A-123.45 extra", wantErr: true},
		{name: "bad plate char", line: "face-0001 30A_123", wantErr: true},
		{name: "plate too long", line: "face-0001 " + strings.Repeat("A", camera.MaxPlate+1), wantErr: true},
		{name: "plate at limit", line: "f " + strings.Repeat("A", camera.MaxPlate), want: camera.Capture{FaceRef: "f", Plate: strings.Repeat("A", camera.MaxPlate)}, ok: true},
		{name: "face ref too long", line: strings.Repeat("f", camera.MaxFaceRef+1), wantErr: true},
		{name: "face ref not utf-8", line: "face\xff", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := camera.ParseLine(tt.line)
			if tt.wantErr {
				if !errors.Is(err, camera.ErrSyntax) {
					t.Fatalf("err = %v, want ErrSyntax", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if ok != tt.ok || got != tt.want {
				t.Errorf("got %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestReader(t *testing.T) {
	in := strings.Join([]string{
		"# scenario: Cát Linh, morning",
		"face-0001",
		"",
		"face-0002 30a-123.45",
		"face-0003 x y", // line 5: error, reading goes on
		"   # done soon",
		"face-0004",
	}, "\n") // no final newline
	r := camera.NewReader(strings.NewReader(in))

	var got []camera.Capture
	var lineErrs []int
	for {
		c, err := r.Read()
		if err == io.EOF {
			break
		}
		var le *camera.LineError
		if errors.As(err, &le) {
			lineErrs = append(lineErrs, le.Line)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	want := []camera.Capture{{FaceRef: "face-0001"}, {FaceRef: "face-0002", Plate: "30A-123.45"}, {FaceRef: "face-0004"}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("capture %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(lineErrs) != 1 || lineErrs[0] != 5 {
		t.Errorf("line errors at %v, want [5]", lineErrs)
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("Read after EOF = %v, want io.EOF", err)
	}
}

func TestReaderLineTooLong(t *testing.T) {
	r := camera.NewReader(strings.NewReader("face-1\n" + strings.Repeat("x", 70<<10) + "\nface-2\n"))
	if c, err := r.Read(); err != nil || c.FaceRef != "face-1" {
		t.Fatalf("first Read = %+v, %v", c, err)
	}
	_, err := r.Read()
	var le *camera.LineError
	if err == nil || err == io.EOF || errors.As(err, &le) {
		t.Fatalf("Read of an over-long line = %v, want a terminal error", err)
	}
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"", "# c", "face-1", "face-1 30A-123.45", "a b c", "f 30a#x", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, ok, err := camera.ParseLine(line)
		if err != nil {
			if ok || c != (camera.Capture{}) {
				t.Fatalf("error %v with capture %+v, ok %v", err, c, ok)
			}
			return
		}
		if !ok {
			return
		}
		if c.FaceRef == "" || strings.ContainsAny(c.FaceRef, " \t#") {
			t.Fatalf("face ref %q", c.FaceRef)
		}
		if c.Plate != strings.ToUpper(c.Plate) {
			t.Fatalf("plate %q not upper case", c.Plate)
		}
		// What parses must parse the same when written back.
		back := c.FaceRef
		if c.Plate != "" {
			back += " " + c.Plate
		}
		c2, ok2, err2 := camera.ParseLine(back)
		if err2 != nil || !ok2 || c2 != c {
			t.Fatalf("round trip of %q: %+v %v %v", back, c2, ok2, err2)
		}
	})
}
