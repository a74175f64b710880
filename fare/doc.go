// Package fare owns fare data and pricing: the GTFS Fares v2 files an operator
// publishes (Hanoi Metro Lines 2A and 3, HCMC Metro Line 1), the validated
// Table loaded from them, and the answers a gate and a ledger need from it:
// the price of a journey for a rider category at its times (PriceFor, with
// GTFS timeframes and their service calendar), the category a rider's VNeID
// attributes give them (Category), the price of a leg after a transfer
// (Transfer), the daily and monthly caps (Cap) and passes (NewPass,
// PassCovers), each naming the data row that decided it.
//
// It is a pure domain package: no I/O beyond the fs.FS it is handed, no
// logging, no clock (callers pass the time; Day and Month cut it into local
// days and months in Asia/Ho_Chi_Minh). Pairing taps into journeys, missing
// taps and what was spent so far belong to the caller. See README.md.
package fare

//go:generate go run ./internal/genfare -out data
