//go:build !linux

package queue

import "os"

func syncData(f *os.File) error { return f.Sync() }
