package partnerhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The OpenAPI document is checked with encoding/json rather than an
// OpenAPI library (none is in the module, and what matters fits here): it
// parses as OpenAPI 3, every $ref resolves, every operation has an id, a
// summary and responses, every path parameter is described, and its paths
// and methods are exactly the routes the app serves under Prefix.

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// CheckSpec checks doc against the routes app serves under Prefix.
func CheckSpec(doc []byte, app *fiber.App) error {
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("openapi: does not parse: %w", err)
	}
	var errs []error
	if v, _ := d["openapi"].(string); !strings.HasPrefix(v, "3.") {
		errs = append(errs, fmt.Errorf("openapi: version %q, want 3.x", v))
	}
	info, _ := d["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		errs = append(errs, errors.New("openapi: info needs a title and a version"))
	}
	servers, _ := d["servers"].([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["url"] != Prefix {
		errs = append(errs, fmt.Errorf("openapi: servers %v, want one, %s", d["servers"], Prefix))
	}
	var refs []string
	collectRefs(d, &refs)
	for _, r := range refs {
		if lookup(d, r) == nil {
			errs = append(errs, fmt.Errorf("openapi: $ref %s does not resolve", r))
		}
	}
	paths, _ := d["paths"].(map[string]any)
	var spec []string
	for path, item := range paths {
		it, _ := item.(map[string]any)
		params := map[string]bool{}
		for _, p := range append(asList(it["parameters"]), nil) {
			if pm, ok := p.(map[string]any); ok {
				if ref, ok := pm["$ref"].(string); ok {
					pm = lookup(d, ref)
				}
				if pm != nil && pm["in"] == "path" {
					params[fmt.Sprint(pm["name"])] = true
				}
			}
		}
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			if !params[m[1]] {
				errs = append(errs, fmt.Errorf("openapi: %s: path parameter %s not described", path, m[1]))
			}
		}
		for method, op := range it {
			if method == "parameters" {
				continue
			}
			o, _ := op.(map[string]any)
			resp, _ := o["responses"].(map[string]any)
			if o["operationId"] == nil || o["summary"] == nil || len(resp) == 0 {
				errs = append(errs, fmt.Errorf("openapi: %s %s needs an operationId, a summary and responses", method, path))
			}
			spec = append(spec, strings.ToUpper(method)+" "+Prefix+pathParam.ReplaceAllString(path, ":$1"))
		}
	}
	sort.Strings(spec)
	served := ServedRoutes(app)
	if strings.Join(spec, "\n") != strings.Join(served, "\n") {
		errs = append(errs, fmt.Errorf("openapi: the document and the routes differ\ndocument:\n  %s\nserved:\n  %s",
			strings.Join(spec, "\n  "), strings.Join(served, "\n  ")))
	}
	return errors.Join(errs...)
}

// ServedRoutes lists "METHOD /path" of the routes app serves under Prefix
// (HEAD, which fiber adds for every GET, left out).
func ServedRoutes(app *fiber.App) []string {
	var out []string
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead || !strings.HasPrefix(r.Path, Prefix+"/") {
			continue
		}
		out = append(out, r.Method+" "+r.Path)
	}
	sort.Strings(out)
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

func collectRefs(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				*out = append(*out, s)
			}
			collectRefs(e, out)
		}
	case []any:
		for _, e := range x {
			collectRefs(e, out)
		}
	}
}

// lookup resolves a local $ref, or returns nil.
func lookup(d map[string]any, ref string) map[string]any {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = d
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	m, _ := cur.(map[string]any)
	return m
}
