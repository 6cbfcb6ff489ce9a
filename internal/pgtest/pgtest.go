// Package pgtest starts a real PostgreSQL server for tests: one per test
// package, started by the first test that asks for it (initdb in a temp
// dir, pg_ctl on a free port) and stopped when the package's tests end
// (Run, from TestMain). Each test gets a database of its own (DB).
//
// PostgreSQL refuses to run as root. Run as root (as CI does), the server
// runs under the "postgres" account when there is one, otherwise under an
// account "microbatch-pg" the harness creates with useradd.
//
// Without PostgreSQL installed the tests skip with one line saying how to
// install it; with CI=true they fail instead.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// User and Password are the superuser's, over TCP (scram-sha-256).
const (
	User     = "microbatch"
	Password = "microbatch-test"
)

// Server is a running PostgreSQL server.
type Server struct {
	Host string
	Port int
	bin  string // directory of initdb, pg_ctl
	dir  string // temp dir: data/, log, sockets
	cred *syscall.Credential
}

var (
	mu     sync.Mutex // guards the fields below
	shared *Server
	failed error // the first start's error, returned to every later test
	dbSeq  int
)

// Run runs the package's tests and stops the server if one was started;
// call it from TestMain: os.Exit(pgtest.Run(m)).
func Run(m *testing.M) int {
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
		shared = nil
	}
	return code
}

// Start returns the package's server, starting it on first use. Without
// PostgreSQL it skips t (fails it with CI=true).
func Start(t testing.TB) *Server {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		return shared
	}
	if failed != nil {
		t.Fatal(failed)
	}
	bin, err := findBin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %v (CI=true: PostgreSQL is required; .ci/run installs it)", err)
		}
		t.Skipf("pgtest: %v: install it with `apt-get install postgresql`", err)
	}
	s, err := start(bin)
	if err != nil {
		failed = err
		t.Fatal(err)
	}
	shared = s
	return s
}

// Launch starts a server outside a test (the bench's -sink postgres); the
// caller stops it with Stop.
func Launch() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, fmt.Errorf("%w: install it with `apt-get install postgresql`", err)
	}
	return start(bin)
}

// Stop stops a server from Launch and removes its data.
func (s *Server) Stop() error { return s.stop() }

// URL is the connection URL of database db as the superuser.
func (s *Server) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(User, Password), Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// DB creates an empty database for t and returns its URL; it is dropped
// when t ends.
func DB(t testing.TB) string {
	t.Helper()
	s := Start(t)
	mu.Lock()
	dbSeq++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq)
	mu.Unlock()
	s.Exec(t, "postgres", "CREATE DATABASE "+name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return s.URL(name)
}

// Exec runs sql in database db, failing t on error.
func (s *Server) Exec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// Restart restarts the server (pg_ctl restart -m fast): every connection
// is cut, the data stays.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.pgctl("restart", "-m", "fast", "-w", "-t", "60", "-l", filepath.Join(s.dir, "log"), "-o", s.opts()); err != nil {
		t.Fatal(err)
	}
}

// findBin finds the directory holding initdb and pg_ctl: the PATH's, else
// the newest /usr/lib/postgresql/<version>/bin (Debian does not put them
// on the PATH).
func findBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL (initdb, pg_ctl) is not installed")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func start(bin string) (_ *Server, err error) {
	s := &Server{Host: "127.0.0.1", bin: bin}
	if s.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(s.dir)
		}
	}()
	if os.Geteuid() == 0 {
		u, err := serverUser()
		if err != nil {
			return nil, err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return nil, err
		}
	}
	pw := filepath.Join(s.dir, "pw")
	if err := os.WriteFile(pw, []byte(Password+"\n"), 0o600); err != nil {
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(pw, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, err
		}
	}
	if err := s.cmd("initdb", "-D", filepath.Join(s.dir, "data"), "-U", User, "--pwfile", pw,
		"--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, err
	}
	if s.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := s.pgctl("start", "-w", "-t", "60", "-l", filepath.Join(s.dir, "log"), "-o", s.opts()); err != nil {
		return nil, err
	}
	return s, nil
}

// opts are the server's options: its port, TCP on localhost, sockets in
// its temp dir, durability off (tests kill processes, not the server).
func (s *Server) opts() string {
	return fmt.Sprintf("-p %d -h 127.0.0.1 -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100", s.Port, s.dir)
}

func (s *Server) pgctl(args ...string) error {
	return s.cmd("pg_ctl", append([]string{"-D", filepath.Join(s.dir, "data")}, args...)...)
}

func (s *Server) stop() error {
	err := s.pgctl("stop", "-m", "immediate", "-w")
	return errors.Join(err, os.RemoveAll(s.dir))
}

// cmd runs a PostgreSQL program as the server's account.
func (s *Server) cmd(name string, args ...string) error {
	c := exec.Command(filepath.Join(s.bin, name), args...)
	c.Dir = s.dir
	c.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pgtest: %s %v: %w\n%s\nserver log:\n%s", name, args, err, out.Bytes(), log)
	}
	return nil
}

// serverUser returns the unprivileged account the server runs under,
// creating it if needed.
func serverUser() (*user.User, error) {
	if u, err := user.Lookup("postgres"); err == nil {
		return u, nil
	}
	const name = "microbatch-pg"
	if u, err := user.Lookup(name); err == nil {
		return u, nil
	}
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgtest: useradd %s (PostgreSQL refuses to run as root): %w: %s", name, err, out)
	}
	return user.Lookup(name)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CPU is the CPU time (user and system) the server's processes have used
// so far: the postmaster's and its live children's (backends,
// autovacuum, the writers), from /proc. The bench reports it beside wall
// time, which other load on the machine stretches.
func (s *Server) CPU() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	pm, err := strconv.Atoi(string(bytes.TrimSpace(bytes.SplitN(b, []byte("\n"), 2)[0])))
	if err != nil {
		return 0, fmt.Errorf("pgtest: postmaster.pid: %w", err)
	}
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited
		}
		// pid (comm) state ppid ... utime stime: fields 4, 14, 15; comm may hold spaces.
		f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
		if len(f) < 13 {
			continue
		}
		pid, _ := strconv.Atoi(string(bytes.Fields(b)[0]))
		ppid, _ := strconv.Atoi(string(f[1]))
		if pid != pm && ppid != pm {
			continue
		}
		u, _ := strconv.ParseInt(string(f[11]), 10, 64)
		st, _ := strconv.ParseInt(string(f[12]), 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * time.Second / 100, nil // USER_HZ is 100 on Linux
}
