package vneidsim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// State files in Config.Dir. keys.json holds private keys and the pairwise
// secret and is rewritten atomically; citizens.jsonl is one JSON object per
// line, appended per enrollment so enrolling many riders stays linear.
const (
	keysFile     = "keys.json"
	citizensFile = "citizens.jsonl"
)

type keysDoc struct {
	PairwiseSecret string      `json:"pairwise_secret"`
	Keys           []keyRecord `json:"keys"`
}

type keyRecord struct {
	Kid       string    `json:"kid"`
	Seed      string    `json:"seed"` // Ed25519 seed, base64url
	CreatedAt time.Time `json:"created_at"`
}

// load restores (or creates) the secret, keys and citizens. Called once by New.
func (s *Server) load() error {
	if s.cfg.Dir == "" {
		return s.initKeys()
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("vneidsim: state dir: %w", err)
	}
	if err := s.loadKeys(); err != nil {
		return err
	}
	return s.loadCitizens()
}

func (s *Server) initKeys() error {
	secret := make([]byte, 32)
	if err := s.readRand(secret); err != nil {
		return err
	}
	k, err := s.newSigningKey()
	if err != nil {
		return err
	}
	if err := s.saveKeys(secret, []signingKey{k}); err != nil {
		return err
	}
	s.secret, s.keys = secret, []signingKey{k}
	return nil
}

func (s *Server) loadKeys() error {
	path := filepath.Join(s.cfg.Dir, keysFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s.initKeys()
	}
	if err != nil {
		return fmt.Errorf("vneidsim: read %s: %w", path, err)
	}
	var doc keysDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("vneidsim: parse %s: %w", path, err)
	}
	secret, err := base64.RawURLEncoding.DecodeString(doc.PairwiseSecret)
	if err != nil || len(secret) < 32 {
		return fmt.Errorf("vneidsim: %s: bad pairwise secret", path)
	}
	if len(doc.Keys) == 0 {
		return fmt.Errorf("vneidsim: %s: no signing keys", path)
	}
	keys := make([]signingKey, 0, len(doc.Keys))
	for _, r := range doc.Keys {
		seed, err := base64.RawURLEncoding.DecodeString(r.Seed)
		if err != nil || len(seed) != 32 {
			return fmt.Errorf("vneidsim: %s: key %s: bad seed", path, r.Kid)
		}
		k := keyFromSeed(seed, r.CreatedAt)
		if k.kid != r.Kid {
			return fmt.Errorf("vneidsim: %s: key %s: kid does not match its key", path, r.Kid)
		}
		keys = append(keys, k)
	}
	s.secret, s.keys = secret, keys
	return nil
}

// saveKeys persists secret and keys atomically; a no-op in memory mode.
func (s *Server) saveKeys(secret []byte, keys []signingKey) error {
	if s.cfg.Dir == "" {
		return nil
	}
	doc := keysDoc{PairwiseSecret: base64.RawURLEncoding.EncodeToString(secret)}
	for _, k := range keys {
		doc.Keys = append(doc.Keys, keyRecord{
			Kid:       k.kid,
			Seed:      base64.RawURLEncoding.EncodeToString(k.priv.Seed()),
			CreatedAt: k.created,
		})
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("vneidsim: encode keys: %w", err)
	}
	return writeFileAtomic(filepath.Join(s.cfg.Dir, keysFile), data)
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*") // created 0600
	if err != nil {
		return fmt.Errorf("vneidsim: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("vneidsim: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("vneidsim: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("vneidsim: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("vneidsim: write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows it
		d.Close()
	}
	return nil
}

// loadCitizens replays citizens.jsonl and opens it for appending. A last line
// cut short by a crash is dropped (and truncated away); damage elsewhere is an error.
func (s *Server) loadCitizens() error {
	path := filepath.Join(s.cfg.Dir, citizensFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("vneidsim: open %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("vneidsim: chmod %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return fmt.Errorf("vneidsim: read %s: %w", path, err)
	}
	good := 0 // bytes of complete, valid lines
	for lineNo := 1; good < len(data); lineNo++ {
		end := bytes.IndexByte(data[good:], '\n')
		if end < 0 {
			s.log.Warn("dropping truncated last line of citizens file", "line", lineNo)
			break
		}
		line := data[good : good+end]
		if len(bytes.TrimSpace(line)) > 0 {
			var c citizen
			if err := json.Unmarshal(line, &c); err != nil {
				f.Close()
				return fmt.Errorf("vneidsim: %s line %d: %w", path, lineNo, err)
			}
			if c.dob, err = time.ParseInLocation(dateLayout, c.DateOfBirth, vnZone); err != nil || c.Subject == "" || c.FaceRef == "" {
				f.Close()
				return fmt.Errorf("vneidsim: %s line %d: incomplete citizen record", path, lineNo)
			}
			cc := c
			s.byCCCD[c.CCCD] = &cc
			s.byFace[c.FaceRef] = &cc
		}
		good += end + 1
	}
	if good < len(data) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return fmt.Errorf("vneidsim: truncate %s: %w", path, err)
		}
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		f.Close()
		return fmt.Errorf("vneidsim: seek %s: %w", path, err)
	}
	s.citizens, s.citizensSize = f, int64(good)
	return nil
}

// appendCitizen writes one line; called with s.mu held. Not fsynced per line:
// a simulator restart keeps it (page cache), a power cut may lose the last few.
func (s *Server) appendCitizen(c *citizen) error {
	if s.cfg.Dir == "" {
		return nil
	}
	if s.citizens == nil {
		return fmt.Errorf("vneidsim: closed")
	}
	line, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("vneidsim: encode citizen: %w", err)
	}
	n, err := s.citizens.Write(append(line, '\n'))
	if err != nil {
		// Cut off a partial line so the next append starts clean.
		if n > 0 && s.citizens.Truncate(s.citizensSize) == nil {
			_, _ = s.citizens.Seek(s.citizensSize, 0)
		}
		return fmt.Errorf("vneidsim: append citizen: %w", err)
	}
	s.citizensSize += int64(n)
	return nil
}
