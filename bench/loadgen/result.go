package main

import (
	"encoding/json"
	"math"
	"sort"
	"time"
)

type result struct {
	rec             *recorder
	sendLag         []int64
	sent            int
	maxInflight     int
	window, drained time.Duration // send window (measured part); until the last measured call ended
	cpuUser, cpuSys time.Duration
	closed          bool
}

func ms(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }

// pct: nearest-rank percentile of sorted values.
func pct(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	if k < 0 {
		k = 0
	}
	return sorted[k]
}

func summary(v []int64) map[string]float64 {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	var sum int64
	for _, x := range v {
		sum += x
	}
	mean := int64(0)
	if len(v) > 0 {
		mean = sum / int64(len(v))
	}
	max := int64(0)
	if len(v) > 0 {
		max = v[len(v)-1]
	}
	return map[string]float64{
		"p50": ms(pct(v, 50)), "p90": ms(pct(v, 90)), "p99": ms(pct(v, 99)), "p999": ms(pct(v, 99.9)),
		"max": ms(max), "mean": ms(mean),
	}
}

func (r result) json(o options) []byte {
	errs := 0
	for _, n := range r.rec.errors {
		errs += n
	}
	done := r.rec.ok + errs
	cpu := (r.cpuUser + r.cpuSys).Seconds()
	out := map[string]interface{}{
		"mode": o.mode, "method": o.method, "target": o.target, "conns": o.conns,
		"loop":        map[bool]string{true: "closed", false: "open"}[r.closed],
		"offeredRate": o.rate, "durationS": o.duration.Seconds(), "warmupS": o.warmup.Seconds(),
		"sent": r.sent, "ok": r.rec.ok, "errors": errs, "errorKinds": r.rec.errors,
		// ok calls per second, from the start of the measured window until the last of its calls
		// ended: below the offered rate = the server fell behind.
		"achievedRate": math.Round(float64(r.rec.ok) / r.drained.Seconds()),
		"latencyMs":    summary(r.rec.latencies),
		"generator": map[string]interface{}{
			"cpuSeconds": math.Round(cpu*1000) / 1000,
			// Fraction of one core over the measured window (plus the drain): near 1 = the generator is the bound.
			"cpuFraction":  math.Round(cpu/r.drained.Seconds()*1000) / 1000,
			"cpuUsPerCall": math.Round(cpu/math.Max(1, float64(done))*1e6*10) / 10,
			"maxInflight":  r.maxInflight,
			"drainS":       math.Round((r.drained-r.window).Seconds()*1000) / 1000,
		},
	}
	if r.closed {
		out["concurrency"] = o.concurrency
	}
	if len(r.sendLag) > 0 {
		// How late the generator issued calls vs their intended time (its own scheduling delay).
		out["sendLagMs"] = summary(r.sendLag)
	}
	b, _ := json.Marshal(out)
	return append(b, '\n')
}
