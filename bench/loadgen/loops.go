package main

import (
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// recorder collects the measured calls of one run (latencies in ns, error kinds).
type recorder struct {
	mu        sync.Mutex
	latencies []int64
	errors    map[string]int
	ok        int
}

func (r *recorder) add(lat time.Duration, kind string) {
	r.mu.Lock()
	if kind == "" {
		r.ok++
	} else {
		r.errors[kind]++
	}
	// Errors are timed too: a call that failed after waiting still waited.
	r.latencies = append(r.latencies, int64(lat))
	r.mu.Unlock()
}

func cpuNow() (user, sys time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// openLoop issues call i at start + i/rate whatever happened to earlier calls, each in its own
// goroutine, and times it from that intended moment. The scheduler sleeps until the next due
// call and then issues every call that is due; how late it issued them (sendLag) shows whether
// the generator kept up.
func openLoop(o options, c caller) result {
	rec := &recorder{errors: map[string]int{}, latencies: make([]int64, 0, int(o.rate*o.duration.Seconds())+16)}
	lag := make([]int64, 0, int(o.rate*o.duration.Seconds())+16)
	interval := time.Duration(float64(time.Second) / o.rate)
	var inflight, maxInflight int64
	var wg sync.WaitGroup
	start := time.Now()
	measureFrom := start.Add(o.warmup)
	end := measureFrom.Add(o.duration)
	var u0, s0 time.Duration
	cpuTaken := false
	var sent, skipped int
	for i := uint64(0); ; i++ {
		intended := start.Add(time.Duration(i) * interval)
		if !intended.Before(end) {
			break
		}
		measured := !intended.Before(measureFrom)
		if measured && !cpuTaken {
			u0, s0 = cpuNow()
			cpuTaken = true
		}
		now := time.Now()
		if d := intended.Sub(now); d > 0 {
			time.Sleep(d)
			now = time.Now()
		}
		if measured {
			lag = append(lag, int64(now.Sub(intended)))
			sent++
		}
		n := atomic.AddInt64(&inflight, 1)
		if n > int64(o.maxInflight) {
			atomic.AddInt64(&inflight, -1)
			if measured {
				skipped++
				rec.add(0, "over-max-inflight")
			}
			continue
		}
		if n > atomic.LoadInt64(&maxInflight) {
			atomic.StoreInt64(&maxInflight, n)
		}
		wg.Add(1)
		go func(i uint64, intended time.Time, measured bool) {
			kind := c.call(i)
			lat := time.Since(intended)
			atomic.AddInt64(&inflight, -1)
			if measured {
				rec.add(lat, kind)
			}
			wg.Done()
		}(i, intended, measured)
	}
	sendEnd := time.Now()
	wg.Wait() // every call ends by its deadline (-timeout)
	u1, s1 := cpuNow()
	return result{
		rec: rec, sendLag: lag, sent: sent, maxInflight: int(maxInflight),
		window: sendEnd.Sub(measureFrom), drained: time.Since(measureFrom), cpuUser: u1 - u0, cpuSys: s1 - s0,
	}
}

// closedLoop keeps -concurrency calls in flight for the whole run (saturation throughput);
// latency is from each call's actual send.
func closedLoop(o options, c caller) result {
	rec := &recorder{errors: map[string]int{}}
	start := time.Now()
	measureFrom := start.Add(o.warmup)
	end := measureFrom.Add(o.duration)
	var next uint64
	var wg sync.WaitGroup
	var u0, s0 time.Duration
	var cpuOnce sync.Once
	for w := 0; w < o.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				measured := !t0.Before(measureFrom)
				if measured {
					cpuOnce.Do(func() { u0, s0 = cpuNow() })
				}
				kind := c.call(atomic.AddUint64(&next, 1))
				if measured {
					rec.add(time.Since(t0), kind)
				}
			}
		}()
	}
	wg.Wait()
	u1, s1 := cpuNow()
	w := time.Since(measureFrom)
	errs := 0
	for _, n := range rec.errors {
		errs += n
	}
	return result{rec: rec, sent: rec.ok + errs, window: w, drained: w, cpuUser: u1 - u0, cpuSys: s1 - s0, closed: true}
}
