package tapmqtt

import "regexp"

// quoted is a Go- or JSON-quoted string inside an error message.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// redact is err's message with every quoted string in it replaced by "…".
// Decoding errors quote the offending bytes of the payload (an id, a time,
// a JSON key), and a gate's payload is untrusted: it may carry a name, a
// CCCD number or a token where an id belongs, and logs must carry no
// personal data (SECURITY.md). What kind of error it was stays readable.
func redact(err error) string {
	if err == nil {
		return ""
	}
	return quoted.ReplaceAllString(err.Error(), `"…"`)
}
