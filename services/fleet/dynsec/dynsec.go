// Package dynsec gives devices their identities on the broker, through
// Mosquitto's dynamic-security plugin: every device gets a login of its own,
// bound to its client id, and a role that lets it publish only its own taps
// and status and read only its own decisions and config, under its own site.
// A device is revoked by deleting its login, which disconnects it at once.
//
// The plugin is driven over MQTT: requests of commands are published on
// $CONTROL/dynamic-security/v1 and answered on .../response, a topic every
// administrator connection reads. Each command carries correlation data of
// this connection's own, so that answers to other administrators are ignored.
//
// Mosquitto 2.0's plugin cannot substitute the username into an ACL (no %u,
// unlike acl_file patterns), so each device has a role of its own naming its
// topics literally.
package dynsec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/vnpass/vnpass/proto"
)

const (
	requestTopic  = "$CONTROL/dynamic-security/v1"
	responseTopic = "$CONTROL/dynamic-security/v1/response"

	// rolePrefix names the role of each device: the role of device d is
	// rolePrefix+d. A login is a device's when it holds that role.
	rolePrefix = "vnpass-device-"
	// reservedPrefix is kept for the platform's own logins (vnpass-svc,
	// vnpass-gate, vnpass-admin): no device may be called so.
	reservedPrefix = "vnpass-"
)

// TestRoots is the topic root of test runs ("vnpass/t/<run-id>/v1"), with
// the run id as a wildcard.
const TestRoots = "vnpass/t/+/v1"

var (
	// ErrExists is returned when provisioning a device that already has a
	// login, unless its credentials are to be replaced.
	ErrExists = errors.New("dynsec: device already provisioned")
	// ErrNotFound is returned for a device without a login.
	ErrNotFound = errors.New("dynsec: no such device")
)

// ClientID is the MQTT client id a device's login is bound to: the one the
// gate agent uses ("gate-" + device). Another client id is refused at CONNECT,
// so a device cannot take over (and end) another device's session.
func ClientID(device string) string { return "gate-" + device }

// Device names a device where it stands.
type Device struct {
	Site   string `json:"site"`
	Device string `json:"device"`
}

func (d Device) check() error {
	if err := proto.CheckID(d.Site); err != nil {
		return fmt.Errorf("dynsec: site: %w", err)
	}
	if err := proto.CheckID(d.Device); err != nil {
		return fmt.Errorf("dynsec: device: %w", err)
	}
	if strings.HasPrefix(d.Device, reservedPrefix) {
		return fmt.Errorf("dynsec: device %q: the prefix %q is kept for the platform's own logins", d.Device, reservedPrefix)
	}
	return nil
}

// Credentials are what a device logs in with. The username is the device id.
type Credentials struct {
	Device
	Username string `json:"username"`
	Password string `json:"password"`
	ClientID string `json:"client_id"`
}

// Entry is a provisioned device as the plugin holds it.
type Entry struct {
	Device
	ClientID string `json:"client_id"`
	Disabled bool   `json:"disabled"`
}

// Config of an Admin connection.
type Config struct {
	BrokerURL, Username, Password string // the plugin's administrator
	// ClientID defaults to "dynsec-" and a random suffix.
	ClientID string
	// Roots are the topic roots a device's role covers. Default: the real
	// root (proto.DefaultRoot) and every test root (TestRoots).
	Roots []string
	// Timeout bounds each request; default 10s.
	Timeout time.Duration
}

// Admin is a connection to the plugin as its administrator. Safe for
// concurrent use.
type Admin struct {
	cfg    Config
	client mqtt.Client
	prefix string // correlation data prefix of this connection
	seq    atomic.Uint64

	mu      sync.Mutex
	pending map[string]chan response
}

// response is the plugin's answer to one command.
type response struct {
	Command     string          `json:"command"`
	Error       string          `json:"error,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	Correlation string          `json:"correlationData,omitempty"`
}

// command is one command of a request: its name and fields.
type command map[string]any

// Dial connects as the administrator and subscribes to the plugin's answers.
func Dial(ctx context.Context, cfg Config) (*Admin, error) {
	if cfg.BrokerURL == "" || cfg.Username == "" {
		return nil, errors.New("dynsec: broker URL and administrator login are required")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "dynsec-" + randomHex(6)
	}
	if len(cfg.Roots) == 0 {
		cfg.Roots = []string{proto.DefaultRoot, TestRoots}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	a := &Admin{cfg: cfg, prefix: cfg.ClientID + "/", pending: make(map[string]chan response)}
	opts := mqtt.NewClientOptions().AddBroker(cfg.BrokerURL).SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).SetPassword(cfg.Password).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(cfg.Timeout).
		SetOrderMatters(false)
	a.client = mqtt.NewClient(opts)
	if err := wait(ctx, a.client.Connect(), cfg.Timeout); err != nil {
		return nil, fmt.Errorf("dynsec: connect %s as %s: %w", cfg.BrokerURL, cfg.Username, err)
	}
	tok := a.client.Subscribe(responseTopic, 1, a.onResponse)
	if err := wait(ctx, tok, cfg.Timeout); err != nil {
		a.client.Disconnect(0)
		return nil, fmt.Errorf("dynsec: subscribe %s: %w", responseTopic, err)
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok && st.Result()[responseTopic] == 0x80 {
		a.client.Disconnect(0)
		return nil, fmt.Errorf("dynsec: %s may not administer the dynamic-security plugin", cfg.Username)
	}
	return a, nil
}

// Close disconnects.
func (a *Admin) Close() { a.client.Disconnect(100) }

func (a *Admin) onResponse(_ mqtt.Client, m mqtt.Message) {
	var body struct {
		Responses []response `json:"responses"`
	}
	if err := json.Unmarshal(m.Payload(), &body); err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range body.Responses {
		if ch, ok := a.pending[r.Correlation]; ok {
			delete(a.pending, r.Correlation)
			ch <- r
		}
	}
}

// do sends cmds in one request and returns their answers, in order. A
// command that failed has Error set; do fails only when the request does.
func (a *Admin) do(ctx context.Context, cmds ...command) ([]response, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	chans := make([]chan response, len(cmds))
	ids := make([]string, len(cmds))
	a.mu.Lock()
	for i, c := range cmds {
		ids[i] = a.prefix + strconv.FormatUint(a.seq.Add(1), 10)
		c["correlationData"] = ids[i]
		chans[i] = make(chan response, 1)
		a.pending[ids[i]] = chans[i]
	}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		for _, id := range ids {
			delete(a.pending, id)
		}
		a.mu.Unlock()
	}()
	payload, err := json.Marshal(map[string]any{"commands": cmds})
	if err != nil {
		return nil, err
	}
	if err := wait(ctx, a.client.Publish(requestTopic, 1, false, payload), a.cfg.Timeout); err != nil {
		return nil, fmt.Errorf("dynsec: send request: %w", err)
	}
	timer := time.NewTimer(a.cfg.Timeout)
	defer timer.Stop()
	out := make([]response, len(cmds))
	for i, ch := range chans {
		select {
		case out[i] = <-ch:
		case <-timer.C:
			return nil, fmt.Errorf("dynsec: no answer to %v within %v", cmds[i]["command"], a.cfg.Timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// role is the ACL of one device: publish its taps and status, subscribe to
// and receive its decisions and config, in each root, and nothing else.
func (a *Admin) role(d Device) []command {
	topics := proto.Topics{}
	var acls []command
	allow := func(typ, topic string) { acls = append(acls, command{"acltype": typ, "topic": topic, "allow": true}) }
	for _, root := range a.cfg.Roots {
		topics.Root = root
		allow("publishClientSend", topics.Taps(d.Site, d.Device))
		allow("publishClientSend", topics.Status(d.Site, d.Device))
		for _, t := range []string{topics.Decisions(d.Site, d.Device), topics.Config(d.Site, d.Device)} {
			allow("subscribePattern", t)
			allow("publishClientReceive", t)
		}
	}
	return acls
}

// Provision gives each device a login with a new random password and its
// role, and returns the credentials in the order given. A device that has a
// login already fails the whole call with ErrExists unless replace is set,
// which gives it a new password (its sessions are not ended) and moves it to
// the site given.
func (a *Admin) Provision(ctx context.Context, devices []Device, replace bool) ([]Credentials, error) {
	seen := make(map[string]bool, len(devices))
	for _, d := range devices {
		if err := d.check(); err != nil {
			return nil, err
		}
		if seen[d.Device] {
			return nil, fmt.Errorf("dynsec: device %q given twice", d.Device)
		}
		seen[d.Device] = true
	}
	// Which exist already: decided before anything changes.
	gets := make([]command, len(devices))
	for i, d := range devices {
		gets[i] = command{"command": "getClient", "username": d.Device}
	}
	got, err := a.do(ctx, gets...)
	if err != nil {
		return nil, err
	}
	exists := make([]bool, len(devices))
	var taken []string
	for i, r := range got {
		_, err := deviceClient(devices[i].Device, r)
		switch {
		case err == nil:
			exists[i] = true
			taken = append(taken, devices[i].Device)
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	if len(taken) > 0 && !replace {
		return nil, fmt.Errorf("%w: %s", ErrExists, strings.Join(taken, ", "))
	}

	creds := make([]Credentials, len(devices))
	var cmds []command
	for i, d := range devices {
		creds[i] = Credentials{Device: d, Username: d.Device, Password: randomHex(16), ClientID: ClientID(d.Device)}
		role := rolePrefix + d.Device
		client := command{
			"username": d.Device, "password": creds[i].Password, "clientid": creds[i].ClientID,
			"textname": d.Site, "textdescription": "vnpass device",
			"roles": []command{{"rolename": role}},
		}
		// A role left behind by a half-done provisioning is simply reused.
		cmds = append(cmds, command{"command": "createRole", "rolename": role},
			command{"command": "modifyRole", "rolename": role, "acls": a.role(d)})
		if exists[i] {
			client["command"] = "modifyClient"
		} else {
			client["command"] = "createClient"
		}
		cmds = append(cmds, client)
	}
	got, err = a.do(ctx, cmds...)
	if err != nil {
		return nil, err
	}
	for i, r := range got {
		if r.Error != "" && !(cmds[i]["command"] == "createRole" && isExists(r.Error)) {
			return nil, fmt.Errorf("dynsec: %v %v: %s", cmds[i]["command"], firstOf(cmds[i], "username", "rolename"), r.Error)
		}
	}
	return creds, nil
}

// Revoke deletes the device's login and role. The broker disconnects it at
// once ("disconnected by administrative action", without publishing its last
// will) and refuses it at every later CONNECT. Its persistent session stays
// on the broker until it expires (persistent_client_expiration).
func (a *Admin) Revoke(ctx context.Context, device string) error {
	if err := (Device{Site: "s", Device: device}).check(); err != nil {
		return err
	}
	got, err := a.do(ctx, command{"command": "getClient", "username": device})
	if err != nil {
		return err
	}
	if _, err := deviceClient(device, got[0]); err != nil {
		return err
	}
	got, err = a.do(ctx,
		command{"command": "deleteClient", "username": device},
		command{"command": "deleteRole", "rolename": rolePrefix + device})
	if err != nil {
		return err
	}
	switch {
	case isNotFound(got[0].Error):
		return fmt.Errorf("%w: %s", ErrNotFound, device) // revoked meanwhile
	case got[0].Error != "":
		return fmt.Errorf("dynsec: deleteClient %s: %s", device, got[0].Error)
	case got[1].Error != "" && !isNotFound(got[1].Error):
		return fmt.Errorf("dynsec: deleteRole %s: %s", rolePrefix+device, got[1].Error)
	}
	return nil
}

// deviceClient reads a getClient answer: ErrNotFound without a login, an
// error for a login that is not a device's (the platform's own are never
// touched).
func deviceClient(device string, r response) (clientJSON, error) {
	if isNotFound(r.Error) {
		return clientJSON{}, fmt.Errorf("%w: %s", ErrNotFound, device)
	}
	if r.Error != "" {
		return clientJSON{}, fmt.Errorf("dynsec: getClient %s: %s", device, r.Error)
	}
	var data struct {
		Client clientJSON `json:"client"`
	}
	if err := json.Unmarshal(r.Data, &data); err != nil {
		return clientJSON{}, fmt.Errorf("dynsec: getClient %s: %w", device, err)
	}
	if !data.Client.isDevice() {
		return clientJSON{}, fmt.Errorf("dynsec: login %q is not a device's", device)
	}
	return data.Client, nil
}

type clientJSON struct {
	Username string `json:"username"`
	ClientID string `json:"clientid"`
	Textname string `json:"textname"`
	Disabled bool   `json:"disabled"`
	Roles    []struct {
		Rolename string `json:"rolename"`
	} `json:"roles"`
}

func (c clientJSON) isDevice() bool {
	for _, r := range c.Roles {
		if r.Rolename == rolePrefix+c.Username {
			return true
		}
	}
	return false
}

// List returns the provisioned devices, by device id.
func (a *Admin) List(ctx context.Context) ([]Entry, error) {
	got, err := a.do(ctx, command{"command": "listClients", "verbose": true})
	if err != nil {
		return nil, err
	}
	if got[0].Error != "" {
		return nil, fmt.Errorf("dynsec: listClients: %s", got[0].Error)
	}
	var data struct {
		Clients []clientJSON `json:"clients"`
	}
	if err := json.Unmarshal(got[0].Data, &data); err != nil {
		return nil, fmt.Errorf("dynsec: listClients: %w", err)
	}
	var out []Entry
	for _, c := range data.Clients {
		if c.isDevice() {
			out = append(out, Entry{Device: Device{Site: c.Textname, Device: c.Username}, ClientID: c.ClientID, Disabled: c.Disabled})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device.Device < out[j].Device.Device })
	return out, nil
}

func isNotFound(e string) bool { return strings.HasSuffix(e, "not found") }
func isExists(e string) bool   { return strings.HasSuffix(e, "already exists") }

func firstOf(c command, keys ...string) any {
	for _, k := range keys {
		if v, ok := c[k]; ok {
			return v
		}
	}
	return ""
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// wait waits for a paho token, the context or the timeout.
func wait(ctx context.Context, tok mqtt.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no answer from the broker within %v", timeout)
	}
}
