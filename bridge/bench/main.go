//go:build bench

// Command bench measures the driver sidecar from Go, through the bridge's own
// driver.Driver (pkg/grpcdriver: the code MCM calls), next to a direct Go
// client that makes the same cloud HTTP calls against the same STACKIT fake.
// It is driven by the TypeScript harness (bench/scenarios/bridge.ts, `npm run
// bench`), which starts the fake and the sidecar and reads the JSON this prints.
//
// The build tag keeps it out of `go test ./...` and `go vet ./...`:
//
//	go build -tags bench -o ../bench/.build/bridge-bench ./bench
//
// Modes:
//
//	-mode percall     one Machine lifecycle per iteration (create fresh, get
//	                  status, create adopt, list, delete), bridge and direct
//	                  interleaved call by call; prints every latency (ms)
//	-mode throughput  -calls GetMachineStatus calls shared by -concurrency
//	                  goroutines, each on its own Machine (-ids); prints the
//	                  latencies and the elapsed time
//	-mode list        -reps ListMachines calls; prints latencies or the error
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gardener/machine-controller-manager/pkg/apis/machine/v1alpha1"
	"github.com/gardener/machine-controller-manager/pkg/util/provider/driver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"mcm-grpc-driver/bridge/pkg/grpcdriver"
)

const (
	machineLabel = "kubernetes.io/machine"
	classLabel   = "kubernetes.io/machineclass"
	clusterLabel = "mcm-grpc-driver.io/cluster"
)

var ops = []string{"CreateMachine (fresh)", "GetMachineStatus", "CreateMachine (adopt)", "ListMachines", "DeleteMachine"}

type config struct {
	mode, endpoint, fakeURL, project, region, class, namespace, token, spec, userData, ids, runID, provider, secret string
	iterations, warmup, calls, concurrency, reps                                                                    int
	poll                                                                                                            time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.mode, "mode", "percall", "percall, throughput or list")
	flag.StringVar(&c.endpoint, "endpoint", "", "the sidecar, HOST:PORT")
	flag.StringVar(&c.fakeURL, "fake-url", "", "the STACKIT fake (direct client)")
	flag.StringVar(&c.project, "project", "", "STACKIT project ID")
	flag.StringVar(&c.region, "region", "eu01", "STACKIT region")
	flag.StringVar(&c.class, "class", "", "MachineClass name")
	flag.StringVar(&c.namespace, "namespace", "", "MachineClass namespace (cluster)")
	flag.StringVar(&c.token, "token", "", "static bearer token")
	flag.StringVar(&c.spec, "spec", "", "providerSpec JSON")
	flag.StringVar(&c.provider, "provider", "STACKIT", "MachineClass provider")
	flag.StringVar(&c.secret, "secret", "", "Secret data as a JSON object of strings (default: project-id, token, userData of the STACKIT flags)")
	flag.StringVar(&c.userData, "user-data", "", "Secret userData")
	flag.StringVar(&c.ids, "ids", "", "throughput: comma-separated server IDs, one Machine per goroutine")
	flag.StringVar(&c.runID, "run", "0", "distinguishes Machine names between runs")
	flag.IntVar(&c.iterations, "iterations", 100, "percall: measured iterations")
	flag.IntVar(&c.warmup, "warmup", 20, "percall: unmeasured iterations first")
	flag.IntVar(&c.calls, "calls", 10000, "throughput: calls")
	flag.IntVar(&c.concurrency, "concurrency", 50, "throughput: goroutines")
	flag.IntVar(&c.reps, "reps", 3, "list: calls")
	flag.DurationVar(&c.poll, "poll", time.Millisecond, "percall: the direct client's wait between polls (the sidecar's --poll-interval)")
	flag.Parse()

	conn, err := grpcdriver.NewClientConn(c.endpoint)
	if err != nil {
		fail(err)
	}
	defer func() { _ = conn.Close() }()
	b := &bench{c: c, drv: grpcdriver.New(conn, grpcdriver.Options{CallTimeout: grpcdriver.DefaultCallTimeout})}
	b.direct = &direct{c: c, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}}}
	b.class = &v1alpha1.MachineClass{
		ObjectMeta:   metav1.ObjectMeta{Name: c.class, Namespace: c.namespace},
		ProviderSpec: runtime.RawExtension{Raw: []byte(c.spec)},
		Provider:     c.provider,
		SecretRef:    &corev1.SecretReference{Name: "cloudprovider", Namespace: c.namespace},
	}
	b.secret = &corev1.Secret{Data: map[string][]byte{"project-id": []byte(c.project), "token": []byte(c.token), "userData": []byte(c.userData)}}
	if c.secret != "" {
		var data map[string]string
		if err := json.Unmarshal([]byte(c.secret), &data); err != nil {
			fail(fmt.Errorf("-secret: %w", err))
		}
		b.secret.Data = map[string][]byte{}
		for k, v := range data {
			b.secret.Data[k] = []byte(v)
		}
	}

	var out any
	switch c.mode {
	case "percall":
		out, err = b.perCall()
	case "throughput":
		out, err = b.throughput()
	case "list":
		out = b.list()
	default:
		err = fmt.Errorf("unknown -mode %q", c.mode)
	}
	if err != nil {
		fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

type bench struct {
	c      config
	drv    *grpcdriver.Driver
	direct *direct
	class  *v1alpha1.MachineClass
	secret *corev1.Secret
}

func (b *bench) machine(name, providerID string) *v1alpha1.Machine {
	phase := v1alpha1.MachinePending
	if providerID != "" {
		phase = v1alpha1.MachineRunning
	}
	return &v1alpha1.Machine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: b.c.namespace, Labels: map[string]string{"node": name}},
		Spec:       v1alpha1.MachineSpec{ProviderID: providerID, Class: v1alpha1.ClassSpec{Kind: "MachineClass", Name: b.c.class}},
		Status:     v1alpha1.MachineStatus{CurrentStatus: v1alpha1.CurrentStatus{Phase: phase}},
	}
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// perCall: the same lifecycle as bench/scenarios/overhead.ts, bridge and direct interleaved.
func (b *bench) perCall() (any, error) {
	ctx := context.Background()
	samples := map[string]map[string][]float64{}
	for _, op := range ops {
		samples[op] = map[string][]float64{"bridge": {}, "direct": {}}
	}
	floor := []float64{}
	for i := 0; i < b.c.warmup+b.c.iterations; i++ {
		paths := []string{"bridge", "direct"}
		if i%2 == 1 {
			paths = []string{"direct", "bridge"}
		}
		names := map[string]string{
			"bridge": fmt.Sprintf("gobench-r%s-i%d-b", b.c.runID, i),
			"direct": fmt.Sprintf("gobench-r%s-i%d-d", b.c.runID, i),
		}
		ids := map[string]string{}
		for _, op := range ops {
			for _, p := range paths {
				start := time.Now()
				var err error
				if p == "bridge" {
					err = b.bridgeOp(ctx, op, names[p], ids)
				} else {
					err = b.direct.op(op, names[p], ids)
				}
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", p, op, err)
				}
				if i >= b.c.warmup {
					samples[op][p] = append(samples[op][p], ms(time.Since(start)))
				}
			}
		}
		// The floor of an RPC: GetVolumeIDs makes no cloud request.
		start := time.Now()
		r, err := b.drv.GetVolumeIDs(ctx, &driver.GetVolumeIDsRequest{PVSpecs: []*corev1.PersistentVolumeSpec{{
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: "block-storage.csi.stackit.cloud", VolumeHandle: "5e0a8b2c-0d4f-4f55-a1c9-6b7d2e3f4a5b",
			}},
		}}})
		if err != nil || len(r.VolumeIDs) != 1 {
			return nil, fmt.Errorf("GetVolumeIDs: %v %v", r, err)
		}
		if i >= b.c.warmup {
			floor = append(floor, ms(time.Since(start)))
		}
	}
	return map[string]any{"samples": samples, "floor": floor}, nil
}

func (b *bench) bridgeOp(ctx context.Context, op, name string, ids map[string]string) error {
	switch op {
	case "CreateMachine (fresh)":
		r, err := b.drv.CreateMachine(ctx, &driver.CreateMachineRequest{Machine: b.machine(name, ""), MachineClass: b.class, Secret: b.secret})
		if err != nil {
			return err
		}
		ids["bridge"] = r.ProviderID
	case "GetMachineStatus":
		r, err := b.drv.GetMachineStatus(ctx, &driver.GetMachineStatusRequest{Machine: b.machine(name, ids["bridge"]), MachineClass: b.class, Secret: b.secret})
		if err != nil {
			return err
		}
		if r.ProviderID != ids["bridge"] {
			return fmt.Errorf("answered %s", r.ProviderID)
		}
	case "CreateMachine (adopt)":
		r, err := b.drv.CreateMachine(ctx, &driver.CreateMachineRequest{Machine: b.machine(name, ""), MachineClass: b.class, Secret: b.secret})
		if err != nil {
			return err
		}
		if r.ProviderID != ids["bridge"] {
			return fmt.Errorf("did not adopt %s: %s", ids["bridge"], r.ProviderID)
		}
	case "ListMachines":
		r, err := b.drv.ListMachines(ctx, &driver.ListMachinesRequest{MachineClass: b.class, Secret: b.secret})
		if err != nil {
			return err
		}
		if r.MachineList[ids["bridge"]] != name {
			return fmt.Errorf("%s is not listed", ids["bridge"])
		}
	case "DeleteMachine":
		_, err := b.drv.DeleteMachine(ctx, &driver.DeleteMachineRequest{Machine: b.machine(name, ids["bridge"]), MachineClass: b.class, Secret: b.secret})
		return err
	}
	return nil
}

// throughput: GetMachineStatus at MCM's concurrency through the bridge.
func (b *bench) throughput() (any, error) {
	ids := strings.Split(b.c.ids, ",")
	if len(ids) < b.c.concurrency {
		return nil, fmt.Errorf("-ids has %d IDs for %d goroutines", len(ids), b.c.concurrency)
	}
	ctx := context.Background()
	lat := make([]float64, b.c.calls)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < b.c.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			name := fmt.Sprintf("busy-%d", w)
			m := b.machine(name, fmt.Sprintf("stackit://%s/%s", b.c.project, ids[w]))
			for {
				i := next.Add(1) - 1
				if i >= int64(b.c.calls) {
					return
				}
				t0 := time.Now()
				if _, err := b.drv.GetMachineStatus(ctx, &driver.GetMachineStatusRequest{Machine: m, MachineClass: b.class, Secret: b.secret}); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = ms(time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	return map[string]any{"latencies": lat, "seconds": time.Since(start).Seconds()}, nil
}

// list: ListMachines through the bridge, as MCM's orphan collection calls it.
func (b *bench) list() any {
	var lat []float64
	n := 0
	for i := 0; i < b.c.reps; i++ {
		t0 := time.Now()
		r, err := b.drv.ListMachines(context.Background(), &driver.ListMachinesRequest{MachineClass: b.class, Secret: b.secret})
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		lat = append(lat, ms(time.Since(t0)))
		n = len(r.MachineList)
	}
	return map[string]any{"latencies": lat, "vms": n}
}

// direct makes the driver's cloud calls itself, with net/http and keep-alive.
type direct struct {
	c    config
	http *http.Client
}

type server struct {
	ID     string            `json:"id"`
	Status string            `json:"status"`
	Labels map[string]string `json:"labels"`
}

func (d *direct) servers() string {
	return fmt.Sprintf("%s/v2/projects/%s/regions/%s/servers", d.c.fakeURL, d.c.project, d.c.region)
}

func (d *direct) call(method, u string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+d.c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := d.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = res.Body.Close() }()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	if out != nil && res.StatusCode < 300 && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, err
		}
	}
	return res.StatusCode, nil
}

func (d *direct) list(labels ...string) ([]server, error) {
	q := url.Values{"details": {"true"}, "label_selector": {strings.Join(labels, ",")}}
	var out struct {
		Items []server `json:"items"`
	}
	st, err := d.call(http.MethodGet, d.servers()+"?"+q.Encode(), nil, &out)
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("list: %d", st)
	}
	return out.Items, err
}

func (d *direct) get(id string) (server, int, error) {
	var s server
	st, err := d.call(http.MethodGet, d.servers()+"/"+id+"?details=true", nil, &s)
	return s, st, err
}

func (d *direct) op(op, name string, ids map[string]string) error {
	switch op {
	case "CreateMachine (fresh)", "CreateMachine (adopt)":
		found, err := d.list(machineLabel+"="+name, clusterLabel+"="+d.c.namespace)
		if err != nil {
			return err
		}
		var s server
		if len(found) > 0 {
			s = found[0]
		} else {
			payload := map[string]any{}
			if err := json.Unmarshal([]byte(d.c.spec), &payload); err != nil {
				return err
			}
			delete(payload, "region")
			payload["name"] = name
			payload["labels"] = map[string]string{machineLabel: name, classLabel: d.c.class, clusterLabel: d.c.namespace}
			payload["userData"] = base64.StdEncoding.EncodeToString([]byte(d.c.userData))
			st, err := d.call(http.MethodPost, d.servers(), payload, &s)
			if err != nil {
				return err
			}
			if st != http.StatusCreated {
				return fmt.Errorf("create: %d", st)
			}
		}
		for s.Status != "ACTIVE" {
			time.Sleep(d.c.poll)
			var st int
			if s, st, err = d.get(s.ID); err != nil || st != http.StatusOK {
				return fmt.Errorf("create poll: %d %v", st, err)
			}
		}
		if op == "CreateMachine (fresh)" {
			ids["direct"] = s.ID
		} else if s.ID != ids["direct"] {
			return fmt.Errorf("did not adopt %s", ids["direct"])
		}
	case "GetMachineStatus":
		s, st, err := d.get(ids["direct"])
		if err != nil || st != http.StatusOK || s.Status != "ACTIVE" {
			return fmt.Errorf("get: %d %v", st, err)
		}
	case "ListMachines":
		found, err := d.list(classLabel+"="+d.c.class, clusterLabel+"="+d.c.namespace)
		if err != nil {
			return err
		}
		list := map[string]string{}
		for _, s := range found {
			if s.Status != "DELETING" {
				list[fmt.Sprintf("stackit://%s/%s", d.c.project, s.ID)] = s.Labels[machineLabel]
			}
		}
		if list[fmt.Sprintf("stackit://%s/%s", d.c.project, ids["direct"])] != name {
			return fmt.Errorf("%s is not listed", ids["direct"])
		}
	case "DeleteMachine":
		s, st, err := d.get(ids["direct"])
		if err != nil {
			return err
		}
		if st == http.StatusOK && s.Status != "DELETING" {
			if st, err := d.call(http.MethodDelete, d.servers()+"/"+ids["direct"], nil, nil); err != nil || (st != http.StatusNoContent && st != http.StatusNotFound) {
				return fmt.Errorf("delete: %d %v", st, err)
			}
		}
		for st == http.StatusOK {
			time.Sleep(d.c.poll)
			if _, st, err = d.get(ids["direct"]); err != nil {
				return err
			}
		}
		if st != http.StatusNotFound {
			return fmt.Errorf("delete poll: %d", st)
		}
	}
	return nil
}
