package jobfile

import (
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"
)

// Table is one static table of the tables section (key tables.<name>): a
// file the query may JOIN with.
type Table struct {
	// Name is the table's name in the query.
	Name string
	// Path is the absolute path of the file (key path, required; relative
	// to the job file's directory).
	Path string
	// Format is "csv", "json", "parquet" or "" to go by Path's extension
	// (key format).
	Format string
	// Schema is the table's DDL (key schema, required).
	Schema string
	// Header: a CSV file's first line is a header (key header).
	Header bool
	// Mode is PERMISSIVE, DROPMALFORMED or FAILFAST for malformed lines
	// (key mode; default source.mode's default, PERMISSIVE).
	Mode string
	// Key lists the columns that are unique in the table (key key); a
	// duplicate fails the load.
	Key []string
	// RefreshInterval: reload the file between batches when it changed,
	// checking at most this often (key refreshInterval; 0: never).
	RefreshInterval time.Duration
	// OnChange is "fail" or "useCurrent" (key onChange).
	OnChange string
}

// tableKeys is the key path of a table's keys, as Keys lists them.
const tableKeys = "tables.<name>"

func (l *loader) tables(n *yaml.Node, dir string) []Table {
	es, ok := l.entries(n, "tables")
	if !ok {
		return nil
	}
	known := childKeys(tableKeys)
	var out []Table
	for _, e := range es {
		path := "tables." + e.key
		t := Table{Name: e.key, Mode: "PERMISSIVE", OnChange: "fail"}
		tes, ok := l.entries(e.val, path)
		if !ok {
			continue
		}
		m := map[string]*yaml.Node{}
		for _, te := range tes {
			if contains(known, te.key) {
				m[te.key] = te.val
			} else {
				l.unknownKey(te, path, known)
			}
		}
		if l.require(m, path, "path") {
			if p, ok := l.nonEmpty(m["path"], path+".path"); ok {
				if !filepath.IsAbs(p) {
					p = filepath.Join(dir, p)
				}
				t.Path = filepath.Clean(p)
			}
		}
		if v := m["format"]; v != nil {
			t.Format, _ = l.enum(v, path+".format", "csv", "json", "parquet")
		}
		if l.require(m, path, "schema") {
			t.Schema, _ = l.nonEmpty(m["schema"], path+".schema")
		}
		if v := m["header"]; v != nil {
			t.Header, _ = l.boolean(v, path+".header")
		}
		if v := m["mode"]; v != nil {
			t.Mode, _ = l.enum(v, path+".mode", "PERMISSIVE", "DROPMALFORMED", "FAILFAST")
		}
		if v := m["key"]; v != nil {
			t.Key = l.columnList(v, path+".key")
		}
		if v := m["refreshInterval"]; v != nil {
			t.RefreshInterval, _ = l.duration(v, path+".refreshInterval")
		}
		if v := m["onChange"]; v != nil {
			t.OnChange, _ = l.enum(v, path+".onChange", "fail", "useCurrent")
		}
		out = append(out, t)
	}
	return out
}

// tableKeyRows are the Keys rows of the tables section.
func tableKeyRows() []Key {
	return []Key{
		{Path: "tables", Type: "mapping", Default: "none", Spark: "spark.read (a static DataFrame)", Doc: "Static tables the query may JOIN with, by name (see \"Joins\"). Each is loaded into memory at start and hashed on its join key once."},
		{Path: tableKeys, Type: "mapping", Doc: "One table; <name> is its name in the query."},
		{Path: tableKeys + ".path", Type: "path", Required: true, Doc: "The file, relative to the job file's directory. A missing file is an error at start."},
		{Path: tableKeys + ".format", Type: "csv | json | parquet", Default: "by the file's extension", Spark: "format", Doc: "JSON is one object per line; Parquet columns are found by name and must have the schema's types."},
		{Path: tableKeys + ".schema", Type: "DDL string", Required: true, Spark: "schema", Doc: `The columns in file order, e.g. "product_id BIGINT, category STRING".`},
		{Path: tableKeys + ".header", Type: "boolean", Default: "false", Spark: "header", Doc: "CSV: skip the first line."},
		{Path: tableKeys + ".mode", Type: "PERMISSIVE | DROPMALFORMED | FAILFAST", Default: "PERMISSIVE", Spark: "mode", Doc: "A malformed line: a row of NULLs, dropped, or an error naming file:line."},
		{Path: tableKeys + ".key", Type: "column list", Default: "none", Doc: "Columns unique in the table: a duplicate or NULL key fails the load naming file:line of both rows. Without it a key may repeat and a join outputs a row per match, as in Spark."},
		{Path: tableKeys + ".refreshInterval", Type: "duration", Default: "0 (never)", Doc: "Reload the file when it changed, checked at most this often, between batches (never inside one)."},
		{Path: tableKeys + ".onChange", Type: "fail | useCurrent", Default: "fail", Doc: "A batch re-run after a restart records the table's content hash: fail refuses to re-run it when the file changed since; useCurrent re-runs it with the current content."},
	}
}
