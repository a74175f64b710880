package accounthttp

import (
	"io/fs"
	"mime"
	"path"

	"github.com/gofiber/fiber/v2"
)

// StaticPage serves a page of the platform (Config.Public: the rider's
// phone page, the operators' dashboard) from files, which holds index.html,
// app.css and app.js: at prefix+"/" and beside it, with a strict content
// security policy, no framework and nothing fetched from outside. A file
// missing from files is a build error, so it panics.
func StaticPage(prefix string, files fs.FS) func(app fiber.Router) {
	serve := func(name string) fiber.Handler {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			panic(err) // embedded at build time
		}
		ct := mime.TypeByExtension(path.Ext(name))
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
	index, css, js := serve("index.html"), serve("app.css"), serve("app.js")
	return func(app fiber.Router) {
		app.Get(prefix+"/", index)
		app.Get(prefix+"/app.css", css)
		app.Get(prefix+"/app.js", js)
	}
}
