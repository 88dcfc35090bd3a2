// malt-loadgen: an open-loop load generator for malt's gRPC (malt.v1.Serving Get / BatchGet) and
// HTTP (GET) paths, measured the same way. Each call has an intended send time (start + i/rate);
// its latency is counted from that time, so a server that falls behind is charged for the queue
// it causes (no coordinated omission). Prints one JSON object on stdout.
//
// Built offline in GOPATH mode from Debian's golang-go + golang-google-grpc-dev +
// golang-google-protobuf-dev (bench/lib/loadgen-build.mjs); no protoc plugin: requests are
// hand-encoded protobuf and responses are read as raw bytes (codec.go).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

type options struct {
	mode        string // grpc | http
	target      string // host:port (grpc) or URL prefix (http)
	method      string // Get | BatchGet (grpc)
	ids         []string
	rate        float64 // calls/s; 0 = closed loop (saturation) with -concurrency calls in flight
	concurrency int
	conns       int
	duration    time.Duration
	warmup      time.Duration
	timeout     time.Duration
	maxInflight int
}

func parse() options {
	var o options
	var ids string
	flag.StringVar(&o.mode, "mode", "grpc", "grpc or http")
	flag.StringVar(&o.target, "target", "127.0.0.1:50051", "grpc: host:port; http: URL prefix, the id is appended (e.g. http://127.0.0.1:8080/v1/entities/)")
	flag.StringVar(&o.method, "method", "Get", "grpc method: Get or BatchGet")
	flag.StringVar(&ids, "ids", "", "entity ids, comma-separated; Get/http cycle through them, BatchGet sends all in one call")
	flag.Float64Var(&o.rate, "rate", 1000, "offered calls per second; 0 = closed loop (saturation)")
	flag.IntVar(&o.concurrency, "concurrency", 64, "closed loop only: calls in flight")
	flag.IntVar(&o.conns, "conns", 4, "connections (HTTP/2 for grpc, HTTP/1.1 keep-alive for http)")
	flag.DurationVar(&o.duration, "duration", 4*time.Second, "measured duration")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before measuring (same load, not recorded)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "per-call deadline (a late call is an error)")
	flag.IntVar(&o.maxInflight, "max-inflight", 50000, "open loop: calls in flight beyond this are not sent and count as errors (bounded memory)")
	flag.Parse()
	if ids == "" {
		fail("-ids is required")
	}
	o.ids = strings.Split(ids, ",")
	if o.mode != "grpc" && o.mode != "http" {
		fail("-mode must be grpc or http")
	}
	if o.mode == "grpc" && o.method != "Get" && o.method != "BatchGet" {
		fail("-method must be Get or BatchGet")
	}
	if o.conns < 1 || o.rate < 0 || o.concurrency < 1 || o.duration <= 0 {
		fail("-conns, -concurrency and -duration must be positive, -rate >= 0")
	}
	return o
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "malt-loadgen: "+msg)
	os.Exit(2)
}

func main() {
	o := parse()
	// Fewer, larger GCs: the generator's own pauses would land in every call's latency.
	debug.SetGCPercent(400)
	var c caller
	var err error
	if o.mode == "grpc" {
		c, err = newGrpcCaller(o)
	} else {
		c, err = newHTTPCaller(o)
	}
	if err != nil {
		fail(err.Error())
	}
	defer c.close()
	if err := c.check(); err != nil {
		fail("first call failed: " + err.Error())
	}
	var r result
	if o.rate > 0 {
		r = openLoop(o, c)
	} else {
		r = closedLoop(o, c)
	}
	os.Stdout.Write(r.json(o))
}
