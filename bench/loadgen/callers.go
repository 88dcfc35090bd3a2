package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// caller makes one call (the i-th of the run) and says how it went: "" = ok, else an error kind.
type caller interface {
	call(i uint64) string
	check() error
	close()
}

type grpcCaller struct {
	conns   []*grpc.ClientConn
	method  string
	reqs    [][]byte // one per id (Get) or one (BatchGet)
	ids     []string
	timeout time.Duration
	opts    []grpc.CallOption
	next    uint64
}

func newGrpcCaller(o options) (*grpcCaller, error) {
	g := &grpcCaller{method: "/malt.v1.Serving/" + o.method, ids: o.ids, timeout: o.timeout}
	g.opts = []grpc.CallOption{grpc.ForceCodec(rawCodec{}), grpc.MaxCallRecvMsgSize(64 << 20)}
	if o.method == "Get" {
		for _, id := range o.ids {
			g.reqs = append(g.reqs, encodeGet(id))
		}
	} else {
		g.reqs = [][]byte{encodeBatchGet(o.ids)}
	}
	for i := 0; i < o.conns; i++ {
		// WithBlock: every connection is up before the first measured call.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cc, err := grpc.DialContext(ctx, o.target, grpc.WithInsecure(), grpc.WithBlock())
		cancel()
		if err != nil {
			g.close()
			return nil, fmt.Errorf("connecting to %s: %v", o.target, err)
		}
		g.conns = append(g.conns, cc)
	}
	return g, nil
}

func (g *grpcCaller) do(i uint64) error {
	cc := g.conns[atomic.AddUint64(&g.next, 1)%uint64(len(g.conns))]
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	req := g.reqs[i%uint64(len(g.reqs))]
	var resp []byte
	if err := cc.Invoke(ctx, g.method, &req, &resp, g.opts...); err != nil {
		return err
	}
	if len(g.reqs) == 1 && len(g.ids) > 1 {
		return checkBatch(resp, g.ids)
	}
	return checkEntity(resp, g.ids[i%uint64(len(g.ids))])
}

func (g *grpcCaller) call(i uint64) string {
	err := g.do(i)
	if err == nil {
		return ""
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.OK {
		return "grpc-" + s.Code().String()
	}
	return "bad-response"
}

func (g *grpcCaller) check() error { return g.do(0) }

func (g *grpcCaller) close() {
	for _, c := range g.conns {
		c.Close()
	}
}

type httpCaller struct {
	client *http.Client
	urls   []string
	ids    []string
	want   [][]byte
}

func newHTTPCaller(o options) (*httpCaller, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxConnsPerHost:     o.conns, // calls beyond this wait for a connection; that wait is counted
		MaxIdleConnsPerHost: o.conns,
		MaxIdleConns:        o.conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	h := &httpCaller{client: &http.Client{Transport: tr, Timeout: o.timeout}, ids: o.ids}
	for _, id := range o.ids {
		h.urls = append(h.urls, o.target+id)
		h.want = append(h.want, []byte(fmt.Sprintf("%q", id)))
	}
	return h, nil
}

func (h *httpCaller) do(i uint64) (int, error) {
	k := i % uint64(len(h.urls))
	res, err := h.client.Get(h.urls[k])
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return 0, err
	}
	if res.StatusCode != 200 {
		return res.StatusCode, fmt.Errorf("HTTP %d", res.StatusCode)
	}
	// The body names the requested id (malt: {"entity_id":"<id>",...}).
	if !bytes.Contains(body, h.want[k]) {
		return 200, errors.New("the response does not name the requested id")
	}
	return 200, nil
}

func (h *httpCaller) call(i uint64) string {
	code, err := h.do(i)
	if err == nil {
		return ""
	}
	if code > 0 && code != 200 {
		return fmt.Sprintf("http-%d", code)
	}
	if code == 200 {
		return "bad-response"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "transport"
}

func (h *httpCaller) check() error {
	_, err := h.do(0)
	return err
}

func (h *httpCaller) close() { h.client.CloseIdleConnections() }
