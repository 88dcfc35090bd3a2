// Command go-interop is a grpc-go client for test/grpc-interop.test.ts, built offline in GOPATH
// mode from Debian's golang-go, golang-google-grpc-dev and golang-google-protobuf-dev (see
// test/support/grpc-interop.ts). No generated code: message types come at run time from the
// FileDescriptorSet the test writes (the server's .proto files as @grpc/proto-loader reads them)
// through protodesc + dynamicpb, so requests and responses go through the real protobuf-go
// runtime, and bytes travel through grpc-go with a pass-through codec.
//
// Input (stdin) and output (stdout, one JSON object per line) are the same as
// test/support/grpc-interop-client.py's: see that file's header. A "-bin" metadata value is
// sent as its bytes (grpc-go base64-encodes it on the wire).
package main

import (
	"compress/zlib"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers "gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

type spec struct {
	Addr        string `json:"addr"`
	Descriptors string `json:"descriptors"`
	CA          string `json:"ca"`
	Steps       []step `json:"steps"`
}

type step struct {
	call
	Parallel []call `json:"parallel"`
}

type call struct {
	ID           string            `json:"id"`
	Method       string            `json:"method"`
	Kind         string            `json:"kind"`
	RequestType  string            `json:"request_type"`
	ResponseType string            `json:"response_type"`
	Request      json.RawMessage   `json:"request"`
	Requests     []json.RawMessage `json:"requests"`
	Metadata     [][2]string       `json:"metadata"`
	TimeoutMs    *float64          `json:"timeout_ms"`
	Compression  string            `json:"compression"`
	AppendHex    string            `json:"append_hex"`
}

// rawCodec passes message bytes through: encoding and decoding happen in this file.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	if b, ok := v.(*[]byte); ok {
		return *b, nil
	}
	return nil, fmt.Errorf("rawCodec: %T is not *[]byte", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: %T is not *[]byte", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// deflateCompressor is grpc-encoding "deflate" (zlib, RFC 1950, as C-core and grpc-js use it):
// grpc-go registers only gzip.
type deflateCompressor struct{}

func (deflateCompressor) Compress(w io.Writer) (io.WriteCloser, error) { return zlib.NewWriter(w), nil }
func (deflateCompressor) Decompress(r io.Reader) (io.Reader, error)    { return zlib.NewReader(r) }
func (deflateCompressor) Name() string                                 { return "deflate" }

func init() { encoding.RegisterCompressor(deflateCompressor{}) }

// codeNames are the canonical status names (as python's grpc.StatusCode names them).
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

type runner struct {
	conn  *grpc.ClientConn
	files *protoregistry.Files
	out   sync.Mutex
}

func (r *runner) emit(obj map[string]interface{}) {
	b, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	r.out.Lock()
	defer r.out.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func (r *runner) newMessage(name string) (*dynamicpb.Message, error) {
	d, err := r.files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, err
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a message", name)
	}
	return dynamicpb.NewMessage(md), nil
}

func (r *runner) encode(name string, js json.RawMessage) ([]byte, error) {
	m, err := r.newMessage(name)
	if err != nil {
		return nil, err
	}
	if err := protojson.Unmarshal(js, m); err != nil {
		return nil, fmt.Errorf("request %s: %v", name, err)
	}
	return proto.Marshal(m)
}

// decode returns the message as proto3 JSON with the .proto field names, re-read so that
// protojson's deliberately unstable spacing does not reach the output.
func (r *runner) decode(name string, data []byte) (interface{}, error) {
	m, err := r.newMessage(name)
	if err != nil {
		return nil, err
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("response %s does not decode: %v", name, err)
	}
	js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(js)))
	dec.UseNumber()
	var v interface{}
	err = dec.Decode(&v)
	return v, err
}

func (r *runner) callOptions(c call, trailer *metadata.MD) []grpc.CallOption {
	opts := []grpc.CallOption{grpc.ForceCodec(rawCodec{}), grpc.Trailer(trailer)}
	if c.Compression != "" {
		opts = append(opts, grpc.UseCompressor(c.Compression))
	}
	return opts
}

func (r *runner) context(c call) (context.Context, context.CancelFunc) {
	ctx := context.Background()
	for _, kv := range c.Metadata {
		ctx = metadata.AppendToOutgoingContext(ctx, kv[0], kv[1])
	}
	if c.TimeoutMs != nil {
		return context.WithTimeout(ctx, time.Duration(*c.TimeoutMs*float64(time.Millisecond)))
	}
	return context.WithCancel(ctx)
}

// do runs one call and returns its "end" line (stream messages are emitted as they arrive).
func (r *runner) do(c call) map[string]interface{} {
	started := time.Now()
	ctx, cancel := r.context(c)
	defer cancel()
	var trailer metadata.MD
	var response interface{}
	err := r.invoke(ctx, c, &trailer, &response)
	var local localError
	if errors.As(err, &local) {
		panic(fmt.Sprintf("call %s: %v", c.ID, local.error)) // a bad spec or a response that does not decode: not a gRPC status
	}
	st := status.Convert(err)
	var maltCode interface{}
	if v := trailer.Get("malt-error-code"); len(v) > 0 {
		maltCode = v[0]
	}
	return map[string]interface{}{
		"id": c.ID, "event": "end", "code": codeNames[st.Code()], "details": st.Message(),
		"malt_error_code": maltCode, "response": response,
		"elapsed_ms": float64(time.Since(started).Microseconds()) / 1000,
	}
}

// localError is a failure of this program (not a status from the server or grpc-go).
type localError struct{ error }

func (r *runner) invoke(ctx context.Context, c call, trailer *metadata.MD, response *interface{}) error {
	if c.Kind == "" || c.Kind == "unary" {
		req, err := r.encode(c.RequestType, c.Request)
		if err != nil {
			return localError{err}
		}
		extra, err := hex.DecodeString(c.AppendHex)
		if err != nil {
			return localError{err}
		}
		req = append(req, extra...)
		var resp []byte
		if err := r.conn.Invoke(ctx, c.Method, &req, &resp, r.callOptions(c, trailer)...); err != nil {
			return err
		}
		v, err := r.decode(c.ResponseType, resp)
		if err != nil {
			return localError{err}
		}
		*response = v
		return nil
	}
	reqs := c.Requests
	if c.Kind == "server_stream" {
		reqs = []json.RawMessage{c.Request}
	}
	desc := &grpc.StreamDesc{ServerStreams: true, ClientStreams: c.Kind == "bidi"}
	stream, err := r.conn.NewStream(ctx, desc, c.Method, r.callOptions(c, trailer)...)
	if err != nil {
		return err
	}
	for _, js := range reqs {
		req, err := r.encode(c.RequestType, js)
		if err != nil {
			return localError{err}
		}
		if err := stream.SendMsg(&req); err != nil && err != io.EOF {
			return err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	for {
		var resp []byte
		if err := stream.RecvMsg(&resp); err != nil {
			*trailer = stream.Trailer()
			if err == io.EOF {
				return nil
			}
			return err
		}
		v, err := r.decode(c.ResponseType, resp)
		if err != nil {
			return localError{err}
		}
		r.emit(map[string]interface{}{"id": c.ID, "event": "message", "message": v})
	}
}

func dial(s spec) (*grpc.ClientConn, error) {
	creds := grpc.WithInsecure()
	if s.CA != "" {
		pemBytes, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("no certificate in %s", s.CA)
		}
		creds = grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, ""))
	}
	return grpc.Dial(s.Addr, creds)
}

func loadFiles(path string) (*protoregistry.Files, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		return nil, err
	}
	return protodesc.NewFiles(&set)
}

func main() {
	var s spec
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		fmt.Fprintln(os.Stderr, "go-interop: reading the spec:", err)
		os.Exit(2)
	}
	files, err := loadFiles(s.Descriptors)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-interop: descriptors:", err)
		os.Exit(2)
	}
	conn, err := dial(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-interop: dial:", err)
		os.Exit(2)
	}
	defer conn.Close()
	r := &runner{conn: conn, files: files}
	for _, st := range s.Steps {
		calls := st.Parallel
		if calls == nil {
			calls = []call{st.call}
		}
		ends := make([]map[string]interface{}, len(calls))
		var wg sync.WaitGroup
		for i := range calls {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				ends[i] = r.do(calls[i])
			}(i)
		}
		wg.Wait()
		for _, e := range ends {
			r.emit(e)
		}
	}
}
