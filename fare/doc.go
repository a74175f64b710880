// Package fare owns fare data and pricing: the GTFS Fares v2 files an operator
// publishes, the validated Table loaded from them, and the price of a journey
// between an entry gate and an exit gate.
//
// It is a pure domain package: no I/O beyond the fs.FS it is handed, no
// logging, no clock yet (timeframes, passes and capping come later).
package fare

//go:generate go run ./internal/gen2a -out data/hanoi
