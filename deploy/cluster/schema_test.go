package cluster

// Schema validation: every document of the manifests is checked the way the
// API server would check it, without a cluster. Built-in kinds are decoded
// strictly into k8s.io/api's types (an unknown or duplicated field, or a
// value of the wrong type, fails). Custom resources are checked against
// their CustomResourceDefinition's openAPIV3Schema under schemas/ with
// k8s.io/apiextensions-apiserver: unknown fields (the API server's pruning),
// the schema's types, enums, patterns and bounds, and its CEL rules.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// doc is one YAML document of a manifest file.
type doc struct {
	File       string
	Index      int
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	Raw        []byte         // the YAML text
	Obj        map[string]any // the same, decoded
}

func (d doc) String() string {
	return fmt.Sprintf("%s#%d %s/%s %s", d.File, d.Index, d.APIVersion, d.Kind, d.Name)
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocs reads the YAML documents of one file.
func splitDocs(file string, data []byte) ([]doc, error) {
	var out []doc
	for i, part := range docSep.Split(string(data), -1) {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(part), &obj); err != nil {
			return nil, fmt.Errorf("%s#%d: %w", file, i, err)
		}
		if len(obj) == 0 {
			continue // comments only
		}
		d := doc{File: file, Index: i, Raw: []byte(part), Obj: obj}
		d.APIVersion, _ = obj["apiVersion"].(string)
		d.Kind, _ = obj["kind"].(string)
		if md, ok := obj["metadata"].(map[string]any); ok {
			d.Name, _ = md["name"].(string)
			d.Namespace, _ = md["namespace"].(string)
		}
		if d.APIVersion == "" || d.Kind == "" || d.Name == "" {
			return nil, fmt.Errorf("%s: apiVersion, kind and metadata.name are required", d)
		}
		out = append(out, d)
	}
	return out, nil
}

// kustomization is the part of kustomization.yaml the tests read.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images"`
}

// loadManifests reads every resource kustomization.yaml lists.
func loadManifests(t *testing.T) (kustomization, []doc) {
	t.Helper()
	var k kustomization
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	var docs []doc
	for _, f := range k.Resources {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := splitDocs(f, data)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, ds...)
	}
	// Every manifest file is listed: none is forgotten by `apply -k`.
	files, _ := filepath.Glob("*.yaml")
	listed := map[string]bool{"kustomization.yaml": true, "secrets.example.yaml": true}
	for _, f := range k.Resources {
		listed[f] = true
	}
	for _, f := range files {
		if !listed[f] {
			t.Errorf("%s is not in kustomization.yaml's resources", f)
		}
	}
	return k, docs
}

// builtin maps the built-in kinds the manifests may use to their Go types.
var builtin = map[string]func() any{
	"v1/Namespace":                           func() any { return new(corev1.Namespace) },
	"v1/ConfigMap":                           func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                              func() any { return new(corev1.Secret) },
	"v1/Service":                             func() any { return new(corev1.Service) },
	"v1/Pod":                                 func() any { return new(corev1.Pod) },
	"v1/ServiceAccount":                      func() any { return new(corev1.ServiceAccount) },
	"apps/v1/Deployment":                     func() any { return new(appsv1.Deployment) },
	"apps/v1/StatefulSet":                    func() any { return new(appsv1.StatefulSet) },
	"policy/v1/PodDisruptionBudget":          func() any { return new(policyv1.PodDisruptionBudget) },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return new(networkingv1.NetworkPolicy) },
}

// crdSchema is one served version of a CustomResourceDefinition, ready to
// validate objects.
type crdSchema struct {
	Source     string
	Structural *structuralschema.Structural
	Validator  validation.SchemaValidator
	CEL        *cel.Validator
}

// loadCRDs reads every CustomResourceDefinition under schemas/ and indexes
// its versions by apiVersion/kind.
func loadCRDs(t *testing.T) map[string]*crdSchema {
	t.Helper()
	files, err := filepath.Glob("schemas/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*crdSchema{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := splitDocs(f, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Kind != "CustomResourceDefinition" {
				continue
			}
			var crd apiextv1.CustomResourceDefinition
			if err := strictYAML(d.Raw, &crd); err != nil {
				t.Fatalf("%s: %v", d, err)
			}
			for _, v := range crd.Spec.Versions {
				if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
					continue
				}
				s, err := compileSchema(v.Schema.OpenAPIV3Schema)
				if err != nil {
					t.Fatalf("%s version %s: %v", d, v.Name, err)
				}
				s.Source = fmt.Sprintf("%s (%s %s)", f, crd.Name, v.Name)
				out[crd.Spec.Group+"/"+v.Name+"/"+crd.Spec.Names.Kind] = s
			}
		}
	}
	return out
}

func compileSchema(v1 *apiextv1.JSONSchemaProps) (*crdSchema, error) {
	var internal apiextensions.JSONSchemaProps
	if err := apiextv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1, &internal, nil); err != nil {
		return nil, fmt.Errorf("convert schema: %w", err)
	}
	st, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, fmt.Errorf("structural schema: %w", err)
	}
	if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), st); len(errs) > 0 {
		return nil, fmt.Errorf("schema is not structural: %v", errs.ToAggregate())
	}
	val, _, err := validation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, fmt.Errorf("validator: %w", err)
	}
	return &crdSchema{Structural: st, Validator: val, CEL: cel.NewValidator(st, true, celconfig.PerCallLimit)}, nil
}

// embedded lists, per custom resource kind, the fields whose schema is open
// (x-kubernetes-preserve-unknown-fields) but which hold a Kubernetes type:
// they are decoded strictly into it. A path element "*" is every item of an
// array.
var embedded = map[string][]struct {
	Path []string
	New  func() any
}{
	"apps.emqx.io/v2beta1/EMQX": {
		{[]string{"spec", "coreTemplate", "spec", "resources"}, func() any { return new(corev1.ResourceRequirements) }},
		{[]string{"spec", "coreTemplate", "spec", "volumeClaimTemplates"}, func() any { return new(corev1.PersistentVolumeClaimSpec) }},
		{[]string{"spec", "coreTemplate", "spec", "extraVolumes", "*"}, func() any { return new(corev1.Volume) }},
		{[]string{"spec", "coreTemplate", "spec", "extraVolumeMounts", "*"}, func() any { return new(corev1.VolumeMount) }},
		{[]string{"spec", "replicantTemplate", "spec", "resources"}, func() any { return new(corev1.ResourceRequirements) }},
		{[]string{"spec", "replicantTemplate", "spec", "extraVolumes", "*"}, func() any { return new(corev1.Volume) }},
		{[]string{"spec", "replicantTemplate", "spec", "extraVolumeMounts", "*"}, func() any { return new(corev1.VolumeMount) }},
		{[]string{"spec", "listenersServiceTemplate", "spec"}, func() any { return new(corev1.ServiceSpec) }},
	},
	"clickhouse.altinity.com/v1/ClickHouseInstallation": {
		{[]string{"spec", "templates", "podTemplates", "*", "spec"}, func() any { return new(corev1.PodSpec) }},
		{[]string{"spec", "templates", "volumeClaimTemplates", "*", "spec"}, func() any { return new(corev1.PersistentVolumeClaimSpec) }},
	},
	"clickhouse-keeper.altinity.com/v1/ClickHouseKeeperInstallation": {
		{[]string{"spec", "templates", "podTemplates", "*", "spec"}, func() any { return new(corev1.PodSpec) }},
		{[]string{"spec", "templates", "volumeClaimTemplates", "*", "spec"}, func() any { return new(corev1.PersistentVolumeClaimSpec) }},
	},
}

// at returns the values at path in obj ("*": every item of an array).
func at(obj any, path []string) []any {
	if len(path) == 0 {
		return []any{obj}
	}
	switch o := obj.(type) {
	case map[string]any:
		if v, ok := o[path[0]]; ok {
			return at(v, path[1:])
		}
	case []any:
		if path[0] == "*" {
			var out []any
			for _, it := range o {
				out = append(out, at(it, path[1:])...)
			}
			return out
		}
	}
	return nil
}

// strictJSON decodes v (decoded YAML) into out as the API server does
// under strict field validation: field names case-sensitive, unknown and
// duplicate fields refused (each named by its path), wrong types refused.
func strictJSON(v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return strictDecode(b, out)
}

func strictDecode(j []byte, out any) error {
	strict, err := kjson.UnmarshalStrict(j, out, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		msgs := make([]string, len(strict))
		for i, e := range strict {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	return nil
}

// strictYAML decodes a YAML document strictly (duplicate keys refused).
func strictYAML(y []byte, out any) error {
	j, err := yaml.YAMLToJSONStrict(y)
	if err != nil {
		return err
	}
	return strictDecode(j, out)
}

// validateDoc checks one document against the Kubernetes schemas and
// returns what is wrong with it.
func validateDoc(d doc, crds map[string]*crdSchema) []string {
	gvk := d.APIVersion + "/" + d.Kind
	if mk, ok := builtin[gvk]; ok {
		if err := strictYAML(d.Raw, mk()); err != nil {
			return []string{err.Error()}
		}
		return nil
	}
	s, ok := crds[gvk]
	if !ok {
		return []string{fmt.Sprintf("no schema for %s: add its CRD under schemas/ or its type to builtin", gvk)}
	}
	// Strictly, as the API server does with fieldValidation=Strict: YAML
	// with duplicate keys is refused, then metadata is ObjectMeta.
	// Numbers as the API server holds them: int64 when whole.
	j, err := yaml.YAMLToJSONStrict(d.Raw)
	if err != nil {
		return []string{err.Error()}
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(j, &obj); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	if err := strictJSON(obj["metadata"], new(metav1.ObjectMeta)); err != nil {
		problems = append(problems, "metadata: "+err.Error())
	}
	// Unknown fields: what the API server would prune (and refuse under
	// strict field validation).
	pruned := deepCopyJSON(obj)
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	for _, p := range pruning.PruneWithOptions(pruned, s.Structural, true, opts) {
		problems = append(problems, fmt.Sprintf("unknown field %q (schema %s)", p, s.Source))
	}
	for _, e := range validation.ValidateCustomResource(nil, obj, s.Validator) {
		problems = append(problems, e.Error())
	}
	if s.CEL != nil {
		errs, _ := s.CEL.Validate(context.Background(), nil, s.Structural, obj, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range errs {
			problems = append(problems, "CEL: "+e.Error())
		}
	}
	for _, e := range embedded[gvk] {
		for i, v := range at(obj, e.Path) {
			if err := strictJSON(v, e.New()); err != nil {
				problems = append(problems, fmt.Sprintf("%s[%d]: %v", strings.Join(e.Path, "."), i, err))
			}
		}
	}
	return problems
}

func deepCopyJSON(v map[string]any) map[string]any {
	b, _ := json.Marshal(v)
	var out map[string]any
	_ = utiljson.Unmarshal(b, &out)
	return out
}

func TestManifestsMatchKubernetesSchemas(t *testing.T) {
	k, docs := loadManifests(t)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion/kind %s/%s", k.APIVersion, k.Kind)
	}
	crds := loadCRDs(t)
	for _, want := range []string{
		"postgresql.cnpg.io/v1/Cluster", "monitoring.coreos.com/v1/ServiceMonitor",
		"monitoring.coreos.com/v1/PodMonitor", "monitoring.coreos.com/v1/PrometheusRule",
		"apps.emqx.io/v2beta1/EMQX", "clickhouse.altinity.com/v1/ClickHouseInstallation",
		"clickhouse-keeper.altinity.com/v1/ClickHouseKeeperInstallation",
	} {
		if crds[want] == nil {
			t.Errorf("schemas/: no CRD for %s", want)
		}
	}
	kinds := map[string]int{}
	for _, d := range docs {
		kinds[d.Kind]++
		if d.Kind != "Namespace" && d.Namespace != k.Namespace {
			t.Errorf("%s: namespace %q, want %q", d, d.Namespace, k.Namespace)
		}
		for _, p := range validateDoc(d, crds) {
			t.Errorf("%s: %s", d, p)
		}
	}
	// The parts the issue asks for are all there.
	for kind, n := range map[string]int{
		"Namespace": 1, "Deployment": 2, "Service": 2, "PodDisruptionBudget": 1,
		"HorizontalPodAutoscaler": 1, "ConfigMap": 3, "NetworkPolicy": 2, "Cluster": 1, "EMQX": 1,
		"ClickHouseInstallation": 1, "ClickHouseKeeperInstallation": 1, "ServiceMonitor": 2,
		"PodMonitor": 1, "PrometheusRule": 1,
	} {
		if kinds[kind] < n {
			t.Errorf("%d %s in the manifests, want at least %d", kinds[kind], kind, n)
		}
	}
	t.Logf("%d documents checked: %v", len(docs), kinds)

	// The example Secrets are valid Secrets too (they are not applied).
	data, err := os.ReadFile("secrets.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := splitDocs("secrets.example.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range secrets {
		if d.Kind != "Secret" {
			t.Errorf("%s: only Secrets belong in secrets.example.yaml", d)
		}
		for _, p := range validateDoc(d, crds) {
			t.Errorf("%s: %s", d, p)
		}
	}
}

// TestBrokenManifestsFail shows that the validation catches what it is
// for: each document here is a correct one from the manifests with one
// mistake.
func TestBrokenManifestsFail(t *testing.T) {
	crds := loadCRDs(t)
	cases := []struct {
		name, yaml, want string
	}{
		{"misspelled Deployment field", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: vnpass-fare, namespace: vnpass}
spec:
  replica: 3
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: x, image: x}]}
`, `unknown field "spec.replica"`},
		{"wrong type in a container", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: vnpass-fare, namespace: vnpass}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: x, image: x, ports: [{containerPort: "http"}]}]}
`, "cannot unmarshal string"},
		{"field in the wrong case", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: vnpass-fare, namespace: vnpass}
spec:
  Replicas: 3
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: x, image: x}]}
`, `unknown field "spec.Replicas"`},
		{"bad resource quantity", `
apiVersion: v1
kind: Pod
metadata: {name: x, namespace: vnpass}
spec: {containers: [{name: x, image: x, resources: {requests: {cpu: lots}}}]}
`, "quantities must match"},
		{"misspelled Service field", `
apiVersion: v1
kind: Service
metadata: {name: x, namespace: vnpass}
spec: {ports: [{port: 80}], selecter: {app: x}}
`, `unknown field "spec.selecter"`},
		{"misspelled CloudNativePG field", `
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: vnpass-pg, namespace: vnpass}
spec:
  instance: 3
  storage: {size: 1Gi}
`, `unknown field "spec.instance"`},
		{"CloudNativePG field of the wrong type", `
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: vnpass-pg, namespace: vnpass}
spec:
  instances: three
  storage: {size: 1Gi}
`, "spec.instances"},
		{"CloudNativePG enum", `
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: vnpass-pg, namespace: vnpass}
spec:
  instances: 3
  primaryUpdateStrategy: whenever
  storage: {size: 1Gi}
`, "spec.primaryUpdateStrategy"},
		{"misspelled alert field", `
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: x, namespace: vnpass}
spec:
  groups:
    - name: g
      rules:
        - alert: A
          expression: up == 0
`, `unknown field "spec.groups[0].rules[0].expression"`},
		{"misspelled ServiceMonitor field", `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: x, namespace: vnpass}
spec:
  selector: {matchLabels: {app: x}}
  endpoints: [{port: http, intervall: 15s}]
`, `unknown field "spec.endpoints[0].intervall"`},
		{"misspelled EMQX field", `
apiVersion: apps.emqx.io/v2beta1
kind: EMQX
metadata: {name: emqx, namespace: vnpass}
spec:
  image: emqx/emqx:5.8.6
  coreTemplate: {spec: {replica: 3}}
`, `unknown field "spec.coreTemplate.spec.replica"`},
		{"misspelled field inside a ClickHouse pod template", `
apiVersion: clickhouse.altinity.com/v1
kind: ClickHouseInstallation
metadata: {name: vnpass, namespace: vnpass}
spec:
  templates:
    podTemplates:
      - name: clickhouse
        spec: {containers: [{name: clickhouse, image: x, resource: {}}]}
`, `unknown field "containers[0].resource"`},
		{"ClickHouse layout of the wrong type", `
apiVersion: clickhouse.altinity.com/v1
kind: ClickHouseInstallation
metadata: {name: vnpass, namespace: vnpass}
spec:
  configuration:
    clusters: [{name: ridership, layout: {shardsCount: one}}]
`, "shardsCount"},
		{"unknown kind", `
apiVersion: example.com/v1
kind: Gadget
metadata: {name: x, namespace: vnpass}
`, "no schema for example.com/v1/Gadget"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds, err := splitDocs("inline", []byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			problems := validateDoc(ds[0], crds)
			if len(problems) == 0 {
				t.Fatalf("accepted; want a failure mentioning %q", c.want)
			}
			if !strings.Contains(strings.Join(problems, "\n"), c.want) {
				t.Fatalf("failed with %q; want it to mention %q", problems, c.want)
			}
		})
	}
}

// TestSchemasAreVendoredAsNoted: every file under schemas/ is named in
// schemas/SOURCES.md with its origin.
func TestSchemasAreVendoredAsNoted(t *testing.T) {
	notes, err := os.ReadFile("schemas/SOURCES.md")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("schemas/*.yaml")
	sort.Strings(files)
	for _, f := range files {
		if !bytes.Contains(notes, []byte(filepath.Base(f))) {
			t.Errorf("%s is not described in schemas/SOURCES.md", f)
		}
	}
	// The files vendored verbatim still have the digest noted.
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|.*\\| ([0-9a-f]{64}) \\|$")
	rows := row.FindAllStringSubmatch(string(notes), -1)
	if len(rows) < 5 {
		t.Fatalf("schemas/SOURCES.md: %d rows with a sha256, want the 5 vendored files", len(rows))
	}
	for _, r := range rows {
		data, err := os.ReadFile(filepath.Join("schemas", r[1]))
		if err != nil {
			t.Error(err)
			continue
		}
		if got := fmt.Sprintf("%x", sha256.Sum256(data)); got != r[2] {
			t.Errorf("schemas/%s: sha256 %s, SOURCES.md says %s: edited after vendoring?", r[1], got, r[2])
		}
	}
}
