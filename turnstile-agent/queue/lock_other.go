//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package queue

import "os"

// lockFile does nothing where flock is not available; one agent per queue
// directory is then up to the deployment.
func lockFile(*os.File) error { return nil }
