package riderhttp

import (
	"embed"
	"mime"
	"path"

	"github.com/gofiber/fiber/v2"
)

//go:embed web
var web embed.FS

// Page returns the rider's mobile page (accounthttp.Config.Public): a few
// kilobytes of HTML, CSS and script, no framework, at /rider/ (and /rider: routing is not strict). The VNeID
// app opens it as /rider/#token=<rider token>; the fragment never reaches
// a server and the script keeps the token for the tab only.
func Page() func(app fiber.Router) {
	files := map[string][]byte{}
	for _, name := range []string{"index.html", "app.css", "app.js"} {
		b, err := web.ReadFile("web/" + name)
		if err != nil {
			panic(err) // embedded at build time
		}
		files[name] = b
	}
	serve := func(name string) fiber.Handler {
		b, ct := files[name], mime.TypeByExtension(path.Ext(name))
		return func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, ct)
			c.Set(fiber.HeaderCacheControl, "public, max-age=300")
			c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
			c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
			c.Set(fiber.HeaderContentSecurityPolicy,
				"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
			return c.Send(b)
		}
	}
	return func(app fiber.Router) {
		app.Get("/rider/", serve("index.html"))
		app.Get("/rider/app.css", serve("app.css"))
		app.Get("/rider/app.js", serve("app.js"))
	}
}
