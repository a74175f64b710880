package riderhttp

import (
	"embed"
	"io/fs"

	"github.com/gofiber/fiber/v2"
	"github.com/vnpass/vnpass/services/accounthttp"
)

//go:embed web
var web embed.FS

// Page returns the rider's mobile page (accounthttp.Config.Public): a few
// kilobytes of HTML, CSS and script, no framework, at /rider/ (and /rider: routing is not strict). The VNeID
// app opens it as /rider/#token=<rider token>; the fragment never reaches
// a server and the script keeps the token for the tab only.
func Page() func(app fiber.Router) {
	files, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // embedded at build time
	}
	return accounthttp.StaticPage("/rider", files)
}
