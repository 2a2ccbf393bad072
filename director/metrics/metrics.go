// Package metrics exports lvsd's state as Prometheus metrics: VRRP
// instances, real server health and weights, check latencies, the kernel's
// IPVS counters (64-bit, read at scrape time through a cache), the
// daemon's syncs and reloads. Names start with lvsd_; labels are vs (the
// virtual server), rs (the real server's ID, "vs/name"), service (the
// kernel service, "tcp 203.0.113.10:80"), vrrp_instance and vrid (VRRP;
// not "instance", which Prometheus sets on every series to the target).
// docs/operations.md lists every metric; examples/grafana-dashboard.json
// uses them.
//
// Most metrics are read from one snapshot per scrape (the director's
// status and the counters), so they are consistent with each other and
// cost nothing between scrapes. Only what a snapshot cannot hold (each
// check's latency, each sync's duration) is recorded as it happens,
// through the director.Observer that Metrics implements.
package metrics

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/lvsd/lvsd/checkers"
	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/control"
)

// Options configure Metrics.
type Options struct {
	// Director is read at each scrape. Required, here or through Attach.
	Director control.StatusSource
	// Counters reads the kernel's counters; nil: no lvsd_ipvs_* traffic
	// metrics.
	Counters *control.Counters
	// Version is lvsd's version for lvsd_build_info.
	Version string
	// ScrapeTimeout bounds a scrape's read of the kernel counters.
	// Default 10s.
	ScrapeTimeout time.Duration
}

// Metrics is lvsd's Prometheus registry and the director.Observer that
// feeds its histograms. Safe for concurrent use.
type Metrics struct {
	opts Options
	reg  *prometheus.Registry

	syncDuration prometheus.Histogram
	syncFailures prometheus.Counter
	verdictDelay prometheus.Histogram

	mu     sync.RWMutex
	checks map[string]*checkHist // by check ID
}

// checkHist is one check's latency histogram, kept unregistered and
// exported once per real server that owns the check.
type checkHist struct {
	h prometheus.Histogram
	// missed counts scrapes in a row that did not find the check (it was
	// removed by a reload); it is forgotten after a few.
	missed int
}

// checkBuckets span a loopback connect to a slow HTTP check's timeout.
var checkBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns the metrics of opts.Director, with Go's runtime and the
// process's metrics (go_*, process_*) in the same registry.
func New(opts Options) *Metrics {
	if opts.ScrapeTimeout <= 0 {
		opts.ScrapeTimeout = 10 * time.Second
	}
	m := &Metrics{
		opts:   opts,
		reg:    prometheus.NewRegistry(),
		checks: map[string]*checkHist{},
		syncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lvsd_sync_duration_seconds",
			Help:    "Duration of full syncs of the IPVS table (dump, diff, writes), including failed ones.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		syncFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lvsd_sync_failures_total",
			Help: "Full syncs that could not complete (the kernel table could not be read); they are retried.",
		}),
		verdictDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lvsd_verdict_to_kernel_seconds",
			Help:    "Time from a health verdict that changes the IPVS table to the end of its kernel write.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
	}
	m.reg.MustRegister(m.syncDuration, m.syncFailures, m.verdictDelay, (*snapshotCollector)(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Attach sets the director the metrics read, when it could not be given
// to New (it needs the Metrics as its Observer). Call it before serving.
func (m *Metrics) Attach(src control.StatusSource) { m.opts.Director = src }

// Registry is the registry to serve.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// CheckRun records a check's latency (director.Observer).
func (m *Metrics) CheckRun(o checkers.Observation) {
	m.mu.RLock()
	c := m.checks[o.Check]
	m.mu.RUnlock()
	if c == nil {
		m.mu.Lock()
		if c = m.checks[o.Check]; c == nil {
			c = &checkHist{h: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lvsd_check_duration_seconds", Buckets: checkBuckets})}
			m.checks[o.Check] = c
		}
		m.mu.Unlock()
	}
	c.h.Observe(o.Result.Latency.Seconds())
}

// FullSync records a full sync (director.Observer).
func (m *Metrics) FullSync(took time.Duration, err error) {
	m.syncDuration.Observe(took.Seconds())
	if err != nil {
		m.syncFailures.Inc()
	}
}

// VerdictApplied records a verdict's way to the kernel
// (director.Observer).
func (m *Metrics) VerdictApplied(d time.Duration) { m.verdictDelay.Observe(d.Seconds()) }

var _ director.Observer = (*Metrics)(nil)

// snapshotCollector exports one snapshot per scrape.
type snapshotCollector Metrics

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// The metrics read from the snapshot. docs/operations.md lists them; the
// dashboard test checks the dashboard against this list.
var (
	descBuildInfo   = desc("lvsd_build_info", "lvsd's version; always 1.", "version", "goversion")
	descReady       = desc("lvsd_ready", "1 once the first sync has programmed the kernel.")
	descStartTime   = desc("lvsd_start_time_seconds", "When the daemon started (Unix time).")
	descConfigInfo  = desc("lvsd_config_info", "The configuration in force: its hash (equal on two nodes: same effective settings) and node name; always 1.", "hash", "node")
	descReloads     = desc("lvsd_config_reloads_total", "Configuration reloads (SIGHUP or the control API) by result.", "result")
	descReloadOK    = desc("lvsd_config_last_reload_success", "1 if the last reload was applied, 0 if it was refused. Absent before the first reload.")
	descReloadTime  = desc("lvsd_config_last_reload_timestamp_seconds", "When the last reload was attempted (Unix time).")
	descSyncs       = desc("lvsd_syncs_total", "Syncs of the IPVS table: full (dump and repair) and fast (one event's change, no dump).", "kind")
	descOps         = desc("lvsd_ipvs_ops_total", "IPVS operations applied (add, edit, delete of services and real servers).")
	descFailedOps   = desc("lvsd_ipvs_failed_ops_total", "IPVS operations the kernel refused.")
	descWrites      = desc("lvsd_ipvs_writes_total", "Write requests sent to the kernel (netlink).")
	descDrift       = desc("lvsd_ipvs_drift_repairs_total", "Changes made behind lvsd's back (ipvsadm, another tool) that lvsd undid.")
	descOwned       = desc("lvsd_ipvs_owned_services", "Kernel services lvsd owns.")
	descLastFull    = desc("lvsd_sync_last_full_timestamp_seconds", "When the last full sync ended (Unix time).")
	descVSUp        = desc("lvsd_virtual_server_up", "1 while the virtual server has quorum.", "vs")
	descVSWeightUp  = desc("lvsd_virtual_server_weight_up", "Sum of the weights of the virtual server's up real servers.", "vs")
	descVSQuorum    = desc("lvsd_virtual_server_quorum", "The weight up the virtual server needs to be up.", "vs")
	descVSSorry     = desc("lvsd_virtual_server_sorry_active", "1 while the sorry server takes the virtual server's traffic.", "vs")
	descRSUp        = desc("lvsd_real_server_up", "1 while the real server's checks pass (always 1 without checks).", "vs", "rs")
	descRSWeight    = desc("lvsd_real_server_weight", "The weight the kernel gives the real server (0 when drained, quiesced or not in the table).", "vs", "rs")
	descRSCfgWeight = desc("lvsd_real_server_configured_weight", "The real server's weight in the configuration.", "vs", "rs")
	descRSInTable   = desc("lvsd_real_server_in_table", "1 while the kernel has the real server.", "vs", "rs")
	descRSState     = desc("lvsd_real_server_state", "The real server's state, one series per state, 1 for the current one: up, down, drain, disabled (operator overrides), draining (removed, connections finishing).", "vs", "rs", "state")
	descRSTrans     = desc("lvsd_real_server_transitions_total", "Changes of the real server's health.", "vs", "rs")
	descCheckUp     = desc("lvsd_check_up", "1 while the check passes (after rise/fall).", "vs", "rs", "check", "kind")
	descCheckRuns   = desc("lvsd_check_results_total", "Check runs by result.", "vs", "rs", "check", "kind", "result")
	descCheckDur    = desc("lvsd_check_duration_seconds", "How long each check run took (the round trip for icmp).", "vs", "rs", "check", "kind")
	descCountersUp  = desc("lvsd_ipvs_counters_up", "1 if this scrape read the kernel's IPVS counters.")
	descSvcConns    = desc("lvsd_ipvs_service_connections_total", "Connections the kernel scheduled for the service.", "vs", "service")
	descSvcPackets  = desc("lvsd_ipvs_service_packets_total", "Packets through the service, by direction (in: from clients).", "vs", "service", "direction")
	descSvcBytes    = desc("lvsd_ipvs_service_bytes_total", "Bytes through the service, by direction (in: from clients).", "vs", "service", "direction")
	descRSConns     = desc("lvsd_ipvs_real_server_connections_total", "Connections the kernel scheduled to the real server.", "vs", "rs", "service")
	descRSPackets   = desc("lvsd_ipvs_real_server_packets_total", "Packets to and from the real server, by direction (in: from clients).", "vs", "rs", "service", "direction")
	descRSBytes     = desc("lvsd_ipvs_real_server_bytes_total", "Bytes to and from the real server, by direction (in: from clients).", "vs", "rs", "service", "direction")
	descRSActive    = desc("lvsd_ipvs_real_server_active_connections", "The real server's active connections (TCP established).", "vs", "rs", "service")
	descRSInactive  = desc("lvsd_ipvs_real_server_inactive_connections", "The real server's inactive connections (other TCP states, UDP).", "vs", "rs", "service")
	descRSPersist   = desc("lvsd_ipvs_real_server_persistent_connections", "The real server's persistence templates.", "vs", "rs", "service")
)

var snapshotDescs = []*prometheus.Desc{
	descBuildInfo, descReady, descStartTime, descConfigInfo, descReloads, descReloadOK, descReloadTime,
	descSyncs, descOps, descFailedOps, descWrites, descDrift, descOwned, descLastFull,
	descVSUp, descVSWeightUp, descVSQuorum, descVSSorry,
	descRSUp, descRSWeight, descRSCfgWeight, descRSInTable, descRSState, descRSTrans,
	descCheckUp, descCheckRuns, descCheckDur,
	descCountersUp, descSvcConns, descSvcPackets, descSvcBytes,
	descRSConns, descRSPackets, descRSBytes, descRSActive, descRSInactive, descRSPersist,
}

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range snapshotDescs {
		ch <- d
	}
	for _, d := range vrrpDescs {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	m := (*Metrics)(c)
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.ScrapeTimeout)
	defer cancel()
	snap := control.Take(ctx, m.opts.Director, m.opts.Counters)
	ds := &snap.Director
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}

	gauge(descBuildInfo, 1, m.opts.Version, runtime.Version())
	gauge(descReady, b2f(ds.Ready))
	if !ds.Started.IsZero() {
		gauge(descStartTime, unix(ds.Started))
	}
	gauge(descConfigInfo, 1, ds.ConfigHash, ds.Node)
	counter(descReloads, float64(ds.Reload.Reloads-ds.Reload.Failures), "success")
	counter(descReloads, float64(ds.Reload.Failures), "failure")
	if !ds.Reload.Last.IsZero() {
		gauge(descReloadOK, b2f(ds.Reload.OK))
		gauge(descReloadTime, unix(ds.Reload.Last))
	}
	s := ds.Sync
	counter(descSyncs, float64(s.FullSyncs), "full")
	counter(descSyncs, float64(s.FastSyncs), "fast")
	counter(descOps, float64(s.Ops))
	counter(descFailedOps, float64(s.FailedOps))
	counter(descWrites, float64(s.Writes))
	counter(descDrift, float64(s.DriftRepairs))
	gauge(descOwned, float64(s.Owned))
	if !s.LastFull.IsZero() {
		gauge(descLastFull, unix(s.LastFull))
	}

	seen := map[string]bool{}
	counters := snap.HasCounters()
	if m.opts.Counters != nil {
		gauge(descCountersUp, b2f(counters))
	}
	for _, vs := range ds.VirtualServers {
		gauge(descVSUp, b2f(vs.QuorumUp), vs.Name)
		gauge(descVSWeightUp, float64(vs.WeightUp), vs.Name)
		gauge(descVSQuorum, float64(vs.Quorum), vs.Name)
		gauge(descVSSorry, b2f(vs.SorryActive), vs.Name)
		if counters {
			for _, key := range vs.Services {
				ks, ok := snap.Kernel.Get(key)
				if !ok {
					continue
				}
				svc := key.String()
				counter(descSvcConns, float64(ks.Stats.Conns), vs.Name, svc)
				counter(descSvcPackets, float64(ks.Stats.PacketsIn), vs.Name, svc, "in")
				counter(descSvcPackets, float64(ks.Stats.PacketsOut), vs.Name, svc, "out")
				counter(descSvcBytes, float64(ks.Stats.BytesIn), vs.Name, svc, "in")
				counter(descSvcBytes, float64(ks.Stats.BytesOut), vs.Name, svc, "out")
			}
		}
		for _, rs := range vs.RealServers {
			weight := float64(rs.EffectiveWeight)
			if !rs.InTable {
				weight = 0
			}
			gauge(descRSUp, b2f(rs.Up), vs.Name, rs.ID)
			gauge(descRSWeight, weight, vs.Name, rs.ID)
			gauge(descRSCfgWeight, float64(rs.ConfiguredWeight), vs.Name, rs.ID)
			gauge(descRSInTable, b2f(rs.InTable), vs.Name, rs.ID)
			state := control.RealServerState(rs)
			for _, st := range []string{"up", "down", "drain", "disabled", "draining"} {
				gauge(descRSState, b2f(st == state), vs.Name, rs.ID, st)
			}
			counter(descRSTrans, float64(rs.Transitions), vs.Name, rs.ID)
			for _, chk := range rs.Checks {
				seen[chk.ID] = true
				gauge(descCheckUp, b2f(chk.Up), vs.Name, rs.ID, chk.ID, chk.Kind)
				counter(descCheckRuns, float64(chk.Runs-chk.Failures), vs.Name, rs.ID, chk.ID, chk.Kind, "success")
				counter(descCheckRuns, float64(chk.Failures), vs.Name, rs.ID, chk.ID, chk.Kind, "failure")
				if h := m.checkHistogram(chk.ID, vs.Name, rs.ID, chk.Kind); h != nil {
					ch <- h
				}
			}
			if counters {
				for _, key := range vs.Services {
					d, ok := snap.Kernel.Destination(key, control.DestinationAddr(rs, key))
					if !ok {
						continue
					}
					svc := key.String()
					counter(descRSConns, float64(d.Stats.Conns), vs.Name, rs.ID, svc)
					counter(descRSPackets, float64(d.Stats.PacketsIn), vs.Name, rs.ID, svc, "in")
					counter(descRSPackets, float64(d.Stats.PacketsOut), vs.Name, rs.ID, svc, "out")
					counter(descRSBytes, float64(d.Stats.BytesIn), vs.Name, rs.ID, svc, "in")
					counter(descRSBytes, float64(d.Stats.BytesOut), vs.Name, rs.ID, svc, "out")
					gauge(descRSActive, float64(d.Stats.ActiveConns), vs.Name, rs.ID, svc)
					gauge(descRSInactive, float64(d.Stats.InactiveConns), vs.Name, rs.ID, svc)
					gauge(descRSPersist, float64(d.Stats.PersistentConns), vs.Name, rs.ID, svc)
				}
			}
		}
	}
	m.pruneChecks(seen)
	collectVRRP(ds, gauge, counter)
}

// checkHistogram is the latency histogram of check id as one real
// server's, or nil before its first run.
func (m *Metrics) checkHistogram(id, vs, rs, kind string) prometheus.Metric {
	m.mu.RLock()
	c := m.checks[id]
	m.mu.RUnlock()
	if c == nil {
		return nil
	}
	var pb dto.Metric
	if err := c.h.Write(&pb); err != nil || pb.Histogram == nil {
		return nil
	}
	h := pb.Histogram
	buckets := make(map[float64]uint64, len(h.Bucket))
	for _, b := range h.Bucket {
		buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	return prometheus.MustNewConstHistogram(descCheckDur, h.GetSampleCount(), h.GetSampleSum(), buckets, vs, rs, id, kind)
}

// pruneChecks forgets the histograms of checks absent from three scrapes
// in a row (a reload removed or changed them). Three, not one: a check
// added by a reload may run before the snapshot shows it.
func (m *Metrics) pruneChecks(seen map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, c := range m.checks {
		if seen[id] {
			c.missed = 0
			continue
		}
		if c.missed++; c.missed >= 3 {
			delete(m.checks, id)
		}
	}
}

// itoa formats a VRID label.
func itoa(n uint8) string { return strconv.Itoa(int(n)) }
