package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/lvsd/lvsd/director/control"
)

func newStatusCmd() *cobra.Command {
	var (
		flags  clientFlags
		asJSON bool
		rate   bool
		exact  bool
	)
	cmd := &cobra.Command{
		Use:   "status [VIRTUAL_SERVER...]",
		Short: "Show the running daemon: IPVS table with traffic, health, overrides, VRRP",
		Long: `Status asks the running daemon (over its control socket) for its state and
prints it as ipvsadm -Ln --stats does, with each real server's health, weight
and last check, followed by the operator overrides, the real servers
draining, and the VRRP instances.

For each real server: Weight is the weight in the kernel, as "0/100" when it
differs from the configured one ("-" when the kernel does not have it);
State is up, DOWN, drain or disabled (operator overrides, see lvsd drain), or
draining (removed, its connections finishing). The traffic columns are the
kernel's 64-bit counters (read at most every 2 s), scaled K/M/G by 1000
unless --exact; --rate shows the kernel's per-second estimates instead.

Name virtual servers to show only those. --json prints the API's JSON
(GET /v1/status, documented in docs/operations.md) for scripts.` + exitStatusHelp,
		Example: `  lvsd status
  lvsd status web --rate
  lvsd status --json | jq '.virtual_servers[].real_servers[] | select(.state != "up") | .id'
  lvsd status --socket /run/lvsd-test/lvsd.sock`,
		ValidArgsFunction: completeFromStatus(&flags, func(st control.Status) []string {
			var out []string
			for _, vs := range st.VirtualServers {
				out = append(out, vs.Name)
			}
			return out
		}),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ctx, cancel := flags.client(cmd)
			defer cancel()
			defer c.Close()
			if asJSON {
				var raw json.RawMessage
				if err := c.Get(ctx, "/v1/status", &raw); err != nil {
					return clientError(err)
				}
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			st, err := c.Status(ctx)
			if err != nil {
				return clientError(err)
			}
			for _, name := range args {
				if !slices.ContainsFunc(st.VirtualServers, func(vs control.VirtualServer) bool { return vs.Name == name }) {
					return fmt.Errorf("no virtual server %q", name)
				}
			}
			if len(args) > 0 {
				st.VirtualServers = slices.DeleteFunc(st.VirtualServers, func(vs control.VirtualServer) bool { return !slices.Contains(args, vs.Name) })
			}
			return renderStatus(cmd.OutOrStdout(), st, statusOptions{rate: rate, exact: exact, now: time.Now(), filtered: len(args) > 0})
		},
	}
	flags.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON instead of tables")
	cmd.Flags().BoolVar(&rate, "rate", false, "show rates (connections, packets and bytes per second) instead of totals")
	cmd.Flags().BoolVar(&exact, "exact", false, "print exact numbers instead of K/M/G")
	return cmd
}

type statusOptions struct {
	rate, exact bool
	now         time.Time
	// filtered hides what is not per virtual server (overrides, VRRP).
	filtered bool
}

// renderStatus writes the status as text tables.
func renderStatus(w io.Writer, st control.Status, o statusOptions) error {
	var b strings.Builder
	state := "starting (first sync not done)"
	if st.Ready {
		state = "running"
	}
	fmt.Fprintf(&b, "lvsd %s on %s: %s, pid %d, up %s\n", st.Version, st.Node, state, st.PID, since(o.now, st.Started))
	hash := st.Config.Hash
	if len(hash) > 12 {
		hash = hash[:12]
	}
	fmt.Fprintf(&b, "config %s (%s)", hash, strings.Join(st.Config.Files, ", "))
	if r := st.Reload; r.Last != nil {
		if r.OK {
			fmt.Fprintf(&b, "; last reload %s ago: ok, %s", since(o.now, *r.Last), plural(int(r.Writes), "write"))
		} else {
			fmt.Fprintf(&b, "; last reload %s ago: REFUSED: %s", since(o.now, *r.Last), firstLine(r.Error))
		}
	}
	b.WriteString("\n")
	s := st.Sync
	fmt.Fprintf(&b, "sync: %d full", s.FullSyncs)
	if s.LastFull != nil {
		fmt.Fprintf(&b, " (last %s ago, took %s)", since(o.now, *s.LastFull), seconds(s.LastFullDurationSeconds))
	}
	fmt.Fprintf(&b, ", %d fast; %s, %d failed, %s; %s owned\n", s.FastSyncs, plural(int(s.Writes), "kernel write"), s.FailedOps,
		plural(int(s.DriftRepairs), "drift repair"), plural(s.OwnedServices, "service"))
	if s.LastError != "" {
		fmt.Fprintf(&b, "last sync error: %s\n", s.LastError)
	}
	if st.Kernel.Error != "" {
		fmt.Fprintf(&b, "kernel counters unavailable: %s\n", st.Kernel.Error)
	}

	if !o.filtered {
		renderVRRP(&b, st.VRRP, o)
	}
	b.WriteString("\n")
	renderTable(&b, st, o)

	if !o.filtered && len(st.Overrides) > 0 {
		b.WriteString("\nOperator overrides (lvsd enable RS clears one):\n")
		t := &table{right: map[int]bool{}}
		for _, ov := range st.Overrides {
			note := ""
			if !ov.Configured {
				note = "not in the configuration"
			}
			t.row("  "+ov.RealServer, ov.Override, "since "+ov.Since.Local().Format("2006-01-02 15:04:05"), "("+since(o.now, ov.Since)+" ago)", note)
		}
		t.write(&b)
	}
	if !o.filtered && len(st.Draining) > 0 {
		b.WriteString("\nDraining (weight 0 until their connections end or the deadline):\n")
		t := &table{right: map[int]bool{2: true, 3: true}}
		t.row("  REAL SERVER", "SERVICE", "ACTIVE", "INACTIVE", "DEADLINE")
		for _, d := range st.Draining {
			name := d.RealServer
			if name == "" {
				name = d.Address
			}
			t.row("  "+name, d.Service, strconv.Itoa(int(d.ActiveConns)), strconv.Itoa(int(d.InactiveConns)), "in "+until(o.now, d.Deadline))
		}
		t.write(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func renderVRRP(b *strings.Builder, v control.VRRPInfo, o statusOptions) {
	if !v.Running {
		if v.Note != "" {
			fmt.Fprintf(b, "VRRP: not running (%s)\n", v.Note)
		}
		return
	}
	b.WriteString("\nVRRP\n")
	t := &table{right: map[int]bool{2: true, 4: true, 5: true}}
	t.row("  INSTANCE", "INTERFACE", "VRID", "STATE", "PRIO", "EFFECTIVE", "MASTER", "SINCE", "WHY")
	for _, in := range v.Instances {
		state := in.State
		if in.SteppedDownUntil != nil && in.SteppedDownUntil.After(o.now) {
			state += " (stepped down for " + until(o.now, *in.SteppedDownUntil) + ")"
		}
		why := in.Reason
		switch {
		case !in.Running && in.LastError != "":
			state, why = "NOT RUNNING", in.LastError
		case in.Fault != "":
			why = "fault: " + in.Fault
		}
		master := in.Master
		if master == "" {
			master = "-"
		} else if in.MasterPriority != 0 && in.State != "MASTER" {
			master += fmt.Sprintf(" (%d)", in.MasterPriority)
		}
		name := in.Name
		if in.SyncGroup != "" {
			name += " [" + in.SyncGroup + "]"
		}
		t.row("  "+name, in.Interface, strconv.Itoa(int(in.VRID)), state, strconv.Itoa(int(in.Priority)),
			strconv.Itoa(int(in.EffectivePriority)), master, since(o.now, in.Since)+" ago", why)
	}
	t.write(b)
	for _, in := range v.Instances {
		var drops []string
		for _, r := range slices.Sorted(maps.Keys(in.Adverts.Dropped)) {
			if r != "vrid" { // another router's adverts on a shared group: normal
				drops = append(drops, fmt.Sprintf("%s %d", r, in.Adverts.Dropped[r]))
			}
		}
		if len(drops) > 0 || in.Adverts.SendErrors > 0 {
			fmt.Fprintf(b, "  %s: adverts sent %d (%d failed), received %d, dropped: %s\n", in.Name, in.Adverts.Sent,
				in.Adverts.SendErrors, in.Adverts.Received, strings.Join(drops, ", "))
		}
	}
}

// forwardNames are ipvsadm's.
var forwardNames = map[string]string{"nat": "Masq", "dr": "Route", "tun": "Tunnel", "local": "Local"}

// renderTable is the IPVS table in ipvsadm's shape, one block per virtual
// server.
func renderTable(b *strings.Builder, st control.Status, o statusOptions) {
	cols := []string{"Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"}
	if o.rate {
		cols = []string{"CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"}
	}
	t := &table{right: map[int]bool{3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true}}
	t.row(append([]string{"Prot LocalAddress:Port", "Forward", "Weight", "ActConn", "InActConn"}, append(cols, "State", "Last check")...)...)
	t.row("  -> RemoteAddress:Port")
	num := func(v uint64) string {
		if o.exact {
			return strconv.FormatUint(v, 10)
		}
		return scaled(v)
	}
	traffic := func(s *control.Stats) []string {
		if s == nil {
			return []string{"-", "-", "-", "-", "-"}
		}
		if o.rate {
			return []string{num(s.CPS), num(s.PPSIn), num(s.PPSOut), num(s.BPSIn), num(s.BPSOut)}
		}
		return []string{num(s.Conns), num(s.PacketsIn), num(s.PacketsOut), num(s.BytesIn), num(s.BytesOut)}
	}
	for _, vs := range st.VirtualServers {
		head := fmt.Sprintf("# %s: %s, %s", vs.Name, vs.Scheduler, quorumText(vs))
		t.line(head)
		for _, svc := range vs.Services {
			proto, addr, _ := strings.Cut(svc.Key, " ")
			var act, inact uint64
			var dests []control.RealServer
			for _, rs := range vs.RealServers {
				dests = append(dests, rs)
				for _, k := range rs.Kernel {
					if k.Service == svc.Key {
						act += uint64(k.Stats.ActiveConns)
						inact += uint64(k.Stats.InactiveConns)
					}
				}
			}
			row := []string{fmt.Sprintf("%-4s %s", strings.ToUpper(proto), addr), "", "", num(act), num(inact)}
			if !svc.InKernel {
				row[3], row[4] = "-", "-"
			}
			state := ""
			if !svc.InKernel && st.Kernel.Error == "" && st.Kernel.CountersRead != nil {
				state = "NOT IN KERNEL"
			}
			t.row(append(append(row, traffic(svc.Stats)...), state)...)
			for _, rs := range dests {
				var k *control.Destination
				for i := range rs.Kernel {
					if rs.Kernel[i].Service == svc.Key {
						k = &rs.Kernel[i]
					}
				}
				addr := rs.Address
				var stats *control.Stats
				act, inact := "-", "-"
				if k != nil {
					addr = k.Address
					stats = &k.Stats
					act, inact = num(uint64(k.Stats.ActiveConns)), num(uint64(k.Stats.InactiveConns))
				}
				fwd := forwardNames[rs.Forward]
				if fwd == "" {
					fwd = rs.Forward
				}
				row := []string{"  -> " + addr, fwd, weightText(rs), act, inact}
				t.row(append(append(row, traffic(stats)...), stateText(rs), lastCheckText(rs, o.now))...)
			}
		}
	}
	t.write(b)
}

func quorumText(vs control.VirtualServer) string {
	s := "up"
	if !vs.Up {
		s = "DOWN (below quorum)"
	}
	s += fmt.Sprintf(", weight up %d, quorum %d", vs.WeightUp, vs.Quorum)
	if vs.Hysteresis > 0 {
		s += fmt.Sprintf("+%d", vs.Hysteresis)
	}
	if vs.SorryActive {
		s += ", SORRY SERVER " + vs.SorryServer + " ACTIVE"
	}
	return s
}

func weightText(rs control.RealServer) string {
	if !rs.InTable {
		return "-/" + strconv.Itoa(int(rs.ConfiguredWeight))
	}
	if rs.EffectiveWeight != rs.ConfiguredWeight {
		return fmt.Sprintf("%d/%d", rs.EffectiveWeight, rs.ConfiguredWeight)
	}
	return strconv.Itoa(int(rs.EffectiveWeight))
}

func stateText(rs control.RealServer) string {
	if rs.State == "down" {
		return "DOWN"
	}
	return rs.State
}

func lastCheckText(rs control.RealServer, now time.Time) string {
	if !rs.Checked {
		return "no checks"
	}
	lc := rs.LastCheck
	if lc == nil {
		return "not run yet"
	}
	s := "ok " + seconds(lc.LatencySeconds)
	if !lc.OK {
		s = "FAIL " + lc.Reason
	}
	if !rs.Up && rs.Reason != "" && lc.OK {
		// Passing again, not yet risen.
		s += " (down: " + rs.Reason + ")"
	}
	return s + ", " + since(now, lc.Time) + " ago"
}

// scaled writes n as ipvsadm does without --exact: plain below 100000,
// then K, M, G, T by 1000.
func scaled(n uint64) string {
	if n < 100000 {
		return strconv.FormatUint(n, 10)
	}
	units := []string{"K", "M", "G", "T", "P"}
	v := float64(n)
	u := -1
	for v >= 1000 && u < len(units)-1 {
		v /= 1000
		u++
	}
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 1, 64) + units[u]
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + units[u]
}

// seconds writes a latency or duration in seconds as a short duration.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// since is how long ago t was, coarsely: 5s, 3m12s, 2h5m, 3d4h.
func since(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return coarse(now.Sub(t))
}

func until(now, t time.Time) string { return coarse(t.Sub(now)) }

func coarse(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return d.Truncate(time.Second).String()
	case d < time.Hour:
		return d.Truncate(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	}
	days := d / (24 * time.Hour)
	return fmt.Sprintf("%dd%dh", days, (d-days*24*time.Hour)/time.Hour)
}

// table aligns columns: left, or right for the columns in right. A line
// added with line is written as is, outside the columns.
type table struct {
	rows  [][]string
	right map[int]bool
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }
func (t *table) line(s string)       { t.rows = append(t.rows, []string{"\x00" + s}) }

func (t *table) write(b *strings.Builder) {
	var width []int
	for _, r := range t.rows {
		if len(r) == 1 && strings.HasPrefix(r[0], "\x00") {
			continue
		}
		// A row's last cell does not widen its column.
		for i, c := range r[:len(r)-1] {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range t.rows {
		if len(r) == 1 && strings.HasPrefix(r[0], "\x00") {
			b.WriteString(r[0][1:] + "\n")
			continue
		}
		var line strings.Builder
		for i, c := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			if i == len(r)-1 && !t.right[i] {
				line.WriteString(c)
				break
			}
			pad := strings.Repeat(" ", max(width[min(i, len(width)-1)]-utf8.RuneCountInString(c), 0))
			if t.right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}
