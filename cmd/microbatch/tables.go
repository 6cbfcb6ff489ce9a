package main

import (
	"errors"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/internal/jobfile"
)

// loadTables loads the job's static tables (key tables). A table whose
// keys are wrong, or that cannot be loaded (a missing file, a malformed
// line in FAILFAST mode, a duplicate key), is a job-file error at its key;
// ok is false when any table is missing from the result.
func loadTables(job *jobfile.Job) (tables map[string]*dataframe.StaticTable, errs jobfile.Errors, ok bool) {
	tables, ok = map[string]*dataframe.StaticTable{}, true
	for _, t := range job.Tables {
		key := "tables." + t.Name
		if !job.Valid(key) {
			ok = false
			continue
		}
		opts := dataframe.TableOptions{Path: t.Path, Header: t.Header, Key: t.Key, RefreshInterval: t.RefreshInterval, TimeZone: job.SessionTimeZone}
		var err error
		bad := func(k string, err error) {
			var se *dataframe.SchemaError
			if errors.As(err, &se) {
				err = se.Err
			}
			errs = append(errs, job.Errorf(k, "%v", err))
			ok = false
		}
		if opts.Schema, err = dataframe.ParseSchema(t.Schema); err != nil {
			bad(key+".schema", err)
			continue
		}
		if t.Format != "" {
			if opts.Format, err = dataframe.ParseTableFormat(t.Format); err != nil {
				bad(key+".format", err)
				continue
			}
		}
		if opts.Mode, err = dataframe.ParseMode(t.Mode); err != nil {
			bad(key+".mode", err)
			continue
		}
		if opts.OnChange, err = dataframe.ParseOnChange(t.OnChange); err != nil {
			bad(key+".onChange", err)
			continue
		}
		tbl, err := dataframe.LoadTable(memory.NewGoAllocator(), t.Name, opts)
		if err != nil {
			var ke *dataframe.TableKeyError
			if errors.As(err, &ke) {
				bad(key+".key", err)
			} else {
				bad(key+".path", err)
			}
			continue
		}
		tables[t.Name] = tbl
	}
	return tables, errs, ok
}
