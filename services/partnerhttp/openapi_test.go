package partnerhttp

import (
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/services/authjwt"
)

// nopStore lets the routes be listed without a database.
type nopStore struct{ Store }

func mounted(t *testing.T) *fiber.App {
	t.Helper()
	auth, _ := authjwt.New([]byte(strings.Repeat("s", 32)), nil)
	api, err := New(Config{Store: nopStore{}, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	api.Mount(app)
	return app
}

func TestOpenAPIDescribesTheServedRoutes(t *testing.T) {
	app := mounted(t)
	if err := CheckSpec(OpenAPI, app); err != nil {
		t.Fatal(err)
	}
	if n := len(ServedRoutes(app)); n < 10 {
		t.Errorf("only %d routes served", n)
	}
}

// The check fails when the document and the routes drift apart.
func TestOpenAPICheckCatchesDrift(t *testing.T) {
	app := mounted(t)
	app.Get(Prefix+"/undocumented", func(c *fiber.Ctx) error { return nil })
	if err := CheckSpec(OpenAPI, app); err == nil || !strings.Contains(err.Error(), "GET /partner/v1/undocumented") {
		t.Errorf("an undocumented route passed: %v", err)
	}
	doc := strings.Replace(string(OpenAPI), `"/riders/{rider_ref}/charges"`, `"/riders/{rider_ref}/charge"`, 1)
	if err := CheckSpec([]byte(doc), mounted(t)); err == nil {
		t.Error("a misspelt path passed")
	}
	doc = strings.Replace(string(OpenAPI), `"#/components/schemas/Ticket"`, `"#/components/schemas/Tiket"`, 1)
	if err := CheckSpec([]byte(doc), mounted(t)); err == nil || !strings.Contains(err.Error(), "does not resolve") {
		t.Errorf("a dangling $ref passed: %v", err)
	}
	if err := CheckSpec([]byte(`{"openapi": 3`), mounted(t)); err == nil {
		t.Error("a broken file passed")
	}
}
