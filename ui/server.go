package ui

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/microbatch/microbatch/engine"
)

// DefaultAddr is Spark's UI address.
const DefaultAddr = "127.0.0.1:4040"

// portRetries is how many ports after a taken one are tried (Spark's
// spark.port.maxRetries).
const portRetries = 16

// Options configure a Server. Only Status is required.
type Options struct {
	// Addr is the address to listen on; default DefaultAddr. When its port
	// is taken, the next ones are tried (up to 16), as Spark does.
	Addr string
	// Token, if set, must come with every request as a bearer token
	// (Authorization: Bearer TOKEN, or the access_token query parameter
	// of RFC 6750, which the page passes on). Required when Addr is not
	// a loopback address.
	Token string
	// Name is the query's name: the group label of
	// kafka_consumergroup_group_lag and the page's title.
	Name string
	// Status returns what the query is doing (engine.Query.Status).
	Status func() engine.Status
	// Query is the query text and Settings the job's settings, shown
	// below the charts, in order.
	Query    string
	Settings []Setting
	// Keep is how many progress records are kept for /api/v1/progress
	// (default 1000).
	Keep int
}

// Setting is one job setting shown on the page.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ErrTokenRequired is returned by Start for a non-loopback address without
// a token.
var ErrTokenRequired = errors.New("ui: a non-loopback address needs a token")

//go:embed web
var webFS embed.FS

// Server serves a query's web UI, /metrics and /api/v1 over HTTP,
// read-only. Feed it every committed batch with Observe (from
// engine.Config.OnProgress).
type Server struct {
	opts     Options
	metrics  *metrics
	ln       net.Listener
	srv      *http.Server
	done     chan struct{} // closed when the serving goroutine has returned
	serveErr error         // set before done is closed

	mu     sync.Mutex // guards recent
	recent []engine.Progress
}

// Start listens on opts.Addr and serves until Close. The address it
// listens on is Addr.
func Start(opts Options) (*Server, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	if s.ln, err = listen(s.opts.Addr); err != nil {
		return nil, err
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	// The serving goroutine is owned by the Server: Close shuts it down
	// and waits for it.
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
	}()
	return s, nil
}

// New returns a Server that does not listen: serve its Handler yourself.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.Keep <= 0 {
		opts.Keep = 1000
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("ui: address %q: %w", opts.Addr, err)
	}
	if opts.Token == "" && !loopback(host) {
		return nil, fmt.Errorf("%w: %s is reachable from other hosts; set a token (--ui-token or MICROBATCH_UI_TOKEN)", ErrTokenRequired, opts.Addr)
	}
	return &Server{opts: opts, metrics: newMetrics(opts.Name, opts.Status)}, nil
}

// Loopback reports whether addr (host:port) only accepts local
// connections: a token is required otherwise.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopback(host)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listen listens on addr, or on one of the 16 ports after its port if
// that is taken.
func listen(addr string) (net.Listener, error) {
	host, portStr, _ := net.SplitHostPort(addr)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("ui: address %q: port %q is not a number", addr, portStr)
	}
	for i := 0; ; i++ {
		a := net.JoinHostPort(host, strconv.Itoa(port+i))
		ln, err := net.Listen("tcp", a)
		if err == nil {
			return ln, nil
		}
		if port == 0 || i == portRetries || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("ui: %w", err)
		}
	}
}

// Addr is the address the server listens on ("" for a Server from New).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL is the page's address.
func (s *Server) URL() string { return "http://" + s.Addr() + "/" }

// Close stops serving: requests in flight get up to 5 s to finish. It
// returns the error serving stopped with, if any.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return errors.Join(err, s.serveErr)
}

// Observe records a committed batch: the metrics and /api/v1/progress.
// Safe from any goroutine.
func (s *Server) Observe(p engine.Progress) {
	s.metrics.observe(p)
	s.mu.Lock()
	s.recent = append(s.recent, p)
	if len(s.recent) >= 2*s.opts.Keep {
		// Trimmed once every Keep batches, not at every one: copying the
		// history at each batch cost more than the rest of Observe.
		s.recent = append(s.recent[:0:0], s.recent[len(s.recent)-s.opts.Keep:]...)
	}
	s.mu.Unlock()
}

// Handler serves the UI: / (the page), /metrics, /api/v1/progress?n=N
// (the last N progress records, oldest first, default 100) and
// /api/v1/status. Only GET and HEAD are allowed.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	mux.Handle("GET /", http.FileServerFS(static))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/progress", s.progress)
	mux.HandleFunc("GET /api/v1/status", s.status)
	return s.guard(mux)
}

func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only", http.StatusMethodNotAllowed)
			return
		}
		if s.opts.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				got = r.URL.Query().Get("access_token")
			}
			if subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="microbatch"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

func (s *Server) progress(w http.ResponseWriter, r *http.Request) {
	n := 100
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 {
			http.Error(w, fmt.Sprintf("n=%q: want a number >= 0", v), http.StatusBadRequest)
			return
		}
	}
	s.mu.Lock()
	recent := s.recent[max(len(s.recent)-min(n, s.opts.Keep), 0):]
	out := append(make([]engine.Progress, 0, len(recent)), recent...)
	s.mu.Unlock()
	writeJSON(w, out)
}

// statusJSON is /api/v1/status.
type statusJSON struct {
	engine.Status
	Name     string    `json:"name"`
	Query    string    `json:"query"`
	Settings []Setting `json:"settings"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var st engine.Status
	if s.opts.Status != nil {
		st = s.opts.Status()
	}
	writeJSON(w, statusJSON{Status: st, Name: s.opts.Name, Query: s.opts.Query, Settings: append([]Setting{}, s.opts.Settings...)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v) // a write error is the client gone
}
