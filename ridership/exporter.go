package ridership

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Exporter moves the outbox to the sink in batches.
type Exporter struct {
	Source    Source
	Sink      Sink
	Pseudo    *Pseudonymizer
	BatchSize int           // default 5000
	Interval  time.Duration // pause when the outbox is empty; default 500ms
	Log       *slog.Logger
}

// Once exports one batch of taps and one of journeys and reports how many
// rows went out.
func (e *Exporter) batch() int {
	if e.BatchSize <= 0 {
		return 5000
	}
	return e.BatchSize
}

func (e *Exporter) Once(ctx context.Context) (int, error) {
	n := e.batch()
	taps, err := e.Source.PendingTaps(ctx, n, e.Pseudo.Key)
	if err != nil {
		return 0, fmt.Errorf("ridership: read taps: %w", err)
	}
	if len(taps) > 0 {
		if err := e.Sink.WriteTaps(ctx, taps); err != nil {
			return 0, fmt.Errorf("ridership: write %d taps: %w", len(taps), err)
		}
		if err := e.Source.MarkTapsExported(ctx, taps[len(taps)-1].Outbox); err != nil {
			return 0, fmt.Errorf("ridership: mark taps: %w", err)
		}
	}
	js, err := e.Source.PendingJourneys(ctx, n, e.Pseudo.Key)
	if err != nil {
		return len(taps), fmt.Errorf("ridership: read journeys: %w", err)
	}
	if len(js) > 0 {
		if err := e.Sink.WriteJourneys(ctx, js); err != nil {
			return len(taps), fmt.Errorf("ridership: write %d journeys: %w", len(js), err)
		}
		if err := e.Source.MarkJourneysExported(ctx, js[len(js)-1].Outbox); err != nil {
			return len(taps), fmt.Errorf("ridership: mark journeys: %w", err)
		}
	}
	return len(taps) + len(js), nil
}

// Run exports until ctx ends. Errors are logged and retried after a pause:
// the outbox keeps everything until the sink has it.
func (e *Exporter) Run(ctx context.Context) error {
	pause := e.Interval
	if pause <= 0 {
		pause = 500 * time.Millisecond
	}
	log := e.Log
	if log == nil {
		log = slog.Default()
	}
	for {
		n, err := e.Once(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.ErrorContext(ctx, "ridership export failed", "err", err)
		}
		if err == nil && n >= e.batch() {
			// A full batch: more is waiting, go on at once. A partial
			// one waits for the interval, so that a steady stream of taps
			// is written in batches of an interval's worth instead of many
			// small ones (each insert is a part ClickHouse must merge).
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pause):
		}
	}
}
