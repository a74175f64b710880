package dashhttp

import (
	"embed"
	"mime"
	"path"

	"github.com/gofiber/fiber/v2"
)

//go:embed web
var web embed.FS

// Page returns the dashboard page (accounthttp.Config.Public) at
// /dashboard/: HTML, CSS and a small script that draws its own SVG charts,
// no framework and nothing fetched from outside. It is opened as
// /dashboard/#token=<operator token>; the fragment never reaches a server.
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
		app.Get("/dashboard/", serve("index.html"))
		app.Get("/dashboard/app.css", serve("app.css"))
		app.Get("/dashboard/app.js", serve("app.js"))
	}
}
