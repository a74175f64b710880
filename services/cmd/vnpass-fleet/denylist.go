package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/vnpass/vnpass/proto"
	"github.com/vnpass/vnpass/services/authjwt"
)

// defaultDecisionTimeoutMS is the decision timeout of a gate's first config
// (the agent's default, and the fare service's VNPASS_DECISION_TIMEOUT).
const defaultDecisionTimeoutMS = 2000

// denyListSync keeps every gate's deny list current: the riders a gate
// deciding offline refuses at entry (accounts suspended or closed, riders
// who owe money), as the fare service lists them.
type denyListSync struct {
	current proto.DenyList
	digest  [32]byte
}

// syncDenyList fetches the deny list every DenyListEvery and pushes it to
// every gate whose config does not carry the current version, issuing a
// new version when the list changed or is older than DenyListRefresh.
func (m *Main) syncDenyList(ctx context.Context) {
	var s denyListSync
	t := time.NewTicker(m.Config.DenyListEvery)
	defer t.Stop()
	for {
		if err := m.syncDenyListOnce(ctx, &s); err != nil && ctx.Err() == nil {
			m.Log.Warn("deny list not synchronised", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Main) syncDenyListOnce(ctx context.Context, s *denyListSync) error {
	subjects, err := m.fetchDenyList(ctx)
	if err != nil {
		return err
	}
	sort.Strings(subjects)
	digest := sha256.Sum256([]byte(strings.Join(subjects, "\n")))
	now := m.Config.Now()
	if s.current.Version == 0 || digest != s.digest || now.Sub(s.current.IssuedAt.Time) >= m.Config.DenyListRefresh {
		v := proto.At(now).UnixMilli()
		if v <= s.current.Version {
			v = s.current.Version + 1
		}
		s.current = proto.DenyList{Version: v, IssuedAt: proto.At(now), Subjects: subjects}
		s.digest = digest
		m.Log.Info("deny list issued", "version", v, "riders", len(subjects))
	}
	pushed, failed := 0, 0
	for _, d := range m.Fleet.Devices() {
		if d.Config != nil && d.Config.Config.DenyList != nil && d.Config.Config.DenyList.Version >= s.current.Version {
			continue
		}
		if d.Kind == "" {
			continue
		}
		dl := s.current
		want := proto.Config{DenyList: &dl}
		if d.Config == nil {
			// A gate's first config: the decision timeout it starts with.
			want.DecisionTimeoutMS = defaultDecisionTimeoutMS
		}
		m.pushMu.Lock()
		cfg, err := m.Fleet.NextConfig(d.Site, d.Device, want, now)
		if err == nil {
			err = m.Watcher.Push(ctx, cfg)
		}
		m.pushMu.Unlock()
		if err != nil {
			failed++
			m.Log.Warn("deny list not pushed", "site", d.Site, "device", d.Device, "err", err)
			continue
		}
		pushed++
	}
	if pushed > 0 {
		m.Log.Info("deny list pushed", "version", s.current.Version, "devices", pushed)
	}
	if failed > 0 {
		return fmt.Errorf("deny list version %d: %d gates not reached", s.current.Version, failed)
	}
	return nil
}

// fetchDenyList asks the fare service with a service token (signed with
// the platform's secret, good for a minute, for the deny list and rail
// tickets only).
func (m *Main) fetchDenyList(ctx context.Context) ([]string, error) {
	tok, err := m.Auth.Issue("vnpass-fleet", authjwt.RoleService, time.Minute)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.Config.DenyListURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("deny list: %s", resp.Status)
	}
	var body struct {
		Subjects []string `json:"subjects"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 8<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("deny list: %w", err)
	}
	return body.Subjects, nil
}
