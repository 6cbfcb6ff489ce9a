package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/sql"
)

// Example_goAPI is the "Go API" code block of the repository's README.md,
// verbatim (TestREADMEGoAPI checks it): it is compiled with the tests, so
// the README cannot show an API that does not exist. It has no Output
// because it needs a Kafka cluster; TestRun runs the same calls against
// one.
func Example_goAPI() {
	schema, err := dataframe.ParseSchema("timestamp TIMESTAMP, userid STRING, page STRING, action STRING")
	if err != nil {
		log.Fatal(err)
	}
	views, err := sql.Compile(`
		SELECT page, count(*) AS views
		FROM events
		WHERE action = 'view'
		GROUP BY page`, "events", schema)
	if err != nil {
		log.Fatal(err) // an *sql.Error: "line L, column C: ..."
	}

	q, err := engine.New(engine.Config{
		Name: "page-views",
		Source: engine.KafkaSource{
			BootstrapServers:    "127.0.0.1:9092",
			Subscribe:           []string{"clickstream"},
			StartingOffsets:     "earliest",
			MaxRatePerPartition: 10000,
		},
		Format:     dataframe.FormatJSON,
		Schema:     schema,
		Query:      views,
		OutputMode: dataframe.Update,
		Trigger:    engine.Trigger{ProcessingTime: time.Second},
		Sink: engine.ForEachBatch(func(ctx context.Context, out *engine.Output) error {
			// out.BatchID, out.Ranges, out.Records (Arrow): a batch re-run
			// after a crash has the same id and the same rows.
			return nil
		}),
		CheckpointLocation: "/var/lib/page-views",
		OnProgress: func(p engine.Progress) {
			log.Printf("batch %d: %d rows in %s", p.BatchID, p.NumInputRows, p.Durations.Total)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Run blocks. Cancelling ctx (SIGINT, SIGTERM) or q.Stop() finishes and
	// commits the batch in flight, then Run returns nil.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := q.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// readmeSection returns the text of README.md's "## name" section.
func readmeSection(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, s, ok := strings.Cut(string(readme), "\n## "+name+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", "## "+name)
	}
	if end := strings.Index(s, "\n## "); end >= 0 {
		s = s[:end]
	}
	return s
}

// The README's Go API code block is Example_goAPI's body, and the
// sql.Compile signature it quotes is the real one.
func TestREADMEGoAPI(t *testing.T) {
	section := readmeSection(t, "Go API")
	_, block, ok := strings.Cut(section, "\n```go\n")
	if !ok {
		t.Fatal("README.md's Go API section has no ```go block")
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	if !ok {
		t.Fatal("README.md's Go API code block is not closed")
	}

	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "readme_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "Example_goAPI" {
			lb, rb := fset.Position(fd.Body.Lbrace).Offset, fset.Position(fd.Body.Rbrace).Offset
			var lines []string
			for _, l := range strings.Split(strings.Trim(string(src[lb+1:rb]), "\n"), "\n") {
				lines = append(lines, strings.TrimPrefix(l, "\t"))
			}
			body = strings.Join(lines, "\n")
		}
	}
	if body == "" {
		t.Fatal("readme_test.go has no Example_goAPI")
	}
	if block != body {
		gl, wl := strings.Split(block, "\n"), strings.Split(body, "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			g, w := "(end)", "(end)"
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("README.md's Go API block differs from Example_goAPI at line %d:\nREADME:  %q\nExample: %q\n(paste Example_goAPI's body, one tab less, into the README)", i+1, g, w)
			}
		}
	}

	sig := compileSignature(t)
	if !strings.Contains(section, "`"+sig+"`") {
		t.Fatalf("README.md's Go API section does not quote sql.Compile's signature `%s`", sig)
	}
}

// compileSignature returns sql.Compile's declaration without its body, as
// go doc prints it.
func compileSignature(t *testing.T) string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../sql/compile.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "Compile" {
			decl := *fd
			decl.Doc, decl.Body = nil, nil
			var b bytes.Buffer
			if err := printer.Fprint(&b, fset, &decl); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
	}
	t.Fatal("sql/compile.go has no func Compile")
	return ""
}
