package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// request is one POST to send. A request that is sent many times should
// be the same *request each time: the raw client serializes it once.
type request struct {
	path string
	auth string // bearer token, or ""
	body []byte
}

// appendTo appends the request as HTTP/1.1 bytes for host.
func (r *request) appendTo(b []byte, host string) []byte {
	b = append(b, "POST "...)
	b = append(b, r.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: bankgate-bench\r\nContent-Type: application/json\r\n"...)
	if r.auth != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, r.auth...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(r.body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, r.body...)
}

// client sends requests over one keep-alive connection. It is used by one
// goroutine.
type client interface {
	// do sends r and returns the status and the body, which is valid until
	// the next call.
	do(r *request) (status int, body []byte, err error)
	close()
}

// newClient returns a client of the named kind for the server at addr.
func newClient(kind, addr string, conns int) client {
	if kind == "http" {
		return newHTTPClient(addr, conns)
	}
	return &rawClient{addr: addr}
}

// rawClient is a minimal HTTP/1.1 keep-alive client: it writes
// pre-serialized requests and parses just enough of the response (status,
// Content-Length, chunked encoding, Connection: close). It costs a few
// microseconds of CPU per request, several times less than net/http's
// client, so that on a small machine the load generator takes as little
// CPU as possible from the server it measures.
type rawClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	last *request
	wbuf []byte
	body []byte
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawClient) do(r *request) (int, []byte, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, nil, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	if r != c.last {
		c.wbuf = r.appendTo(c.wbuf[:0], c.addr)
		c.last = r
	}
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(c.wbuf); err != nil {
		c.close()
		return 0, nil, err
	}
	status, closeAfter, err := c.readResponse()
	if err != nil {
		c.close()
		return 0, nil, err
	}
	if closeAfter {
		c.close()
	}
	return status, c.body, nil
}

var (
	hContentLength    = []byte("content-length:")
	hTransferEncoding = []byte("transfer-encoding:")
	hConnection       = []byte("connection:")
)

// readResponse reads one response into c.body.
func (c *rawClient) readResponse() (status int, closeAfter bool, err error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("read status line: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := -1, false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("read header: %w", err)
		}
		if len(line) <= 2 {
			break
		}
		switch {
		case hasPrefixFold(line, hContentLength):
			v := bytes.TrimSpace(line[len(hContentLength):])
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, false, fmt.Errorf("bad Content-Length %q", v)
			}
		case hasPrefixFold(line, hTransferEncoding):
			chunked = bytes.Contains(bytes.ToLower(line), []byte("chunked"))
		case hasPrefixFold(line, hConnection):
			closeAfter = bytes.Contains(bytes.ToLower(line), []byte("close"))
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		for {
			line, err = c.br.ReadSlice('\n')
			if err != nil {
				return 0, false, fmt.Errorf("read chunk size: %w", err)
			}
			if i := bytes.IndexByte(line, ';'); i >= 0 {
				line = line[:i]
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 32)
			if err != nil {
				return 0, false, fmt.Errorf("bad chunk size %q", line)
			}
			if n == 0 {
				for { // trailers, then the empty line
					line, err = c.br.ReadSlice('\n')
					if err != nil {
						return 0, false, fmt.Errorf("read trailer: %w", err)
					}
					if len(line) <= 2 {
						return status, closeAfter, nil
					}
				}
			}
			if err := c.readBody(int(n) + 2); err != nil { // data and CRLF
				return 0, false, err
			}
			c.body = c.body[:len(c.body)-2]
		}
	case length >= 0:
		if err := c.readBody(length); err != nil {
			return 0, false, err
		}
	case status == http.StatusNoContent || status == http.StatusNotModified || status/100 == 1:
	default:
		b, err := io.ReadAll(c.br)
		if err != nil {
			return 0, false, fmt.Errorf("read body: %w", err)
		}
		c.body = append(c.body, b...)
		closeAfter = true
	}
	return status, closeAfter, nil
}

// readBody appends n bytes of the response to c.body.
func (c *rawClient) readBody(n int) error {
	start := len(c.body)
	if cap(c.body)-start < n {
		nb := make([]byte, start, start+n+n/2+512)
		copy(nb, c.body)
		c.body = nb
	}
	c.body = c.body[:start+n]
	if _, err := io.ReadFull(c.br, c.body[start:]); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

func hasPrefixFold(s, prefix []byte) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], prefix)
}

// httpClient sends requests with net/http's client over its own
// keep-alive transport.
type httpClient struct {
	base string
	c    *http.Client
	tr   *http.Transport
	buf  bytes.Buffer
}

func newHTTPClient(addr string, conns int) *httpClient {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &httpClient{base: "http://" + addr, tr: tr, c: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *httpClient) close() { c.tr.CloseIdleConnections() }

func (c *httpClient) do(r *request) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, c.base+r.path, bytes.NewReader(r.body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "bankgate-bench")
	if r.auth != "" {
		req.Header.Set("Authorization", "Bearer "+r.auth)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	c.buf.Reset()
	_, err = c.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, c.buf.Bytes(), nil
}

// histogram counts latencies in log-linear buckets: exact below 128 ns,
// then 64 buckets per power of two, so a quantile is within 1.6%.
type histogram struct {
	counts [64 * 42]uint64
	n      uint64
	max    time.Duration
}

const subBits = 6

func bucketOf(v uint64) int {
	if v < 2<<subBits {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1
	return (e+1)<<subBits + int(v>>e) - 1<<subBits
}

// bucketValue returns the middle of bucket i.
func bucketValue(i int) uint64 {
	if i < 2<<subBits {
		return uint64(i)
	}
	e := i>>subBits - 1
	m := uint64(i&(1<<subBits-1) + 1<<subBits)
	return m<<e + (uint64(1)<<e)/2
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := bucketOf(uint64(d))
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q ≤ 1), or 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketValue(i)), h.max)
		}
	}
	return h.max
}

// errPoolEmpty is returned by a generator whose finite supply of requests
// (fresh access codes) has run out.
var errPoolEmpty = errors.New("request pool exhausted")

// generator returns the next request for one worker. It is called by one
// goroutine.
type generator func() (*request, error)

// loadSpec is one closed-loop load run.
type loadSpec struct {
	addr     string
	client   string
	conns    int
	warmup   time.Duration
	duration time.Duration
	// newGen returns worker i's request generator.
	newGen func(i int) generator
	// onPhase, if set, is called as the measured window starts and ends;
	// the caller snapshots CPU counters there.
	onPhase func(measuring bool)
}

// loadResult is what one load run measured in its window.
type loadResult struct {
	requests  uint64
	errors    uint64
	elapsed   time.Duration
	hist      histogram
	errKinds  map[string]uint64
	endedWhy  string // why the window ended early, if it did
	poolEmpty bool
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseDone
)

var successTrue = []byte(`"success":true`)

// runLoad drives spec: conns workers each send a request, wait for the
// answer, and send the next, for the warmup and then the measured window.
// A response counts as an error unless its status is 2xx and its body
// holds "success":true. It returns early when ctx is done or a generator's
// pool runs out, and reports the window it actually measured.
func runLoad(ctx context.Context, spec loadSpec) *loadResult {
	var phase atomic.Int32
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		total    loadResult
		poolOnce sync.Once
	)
	total.errKinds = map[string]uint64{}
	poolEmpty := make(chan struct{})
	var wg sync.WaitGroup
	for i := range spec.conns {
		gen := spec.newGen(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(spec.client, spec.addr, spec.conns)
			defer c.close()
			var (
				h         histogram
				n, nerr   uint64
				kinds     = map[string]uint64{}
				transport int
			)
			for ctx.Err() == nil && phase.Load() != phaseDone {
				r, err := gen()
				if err != nil {
					poolOnce.Do(func() { close(poolEmpty) })
					break
				}
				t0 := time.Now()
				status, body, err := c.do(r)
				lat := time.Since(t0)
				ok := err == nil && status/100 == 2 && bytes.Contains(body, successTrue)
				if phase.Load() == phaseMeasure {
					h.add(lat)
					n++
					if !ok {
						nerr++
						kinds[errorKind(status, body, err)]++
					}
				}
				if err != nil {
					transport++
					if transport > 20 { // the server is gone or refusing: do not spin
						time.Sleep(10 * time.Millisecond)
					}
				} else {
					transport = 0
				}
			}
			mu.Lock()
			total.hist.merge(&h)
			total.requests += n
			total.errors += nerr
			for k, v := range kinds {
				total.errKinds[k] += v
			}
			mu.Unlock()
		}()
	}
	wait := func(d time.Duration) string {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return ""
		case <-ctx.Done():
			return "interrupted"
		case <-poolEmpty:
			return "pool"
		}
	}
	why := ""
	if spec.warmup > 0 {
		why = wait(spec.warmup)
	}
	var start time.Time
	if why == "" {
		if spec.onPhase != nil {
			spec.onPhase(true)
		}
		start = time.Now()
		phase.Store(phaseMeasure)
		why = wait(spec.duration)
		phase.Store(phaseDone)
		total.elapsed = time.Since(start)
		if spec.onPhase != nil {
			spec.onPhase(false)
		}
	}
	phase.Store(phaseDone)
	cancel()
	wg.Wait()
	switch why {
	case "interrupted":
		total.endedWhy = "interrupted"
	case "pool":
		total.poolEmpty = true
		if start.IsZero() {
			total.endedWhy = "the pool of fresh access codes ran out during the warmup"
		} else {
			total.endedWhy = fmt.Sprintf("the pool of fresh access codes ran out after %.2fs of the %.2fs window; rates are over the measured %.2fs", total.elapsed.Seconds(), spec.duration.Seconds(), total.elapsed.Seconds())
		}
	}
	return &total
}

// errorKind names a failed response for the error summary: the HTTP status
// and the Dapi error type, or the transport error.
func errorKind(status int, body []byte, err error) string {
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "transport: timeout"
		}
		s := err.Error()
		if len(s) > 80 {
			s = s[:80]
		}
		return "transport: " + s
	}
	typ := ""
	if i := bytes.Index(body, []byte(`"type":"`)); i >= 0 {
		rest := body[i+8:]
		if j := bytes.IndexByte(rest, '"'); j >= 0 && j < 64 {
			typ = " " + string(rest[:j])
		}
	}
	if status/100 == 2 {
		return fmt.Sprintf("HTTP %d success:false%s", status, typ)
	}
	return fmt.Sprintf("HTTP %d%s", status, typ)
}
