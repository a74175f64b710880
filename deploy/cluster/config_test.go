package cluster

// Cross-references: what the schemas cannot see. Every environment variable
// a container is given is one its binary reads; every Secret, ConfigMap,
// Service, port and label a manifest points at exists; probes ask for
// routes the service serves; alerts use only metric names the code (or
// CloudNativePG's default queries) exports. The Go sources are read from
// the repository around this module (../..).

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const repo = "../.."

// goSources reads the non-test Go files under dirs (recursively).
func goSources(t *testing.T, dirs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(repo, d), func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			data, err := os.ReadFile(p)
			b.Write(data)
			b.WriteByte('\n')
			return err
		})
		if err != nil {
			t.Fatalf("read the Go sources of %s: %v", d, err)
		}
	}
	return b.String()
}

var getenvCall = regexp.MustCompile(`(?:getenv|Getenv|envOr\(getenv,)\s*\(?\s*"([A-Z][A-Z0-9_]*)"`)

// envRead is the set of environment variables a binary's sources read.
func envRead(src string) map[string]bool {
	out := map[string]bool{}
	for _, m := range getenvCall.FindAllStringSubmatch(src, -1) {
		out[m[1]] = true
	}
	return out
}

// world is the manifests, decoded, with what the operators create from them.
type world struct {
	docs        []doc
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]map[string]bool // name -> keys (example Secrets and operator-made ones)
	// operatorServices: name -> ports of the Services the operators create
	// for the custom resources in the manifests.
	operatorServices map[string][]int32
	// operatorPods: label sets of the pods the operators create.
	operatorPods []map[string]string
}

func decodeAs[T any](t *testing.T, d doc) *T {
	t.Helper()
	v := new(T)
	if err := strictYAML(d.Raw, v); err != nil {
		t.Fatalf("%s: %v", d, err)
	}
	return v
}

func load(t *testing.T) *world {
	t.Helper()
	_, docs := loadManifests(t)
	data, err := os.ReadFile("secrets.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secretDocs, err := splitDocs("secrets.example.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return newWorld(t, docs, secretDocs)
}

func newWorld(t *testing.T, docs, secretDocs []doc) *world {
	t.Helper()
	w := &world{docs: docs, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]map[string]bool{},
		operatorServices: map[string][]int32{}}
	for _, d := range secretDocs {
		s := decodeAs[corev1.Secret](t, d)
		keys := map[string]bool{}
		for k := range s.StringData {
			keys[k] = true
		}
		for k := range s.Data {
			keys[k] = true
		}
		w.secrets[s.Name] = keys
	}
	for _, d := range docs {
		spec, _ := d.Obj["spec"].(map[string]any)
		switch d.APIVersion + "/" + d.Kind {
		case "apps/v1/Deployment":
			w.deployments = append(w.deployments, decodeAs[appsv1.Deployment](t, d))
		case "v1/Service":
			w.services = append(w.services, decodeAs[corev1.Service](t, d))
		case "v1/ConfigMap":
			w.configMaps[d.Name] = decodeAs[corev1.ConfigMap](t, d)
		case "postgresql.cnpg.io/v1/Cluster":
			// CloudNativePG: Services <name>-rw/-ro/-r and, with initdb,
			// the Secret <name>-app for the database owner.
			for _, sfx := range []string{"-rw", "-ro", "-r"} {
				w.operatorServices[d.Name+sfx] = []int32{5432}
			}
			if at(spec, []string{"bootstrap", "initdb"}) != nil {
				w.secrets[d.Name+"-app"] = setOf("username", "password", "host", "port", "dbname", "uri", "jdbc-uri", "pgpass")
			}
			w.operatorPods = append(w.operatorPods, map[string]string{"cnpg.io/cluster": d.Name})
		case "apps.emqx.io/v2beta1/EMQX":
			w.operatorServices[d.Name+"-listeners"] = []int32{1883, 8883}
			w.operatorServices[d.Name+"-dashboard"] = []int32{18083}
			w.operatorPods = append(w.operatorPods, map[string]string{"apps.emqx.io/instance": d.Name})
		case "clickhouse.altinity.com/v1/ClickHouseInstallation":
			w.operatorServices["clickhouse-"+d.Name] = []int32{8123, 9000}
			w.operatorPods = append(w.operatorPods, map[string]string{"clickhouse.altinity.com/chi": d.Name})
		case "clickhouse-keeper.altinity.com/v1/ClickHouseKeeperInstallation":
			w.operatorServices["keeper-"+d.Name] = []int32{2181}
			w.operatorPods = append(w.operatorPods, map[string]string{"clickhouse-keeper.altinity.com/chk": d.Name})
		}
	}
	return w
}

func setOf(s ...string) map[string]bool {
	out := map[string]bool{}
	for _, v := range s {
		out[v] = true
	}
	return out
}

// binaries: which command each container runs, where its sources and its
// HTTP routes are, and what its config refuses to start without
// (Validate in its config.go).
var binaries = map[string]struct {
	Sources  []string
	Routes   []string
	Required []string
	AddrEnv  string
}{
	"vnpass-fare": {
		Sources: []string{"services/cmd/vnpass-fare"},
		Routes:  []string{"services/accounthttp"},
		Required: []string{"VNPASS_PG_URL", "VNPASS_MQTT_URL", "VNPASS_CH_ADDR", "VNPASS_VNEID_ISSUER",
			"VNPASS_VNEID_JWKS_URL", "VNPASS_API_SECRET", "VNPASS_PSEUDONYM_KEY", "VNPASS_METRICS_TOKEN"},
		AddrEnv: "VNPASS_API_ADDR",
	},
	"vnpass-fleet": {
		Sources:  []string{"services/cmd/vnpass-fleet"},
		Routes:   []string{"services/fleet/fleethttp"},
		Required: []string{"VNPASS_MQTT_URL", "VNPASS_API_SECRET", "VNPASS_METRICS_TOKEN"},
		AddrEnv:  "VNPASS_FLEET_ADDR",
	},
}

// containerEnv is a container's environment: name -> value ("" when it
// comes from a Secret or the downward API).
func (w *world) containerEnv(c corev1.Container) (map[string]string, []string) {
	env := map[string]string{}
	var problems []string
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			problems = append(problems, "envFrom other than a ConfigMap")
			continue
		}
		cm := w.configMaps[ef.ConfigMapRef.Name]
		if cm == nil {
			problems = append(problems, fmt.Sprintf("envFrom ConfigMap %q does not exist", ef.ConfigMapRef.Name))
			continue
		}
		for k, v := range cm.Data {
			env[ef.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env, problems
}

// checkWorkloads: env, probes, ports, references of every Deployment.
func (w *world) checkWorkloads(t *testing.T) []string {
	var problems []string
	bad := func(d *appsv1.Deployment, format string, a ...any) {
		problems = append(problems, fmt.Sprintf("Deployment %s: %s", d.Name, fmt.Sprintf(format, a...)))
	}
	for _, d := range w.deployments {
		if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			bad(d, "selector %v does not select its pods %v", d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)
		}
		ps := d.Spec.Template.Spec
		// Pod Security "restricted", which the namespace only warns about.
		if sc := ps.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
			sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			bad(d, "pods must run as non-root with the RuntimeDefault seccomp profile")
		}
		for _, c := range ps.Containers {
			bin, ok := binaries[c.Name]
			if !ok {
				bad(d, "container %q: no binary of that name in services/cmd", c.Name)
				continue
			}
			if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0 {
				bad(d, "container %s: read-only root filesystem, no privilege escalation and all capabilities dropped required", c.Name)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				bad(d, "container %s: CPU and memory requests and a memory limit required", c.Name)
			}
			read := envRead(goSources(t, bin.Sources...))
			env, ps := w.containerEnv(c)
			for _, p := range ps {
				bad(d, "container %s: %s", c.Name, p)
			}
			names := make([]string, 0, len(env))
			for n := range env {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if !read[n] {
					bad(d, "container %s: %s is set but %s never reads it", c.Name, n, strings.Join(bin.Sources, ", "))
				}
			}
			for _, n := range bin.Required {
				if _, ok := env[n]; !ok {
					bad(d, "container %s: %s is required by the binary's config and not set", c.Name, n)
				}
			}
			if _, a := env["VNPASS_PAY_URL"]; a {
				if _, b := env["VNPASS_PAY_CLIENT_KEY"]; !b {
					bad(d, "container %s: VNPASS_PAY_URL without VNPASS_PAY_CLIENT_KEY (the config refuses it)", c.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil && !w.secrets[r.Name][r.Key] {
					bad(d, "container %s: %s from Secret %s key %s, which neither secrets.example.yaml nor an operator provides", c.Name, e.Name, r.Name, r.Key)
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					if cm := w.configMaps[r.Name]; cm == nil || cm.Data[r.Key] == "" {
						bad(d, "container %s: %s from ConfigMap %s key %s, which does not exist", c.Name, e.Name, r.Name, r.Key)
					}
				}
			}
			// The address the binary listens on is the port the pod declares.
			ports := map[string]int32{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
			if addr, ok := env[bin.AddrEnv]; !ok {
				bad(d, "container %s: %s not set: the binary would listen on loopback only", c.Name, bin.AddrEnv)
			} else if host, port, err := net.SplitHostPort(addr); err != nil || (host != "0.0.0.0" && host != "" && host != "::") {
				bad(d, "container %s: %s=%q must listen on all interfaces", c.Name, bin.AddrEnv, addr)
			} else if n, _ := strconv.Atoi(port); int32(n) != ports["http"] {
				bad(d, "container %s: %s port %s is not the declared container port http (%d)", c.Name, bin.AddrEnv, port, ports["http"])
			}
			routes := goSources(t, bin.Routes...)
			for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
				if p == nil {
					if what != "startup" {
						bad(d, "container %s: no %s probe", c.Name, what)
					}
					continue
				}
				var port string
				switch {
				case p.HTTPGet != nil:
					port = p.HTTPGet.Port.String()
					if !strings.Contains(routes, `.Get("`+p.HTTPGet.Path+`"`) {
						bad(d, "container %s: %s probe asks for %s, which %s does not serve", c.Name, what, p.HTTPGet.Path, strings.Join(bin.Routes, ", "))
					}
				case p.TCPSocket != nil:
					port = p.TCPSocket.Port.String()
				default:
					bad(d, "container %s: %s probe is neither httpGet nor tcpSocket", c.Name, what)
					continue
				}
				if _, named := ports[port]; !named {
					found := false
					for _, n := range ports {
						if strconv.Itoa(int(n)) == port {
							found = true
						}
					}
					if !found {
						bad(d, "container %s: %s probe port %s is not a declared container port", c.Name, what, port)
					}
				}
			}
		}
	}
	return problems
}

// selects: every label of sel is in labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// podsOf: the Deployments whose pods sel selects.
func (w *world) podsOf(sel map[string]string) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range w.deployments {
		if selects(sel, d.Spec.Template.Labels) {
			out = append(out, d)
		}
	}
	return out
}

// readerPods are the labels of pods deployed outside these manifests that
// policies let in on purpose: read-only PostgreSQL clients (dashboards,
// partner reads, exports) carry vnpass.vn/pg-client: ro (README.md, "Read
// replicas").
var readerPods = []map[string]string{{"vnpass.vn/pg-client": "ro"}}

// anyPod: sel selects a Deployment's pods, an operator's, or readers'.
func (w *world) anyPod(sel map[string]string) bool {
	if len(w.podsOf(sel)) > 0 {
		return true
	}
	for _, l := range readerPods {
		if selects(sel, l) {
			return true
		}
	}
	for _, l := range w.operatorPods {
		if selects(sel, l) {
			return true
		}
	}
	return false
}

// checkReferences: Services, PDBs, HPAs, monitors, policies, Secrets and
// in-cluster URLs point at things that exist.
func (w *world) checkReferences(t *testing.T) []string {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	svcPorts := map[string][]int32{}
	for n, p := range w.operatorServices {
		svcPorts[n] = p
	}
	for _, s := range w.services {
		pods := w.podsOf(s.Spec.Selector)
		if len(pods) == 0 {
			bad("Service %s: selector %v matches no pods", s.Name, s.Spec.Selector)
			continue
		}
		for _, p := range s.Spec.Ports {
			svcPorts[s.Name] = append(svcPorts[s.Name], p.Port)
			if p.TargetPort.String() == "" || p.TargetPort.IntValue() != 0 {
				continue
			}
			for _, d := range pods {
				if !hasPortName(d, p.TargetPort.String()) {
					bad("Service %s: targetPort %s is not a port of Deployment %s", s.Name, p.TargetPort.String(), d.Name)
				}
			}
		}
	}
	for _, d := range w.docs {
		switch d.APIVersion + "/" + d.Kind {
		case "policy/v1/PodDisruptionBudget":
			p := decodeAs[policyv1.PodDisruptionBudget](t, d)
			pods := w.podsOf(p.Spec.Selector.MatchLabels)
			if len(pods) != 1 {
				bad("PodDisruptionBudget %s: selects %d Deployments, want 1", p.Name, len(pods))
			} else if p.Spec.MinAvailable != nil && int32(p.Spec.MinAvailable.IntValue()) >= *pods[0].Spec.Replicas {
				bad("PodDisruptionBudget %s: minAvailable %s leaves no pod to evict of %d", p.Name, p.Spec.MinAvailable, *pods[0].Spec.Replicas)
			}
		case "autoscaling/v2/HorizontalPodAutoscaler":
			h := decodeAs[autoscalingv2.HorizontalPodAutoscaler](t, d)
			var target *appsv1.Deployment
			for _, dep := range w.deployments {
				if h.Spec.ScaleTargetRef.Kind == "Deployment" && dep.Name == h.Spec.ScaleTargetRef.Name {
					target = dep
				}
			}
			if target == nil {
				bad("HorizontalPodAutoscaler %s: no Deployment %s", h.Name, h.Spec.ScaleTargetRef.Name)
			} else if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != *target.Spec.Replicas {
				bad("HorizontalPodAutoscaler %s: minReplicas is not the Deployment's replicas (%d)", h.Name, *target.Spec.Replicas)
			}
		case "networking.k8s.io/v1/NetworkPolicy":
			np := decodeAs[networkingv1.NetworkPolicy](t, d)
			if len(np.Spec.PodSelector.MatchLabels) > 0 && !w.anyPod(np.Spec.PodSelector.MatchLabels) {
				bad("NetworkPolicy %s: podSelector %v matches no pods", np.Name, np.Spec.PodSelector.MatchLabels)
			}
			for _, rule := range np.Spec.Ingress {
				for _, from := range rule.From {
					if from.PodSelector != nil && from.NamespaceSelector == nil && !w.anyPod(from.PodSelector.MatchLabels) {
						bad("NetworkPolicy %s: from podSelector %v matches no pods", np.Name, from.PodSelector.MatchLabels)
					}
				}
				for _, p := range rule.Ports {
					if p.Port != nil && p.Port.IntValue() == 0 {
						for _, dep := range w.podsOf(np.Spec.PodSelector.MatchLabels) {
							if !hasPortName(dep, p.Port.String()) {
								bad("NetworkPolicy %s: port %s is not a port of Deployment %s", np.Name, p.Port.String(), dep.Name)
							}
						}
					}
				}
			}
		}
	}
	// Every Secret and ConfigMap named anywhere exists; every in-cluster
	// URL names a Service and one of its ports.
	for _, d := range w.docs {
		walk(d.Obj, nil, func(path []string, key string, v any) {
			m, _ := v.(map[string]any)
			switch key {
			case "secret":
				if n, ok := m["secretName"].(string); ok && w.secrets[n] == nil {
					bad("%s: volume from Secret %s, which neither secrets.example.yaml nor an operator provides", d, n)
				}
			case "passwordSecret":
				n, _ := m["name"].(string)
				if w.secrets[n] == nil || !w.secrets[n]["username"] || !w.secrets[n]["password"] {
					bad("%s: passwordSecret %s needs a Secret with username and password", d, n)
				}
			case "configMap", "configMapRef", "configMapKeyRef":
				if n, ok := m["name"].(string); ok && w.configMaps[n] == nil {
					bad("%s: ConfigMap %s does not exist", d, n)
				}
			}
			if s, ok := v.(string); ok && strings.HasSuffix(key, "/k8s_secret_password") {
				name, k, _ := strings.Cut(s, "/")
				if !w.secrets[name][k] {
					bad("%s: %s from Secret %s key %s, which does not exist", d, key, name, k)
				}
			}
		})
	}
	svcURL := regexp.MustCompile(`([a-z0-9-]+)\.vnpass\.svc(?:\.cluster\.local)?:(\d+)`)
	for _, cm := range w.configMaps {
		for k, v := range cm.Data {
			for _, m := range svcURL.FindAllStringSubmatch(v, -1) {
				port, _ := strconv.Atoi(m[2])
				if !containsPort(svcPorts[m[1]], int32(port)) {
					bad("ConfigMap %s: %s points at %s:%s, which is no Service port in the manifests (or made by an operator)", cm.Name, k, m[1], m[2])
				}
			}
		}
	}
	for _, d := range w.docs {
		if d.Kind != "ClickHouseInstallation" {
			continue
		}
		for _, n := range at(d.Obj, []string{"spec", "configuration", "zookeeper", "nodes", "*"}) {
			node, _ := n.(map[string]any)
			host, _ := node["host"].(string)
			port, _ := node["port"].(float64)
			if !containsPort(svcPorts[host], int32(port)) {
				bad("%s: Keeper node %s:%v is no Service of a ClickHouseKeeperInstallation", d, host, port)
			}
		}
	}
	return problems
}

func hasPortName(d *appsv1.Deployment, name string) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func containsPort(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// walk calls fn for every key of every map under v.
func walk(v any, path []string, fn func(path []string, key string, v any)) {
	switch o := v.(type) {
	case map[string]any:
		for k, c := range o {
			fn(path, k, c)
			walk(c, append(path, k), fn)
		}
	case []any:
		for _, c := range o {
			walk(c, path, fn)
		}
	}
}

// promRule is the part of a PrometheusRule the checks read.
type promRule struct {
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Record      string            `json:"record"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

var (
	metricRef   = regexp.MustCompile(`\b((?:vnpass|cnpg)_[a-z0-9_]+)\b`)
	jobRef      = regexp.MustCompile(`job="([^"]+)"`)
	goMetric    = regexp.MustCompile(`"(vnpass_[a-z0-9_]+)`)
	histogramSx = []string{"_bucket", "_sum", "_count"}
)

// exportedMetrics: vnpass_* names written by the services' sources and
// cnpg_* names of CloudNativePG's default queries (cnpg_<query>_<column>).
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range goMetric.FindAllStringSubmatch(goSources(t, "services"), -1) {
		out[m[1]] = true
	}
	data, err := os.ReadFile("schemas/cnpg-default-monitoring.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	var queries map[string]struct {
		Metrics []map[string]struct {
			Usage string `json:"usage"`
		} `json:"metrics"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["queries"]), &queries); err != nil {
		t.Fatalf("cnpg default queries: %v", err)
	}
	for q, def := range queries {
		for _, m := range def.Metrics {
			for col, u := range m {
				if u.Usage != "LABEL" && u.Usage != "DISCARD" {
					out["cnpg_"+q+"_"+col] = true
				}
			}
		}
	}
	return out
}

// checkAlerts: every metric an alert reads is exported, every job it names
// is scraped, every alert says how bad and what to do.
func (w *world) checkAlerts(t *testing.T, exported map[string]bool) []string {
	var problems []string
	jobs := map[string]bool{}
	for _, d := range w.docs {
		if d.Kind != "ServiceMonitor" {
			continue
		}
		jobLabel, _ := first(at(d.Obj, []string{"spec", "jobLabel"})).(string)
		sel := matchLabels(d)
		matched := false
		for _, s := range w.services {
			if !selects(sel, s.Labels) {
				continue
			}
			matched = true
			job := s.Name
			if jobLabel != "" {
				job = s.Labels[jobLabel]
			}
			jobs[job] = true
			for _, ep := range at(d.Obj, []string{"spec", "endpoints", "*", "port"}) {
				found := false
				for _, p := range s.Spec.Ports {
					found = found || p.Name == ep
				}
				if !found {
					problems = append(problems, fmt.Sprintf("%s: endpoint port %v is not a port of Service %s", d, ep, s.Name))
				}
			}
		}
		if !matched {
			problems = append(problems, fmt.Sprintf("%s: selector %v matches no Service", d, sel))
		}
	}
	for _, d := range w.docs {
		if d.Kind == "PodMonitor" {
			sel := matchLabels(d)
			if !w.anyPod(sel) {
				problems = append(problems, fmt.Sprintf("%s: selector %v matches no pods", d, sel))
			}
		}
		if d.Kind != "PrometheusRule" {
			continue
		}
		var pr promRule
		if err := yaml.Unmarshal(d.Raw, &pr); err != nil {
			t.Fatal(err)
		}
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				bad := func(format string, a ...any) {
					problems = append(problems, fmt.Sprintf("%s: alert %s: %s", d, r.Alert, fmt.Sprintf(format, a...)))
				}
				refs := metricRef.FindAllString(r.Expr, -1)
				if len(refs) == 0 && !strings.Contains(r.Expr, "up{") {
					bad("reads no metric of the platform")
				}
				for _, m := range refs {
					if exported[m] {
						continue
					}
					ok := false
					for _, sx := range histogramSx {
						ok = ok || (strings.HasSuffix(m, sx) && exported[strings.TrimSuffix(m, sx)])
					}
					if !ok {
						bad("metric %s is not exported by the services (grep %q under services/) nor by CloudNativePG's default queries", m, m)
					}
				}
				for _, j := range jobRef.FindAllStringSubmatch(r.Expr, -1) {
					if !jobs[j[1]] {
						bad("job %q is not scraped by any ServiceMonitor", j[1])
					}
				}
				if s := r.Labels["severity"]; s != "warning" && s != "critical" {
					bad("severity %q, want warning or critical", s)
				}
				if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					bad("summary and description required")
				}
				if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") || strings.Count(r.Expr, "{") != strings.Count(r.Expr, "}") {
					bad("unbalanced brackets in %q", r.Expr)
				}
			}
		}
	}
	return problems
}

func first(vs []any) any {
	if len(vs) == 0 {
		return nil
	}
	return vs[0]
}

// matchLabels: spec.selector.matchLabels of a monitor.
func matchLabels(d doc) map[string]string {
	sel := map[string]string{}
	m, _ := first(at(d.Obj, []string{"spec", "selector", "matchLabels"})).(map[string]any)
	for k, v := range m {
		sel[k], _ = v.(string)
	}
	return sel
}

// jsonFields: the JSON names of a struct type's fields in a Go file.
func jsonFields(t *testing.T, file, typeName string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repo, file), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != typeName {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fl := range st.Fields.List {
			if fl.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(fl.Tag.Value)
			name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
			typ := ""
			switch x := fl.Type.(type) {
			case *ast.Ident:
				typ = x.Name
			case *ast.StarExpr:
				if id, ok := x.X.(*ast.Ident); ok {
					typ = id.Name
				}
			}
			out[name] = typ
		}
		return false
	})
	if len(out) == 0 {
		t.Fatalf("%s: no struct %s with JSON fields", file, typeName)
	}
	return out
}

// checkAgentConfig: agent.env sets only what turnstile-agent reads; the
// pushed configs use only fields of proto.Config that an operator may set
// (fleethttp refuses unknown ones and the ones the service sets).
func (w *world) checkAgentConfig(t *testing.T) []string {
	var problems []string
	cm := w.configMaps["vnpass-agent-config"]
	if cm == nil {
		return []string{"ConfigMap vnpass-agent-config is missing"}
	}
	read := envRead(goSources(t, "turnstile-agent"))
	for i, line := range strings.Split(cm.Data["agent.env"], "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !read[k] {
			problems = append(problems, fmt.Sprintf("agent.env line %d: %q is not a variable turnstile-agent reads", i+1, line))
		}
		if strings.HasSuffix(k, "_URL") {
			if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
				problems = append(problems, fmt.Sprintf("agent.env line %d: %s is not a URL", i+1, k))
			}
		}
	}
	cfg := jsonFields(t, "proto/message.go", "Config")
	offline := jsonFields(t, "proto/message.go", "OfflinePolicy")
	setByService := setOf("v", "version", "device", "site", "issued_at")
	n := 0
	for k, v := range cm.Data {
		if !strings.HasSuffix(k, ".json") {
			continue
		}
		n++
		var doc map[string]json.RawMessage
		if err := json.Unmarshal([]byte(v), &doc); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", k, err))
			continue
		}
		for f, raw := range doc {
			typ, ok := cfg[f]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s: %q is not a field of proto.Config", k, f))
			case setByService[f]:
				problems = append(problems, fmt.Sprintf("%s: %q is set by vnpass-fleet, not pushed", k, f))
			case typ == "int":
				var n int
				if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
					problems = append(problems, fmt.Sprintf("%s: %q must be a whole number", k, f))
				}
			case typ == "OfflinePolicy":
				var p map[string]int
				if err := json.Unmarshal(raw, &p); err != nil {
					problems = append(problems, fmt.Sprintf("%s: offline: %v", k, err))
				}
				for pf := range p {
					if _, ok := offline[pf]; !ok {
						problems = append(problems, fmt.Sprintf("%s: offline.%s is not a field of proto.OfflinePolicy", k, pf))
					}
				}
				for want := range offline {
					if _, ok := p[want]; !ok {
						problems = append(problems, fmt.Sprintf("%s: offline.%s missing (0 would mean no limit or refuse all)", k, want))
					}
				}
			}
		}
	}
	if n == 0 {
		problems = append(problems, "vnpass-agent-config holds no pushed config (*.json)")
	}
	return problems
}

func TestWorkloadsMatchTheBinaries(t *testing.T) {
	w := load(t)
	for _, p := range w.checkWorkloads(t) {
		t.Error(p)
	}
}

func TestReferencesResolve(t *testing.T) {
	w := load(t)
	for _, p := range w.checkReferences(t) {
		t.Error(p)
	}
}

func TestAlertsUseExportedMetrics(t *testing.T) {
	w := load(t)
	for _, p := range w.checkAlerts(t, exportedMetrics(t)) {
		t.Error(p)
	}
}

func TestAgentConfig(t *testing.T) {
	w := load(t)
	for _, p := range w.checkAgentConfig(t) {
		t.Error(p)
	}
}

// TestCrossChecksFail breaks the manifests one way at a time, in memory,
// and expects the checks to say so.
func TestCrossChecksFail(t *testing.T) {
	cases := []struct {
		name, file, from, to, want string
		check                      func(*world, *testing.T) []string
	}{
		{"env var the binary does not read", "config.yaml", "VNPASS_WORKERS:", "VNPASS_WORKER:",
			"VNPASS_WORKER is set but", (*world).checkWorkloads},
		{"required env var missing", "vnpass-fare.yaml", "name: VNPASS_PG_URL", "name: VNPASS_PG_URL_UNUSED",
			"VNPASS_PG_URL is required", (*world).checkWorkloads},
		{"probe on an undeclared port", "vnpass-fleet.yaml", "port: http\n            periodSeconds: 5", "port: metrics\n            periodSeconds: 5",
			"readiness probe port metrics", (*world).checkWorkloads},
		{"probe on a route not served", "vnpass-fare.yaml", "path: /healthz\n              port: http\n            periodSeconds: 5", "path: /readyz\n              port: http\n            periodSeconds: 5",
			"asks for /readyz", (*world).checkWorkloads},
		{"API address not the container port", "config.yaml", `VNPASS_API_ADDR: "0.0.0.0:8080"`, `VNPASS_API_ADDR: "0.0.0.0:9090"`,
			"is not the declared container port", (*world).checkWorkloads},
		{"Secret that does not exist", "vnpass-fare.yaml", "name: vnpass-clickhouse\n                  key: password", "name: vnpass-ch\n                  key: password",
			"Secret vnpass-ch key password", (*world).checkWorkloads},
		{"container allowed to escalate", "vnpass-fleet.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true",
			"no privilege escalation", (*world).checkWorkloads},
		{"Service selector matching nothing", "vnpass-fleet.yaml", "  selector:\n    app.kubernetes.io/name: vnpass-fleet", "  selector:\n    app.kubernetes.io/name: fleet",
			"matches no pods", (*world).checkReferences},
		{"URL to a Service port that does not exist", "config.yaml", "vnpass-fleet.vnpass.svc:8070", "vnpass-fleet.vnpass.svc:8071",
			"vnpass-fleet:8071", (*world).checkReferences},
		{"Keeper node that does not exist", "clickhouse.yaml", "host: keeper-vnpass-keeper", "host: keeper-vnpass",
			"Keeper node keeper-vnpass:2181", (*world).checkReferences},
		{"agent env the agent does not read", "config.yaml", "VNPASS_MQTT_URL=ssl", "VNPASS_BROKER=ssl",
			"not a variable turnstile-agent reads", (*world).checkAgentConfig},
		{"pushed config field that does not exist", "config.yaml", `"pass_back_s": 1200`, `"passback_s": 1200`,
			"offline.passback_s is not a field", (*world).checkAgentConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := brokenWorld(t, c.file, c.from, c.to)
			problems := c.check(w, t)
			if !strings.Contains(strings.Join(problems, "\n"), c.want) {
				t.Fatalf("got %q; want a problem mentioning %q", problems, c.want)
			}
		})
	}
	t.Run("alert on a metric nobody exports", func(t *testing.T) {
		w := brokenWorld(t, "monitoring.yaml", "vnpass_store_errors_total", "vnpass_store_error_total")
		problems := w.checkAlerts(t, exportedMetrics(t))
		if !strings.Contains(strings.Join(problems, "\n"), "vnpass_store_error_total is not exported") {
			t.Fatalf("got %q", problems)
		}
	})
	t.Run("alert on a job nobody scrapes", func(t *testing.T) {
		w := brokenWorld(t, "monitoring.yaml", `up{job="vnpass-fare"}) < 2`, `up{job="fare"}) < 2`)
		problems := w.checkAlerts(t, exportedMetrics(t))
		if !strings.Contains(strings.Join(problems, "\n"), `job "fare" is not scraped`) {
			t.Fatalf("got %q", problems)
		}
	})
}

// brokenWorld loads the manifests with one replacement made in one file.
func brokenWorld(t *testing.T, file, from, to string) *world {
	t.Helper()
	k, _ := loadManifests(t)
	var docs []doc
	for _, f := range k.Resources {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if f == file {
			if !strings.Contains(string(data), from) {
				t.Fatalf("%s does not contain %q: the test case is stale", f, from)
			}
			data = []byte(strings.Replace(string(data), from, to, 1))
		}
		ds, err := splitDocs(f, data)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, ds...)
	}
	data, err := os.ReadFile("secrets.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secretDocs, err := splitDocs("secrets.example.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return newWorld(t, docs, secretDocs)
}
