package ridership

import (
	"time"

	"github.com/shopspring/decimal"
)

// ParkingSession is a closed parking session as analytics see it: the rider
// and the plate only as keyed hashes (Pseudonymizer.Key), so that visits can
// be counted per vehicle without knowing whose it is.
type ParkingSession struct {
	ID           int64
	Lot          string
	OperatorID   string
	RiderKey     string
	PlateKey     string
	Class        string
	Tariff       string
	EntryAt      time.Time
	ExitAt       time.Time
	Fee          decimal.Decimal
	Rule         string
	EntryOffline bool
	ExitOffline  bool
	Override     bool
}
