package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
)

// railTicketsSync keeps every rail gate's ticket list current: the tickets
// its station's gates admit soon, for their offline decisions, as the fare
// service lists them (GET /v1/rail/tickets). One list per site, versioned
// like the deny list.
type railTicketsSync struct {
	sites map[string]*siteTickets
}

type siteTickets struct {
	list   proto.TicketList
	digest [32]byte
}

// railTicketsAnswer is the fare service's answer.
type railTicketsAnswer struct {
	Station      string             `json:"station"`
	Site         string             `json:"site"`
	From         proto.Time         `json:"from"`
	Until        proto.Time         `json:"until"`
	AdmitBeforeS int                `json:"admit_before_s"`
	AdmitAfterS  int                `json:"admit_after_s"`
	Truncated    bool               `json:"truncated"`
	Tickets      []proto.GateTicket `json:"tickets"`
}

// syncRailTickets fetches each rail station's tickets every
// RailTicketsEvery and pushes them to the station's rail gates whose
// config does not carry the current version, issuing a new version when
// the list changed or is older than RailTicketsRefresh.
func (m *Main) syncRailTickets(ctx context.Context) {
	s := railTicketsSync{sites: map[string]*siteTickets{}}
	t := time.NewTicker(m.Config.RailTicketsEvery)
	defer t.Stop()
	for {
		if err := m.syncRailTicketsOnce(ctx, &s); err != nil && ctx.Err() == nil {
			m.Log.Warn("rail tickets not synchronised", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Main) syncRailTicketsOnce(ctx context.Context, s *railTicketsSync) error {
	gates := map[string][]string{} // site -> rail gates seen there
	for _, d := range m.Fleet.Devices() {
		if d.Kind == proto.KindRailGate {
			gates[d.Site] = append(gates[d.Site], d.Device)
		}
	}
	sites := make([]string, 0, len(gates))
	for site := range gates {
		sites = append(sites, site)
	}
	sort.Strings(sites)
	var errs []error
	for _, site := range sites {
		if err := m.syncSiteTickets(ctx, s, site, gates[site]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", site, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Main) syncSiteTickets(ctx context.Context, s *railTicketsSync, site string, devices []string) error {
	ans, err := m.fetchRailTickets(ctx, site)
	if err != nil {
		return err
	}
	if ans.Tickets == nil {
		ans.Tickets = []proto.GateTicket{}
	}
	b, err := json.Marshal(struct {
		Station       string
		Before, After int
		Tickets       []proto.GateTicket
	}{ans.Station, ans.AdmitBeforeS, ans.AdmitAfterS, ans.Tickets})
	if err != nil {
		return err
	}
	digest := sha256.Sum256(b)
	now := m.Config.Now()
	cur := s.sites[site]
	if cur == nil || digest != cur.digest || now.Sub(cur.list.IssuedAt.Time) >= m.Config.RailTicketsRefresh {
		v := proto.At(now).UnixMilli()
		if cur != nil && v <= cur.list.Version {
			v = cur.list.Version + 1
		}
		cur = &siteTickets{digest: digest, list: proto.TicketList{
			Version: v, IssuedAt: proto.At(now), Station: ans.Station, From: ans.From, Until: ans.Until,
			AdmitBeforeS: ans.AdmitBeforeS, AdmitAfterS: ans.AdmitAfterS, Tickets: ans.Tickets,
		}}
		s.sites[site] = cur
		m.Log.Info("rail tickets issued", "site", site, "station", ans.Station, "version", v, "tickets", len(ans.Tickets),
			"until", ans.Until.Time, "truncated", ans.Truncated)
		if ans.Truncated {
			m.Log.Warn("rail tickets cut to the most a gate takes: gates refuse offline after until", "site", site, "until", ans.Until.Time)
		}
	}
	pushed, failed := 0, 0
	for _, id := range devices {
		d, ok := m.Fleet.Device(site, id)
		if !ok || d.Kind != proto.KindRailGate {
			continue
		}
		if d.Config != nil && d.Config.Config.Tickets != nil && d.Config.Config.Tickets.Version >= cur.list.Version {
			continue
		}
		l := cur.list
		want := proto.Config{Tickets: &l}
		if d.Config == nil {
			want.DecisionTimeoutMS = defaultDecisionTimeoutMS
		}
		m.pushMu.Lock()
		cfg, err := m.Fleet.NextConfig(site, id, want, now)
		if err == nil {
			err = m.Watcher.Push(ctx, cfg)
		}
		m.pushMu.Unlock()
		if err != nil {
			failed++
			m.Log.Warn("rail tickets not pushed", "site", site, "device", id, "err", err)
			continue
		}
		pushed++
	}
	if pushed > 0 {
		m.Log.Info("rail tickets pushed", "site", site, "version", cur.list.Version, "devices", pushed)
	}
	if failed > 0 {
		return fmt.Errorf("ticket list version %d: %d gates not reached", cur.list.Version, failed)
	}
	return nil
}

// fetchRailTickets asks the fare service for a site's tickets with a
// service token (signed with the platform's secret, good for a minute).
func (m *Main) fetchRailTickets(ctx context.Context, site string) (railTicketsAnswer, error) {
	var ans railTicketsAnswer
	tok, err := m.Auth.Issue("vnpass-fleet", authjwt.RoleService, time.Minute)
	if err != nil {
		return ans, err
	}
	u, err := url.Parse(m.Config.RailTicketsURL)
	if err != nil {
		return ans, fmt.Errorf("rail tickets: %w", err)
	}
	q := u.Query()
	q.Set("station", site)
	q.Set("hours", strconv.Itoa(m.Config.RailTicketsHours))
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return ans, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ans, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ans, fmt.Errorf("rail tickets: %s", resp.Status)
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 8<<20)).Decode(&ans); err != nil {
		return ans, fmt.Errorf("rail tickets: %w", err)
	}
	if ans.Site != "" && ans.Site != site {
		return ans, fmt.Errorf("rail tickets: asked for site %s, got %s", site, ans.Site)
	}
	return ans, nil
}
