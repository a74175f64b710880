// Command vnpass-rush sends simulated riders through simulated gates at
// metro stations, over the real broker, the VNeID provider and the
// platform's API, and prints what every gate shows and a summary.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vnpass/vnpass/fare"
	"github.com/vnpass/vnpass/loadtest/rush"
	"github.com/vnpass/vnpass/money"
	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vnpass-rush:", err)
		os.Exit(1)
	}
}

// stationsOf lists the stops of a fare network in the published fare data,
// in the order the feed lists them (along the line).
func stationsOf(network string) ([]string, error) {
	t, err := fare.LoadGTFS(fare.HanoiData())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range t.Stops() {
		if s.NetworkID == network {
			out = append(out, s.ID)
		}
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("network %q has %d stations in the fare data", network, len(out))
	}
	return out, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("vnpass-rush", flag.ContinueOnError)
	riders := fs.Int("riders", 200, "riders to send through the gates")
	window := fs.Duration("window", 20*time.Second, "arrivals spread over this long")
	ride := fs.Duration("ride", 3*time.Second, "least time on the train (up to 1.5 times that); the service refuses exits sooner than VNPASS_MIN_TAP_INTERVAL (3s) after entry")
	gates := fs.Int("gates", 2, "entry and exit gates per station")
	network := fs.String("network", "hn2a", "fare network whose stations get gates (hn2a: Hanoi Line 2A)")
	stations := fs.String("stations", "", "comma-separated station (site) ids instead of a whole network")
	quiet := fs.Bool("quiet", false, "do not print every gate event")
	timeout := fs.Duration("timeout", 2*time.Second, "how long a gate waits for a decision (keep equal to the service's VNPASS_DECISION_TIMEOUT)")
	postpaid := fs.Int("postpaid-every", 5, "every n-th adult rider travels post-paid from a linked bank account (needs VNPASS_API_SECRET and a payment provider; 0: none)")
	lot := fs.String("parking-lot", "hnp-cat-linh", "parking lot whose entry and exit barriers some riders park a motorbike at (\"\": none)")
	parkEvery := fs.Int("park-every", 10, "every n-th rider parks at -parking-lot before the trip and leaves after (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	need := func(name string) (string, error) {
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("%s is not set (deploy/local/run.sh sets it)", name)
		}
		return v, nil
	}
	var cfg rush.Config
	var err error
	for _, f := range []struct {
		dst  *string
		name string
	}{
		{&cfg.BrokerURL, "VNPASS_MQTT_URL"}, {&cfg.GateUser, "VNPASS_MQTT_GATE_USER"}, {&cfg.GatePass, "VNPASS_MQTT_GATE_PASSWORD"},
		{&cfg.VNeIDURL, "VNPASS_VNEID_URL"}, {&cfg.VNeIDClientKey, "VNPASS_VNEID_CLIENT_KEY"},
		{&cfg.APIURL, "VNPASS_API_URL"}, {&cfg.APIToken, "VNPASS_API_TOKEN"},
	} {
		if *f.dst, err = need(f.name); err != nil {
			return err
		}
	}
	cfg.Topics = proto.Topics{Root: getenv("VNPASS_MQTT_ROOT")}
	if *stations != "" {
		cfg.Stations = strings.Split(*stations, ",")
	} else if cfg.Stations, err = stationsOf(*network); err != nil {
		return err
	}
	cfg.Riders, cfg.Window, cfg.RideTime, cfg.GatesPerStation, cfg.DecisionTimeout = *riders, *window, *ride, *gates, *timeout
	cfg.ParkingLot, cfg.ParkEvery = *lot, *parkEvery
	if secret := getenv("VNPASS_API_SECRET"); *postpaid > 0 && secret != "" && getenv("VNPASS_PAY_URL") != "" {
		// The simulation acts as the riders' app: it signs in as each
		// post-paid rider to link their bank account.
		iss, err := authjwt.New([]byte(secret), nil)
		if err != nil {
			return err
		}
		cfg.PostpaidEvery = *postpaid
		cfg.RiderToken = func(subject string) (string, error) { return iss.Issue(subject, authjwt.RoleRider, time.Hour) }
	}
	cfg.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	if !*quiet {
		cfg.Out = stdout
	}
	fmt.Fprintf(stdout, "vnpass rush: %d riders through %d stations, %d entry and %d exit gates each, arrivals over %s\n\n",
		cfg.Riders, len(cfg.Stations), cfg.GatesPerStation, cfg.GatesPerStation, cfg.Window)
	rep, err := rush.Run(ctx, cfg)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	var fares, postpaidFares int64
	free, postpaidRiders := 0, 0
	for _, t := range rep.Trips {
		if f := t.Exit.Decision.FareVND; f != nil {
			fares += *f
			if *f == 0 {
				free++
			}
			if t.Rider.Postpaid {
				postpaidFares += *f
			}
		}
		if t.Rider.Postpaid {
			postpaidRiders++
		}
	}
	fmt.Fprintf(stdout, "\n── Tổng kết / Summary ─────────────────────────────\n")
	fmt.Fprintf(stdout, "taps %d: opened %d, refused %d, timed out %d, in %s\n", rep.Taps, rep.Opened, rep.Refused, rep.TimedOut, rep.Elapsed.Round(time.Millisecond))
	if rep.TappedAgain > 0 {
		fmt.Fprintf(stdout, "%d taps made again after the gate's own failure (its VNeID match or uplink: the machine is loaded)\n", rep.TappedAgain)
	}
	fmt.Fprintf(stdout, "decision latency (publish -> decision): p50 %s  p95 %s  p99 %s  max %s\n",
		rep.Percentile(50).Round(time.Microsecond), rep.Percentile(95).Round(time.Microsecond),
		rep.Percentile(99).Round(time.Microsecond), rep.Percentile(100).Round(time.Microsecond))
	fmt.Fprintf(stdout, "fares charged at exit gates: %s; %d riders rode free (children under 6, people 60+)\n", money.Format(money.Dong(fares)), free)
	if postpaidRiders > 0 {
		fmt.Fprintf(stdout, "%d riders travelled post-paid (a linked bank account): %s to collect\n", postpaidRiders, money.Format(money.Dong(postpaidFares)))
	}
	if rep.ParkingTaps > 0 {
		var parkFees int64
		for _, t := range rep.Trips {
			if f := t.ParkOut.Decision.FareVND; f != nil {
				parkFees += *f
			}
		}
		fmt.Fprintf(stdout, "parking at %s: %d barrier taps, %d opened; fees %s (stays within the free minutes)\n",
			cfg.ParkingLot, rep.ParkingTaps, rep.ParkingOpened, money.Format(money.Dong(parkFees)))
	}
	if len(rep.Trips) > 0 {
		t := rep.Trips[0]
		fmt.Fprintf(stdout, "a rider to look up: %s (%s -> %s)\n", t.Rider.Subject, t.Origin, t.Destination)
	}
	if rep.Taps != rep.Opened {
		return fmt.Errorf("%d of %d taps did not open", rep.Taps-rep.Opened, rep.Taps)
	}
	if rep.ParkingTaps != rep.ParkingOpened {
		return fmt.Errorf("%d of %d parking barrier taps did not open", rep.ParkingTaps-rep.ParkingOpened, rep.ParkingTaps)
	}
	return nil
}
