package dashhttp

import (
	"embed"
	"io/fs"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/services/accounthttp"
)

//go:embed web
var web embed.FS

// Page returns the dashboard page (accounthttp.Config.Public) at
// /dashboard/: HTML, CSS and a small script that draws its own SVG charts,
// no framework and nothing fetched from outside. It is opened as
// /dashboard/#token=<operator token>; the fragment never reaches a server.
func Page() func(app fiber.Router) {
	files, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // embedded at build time
	}
	return accounthttp.StaticPage("/dashboard", files)
}
