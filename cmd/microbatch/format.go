package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/microbatch/microbatch/dataframe"
	"github.com/microbatch/microbatch/engine"
	"github.com/microbatch/microbatch/offsets"
	"github.com/microbatch/microbatch/offsets/checkpoint"
)

// writeRecord prints rec as a table (Spark's show layout, every row), JSON
// lines (DESIGN.md section 3: keys are column names, numbers as numbers,
// timestamps as RFC 3339; NaN and infinities, which JSON numbers cannot
// hold, as the strings Spark's JSON writer gives them) or CSV with a
// header (NULL empty, the empty string "").
func writeRecord(w io.Writer, format string, rec arrow.Record) error {
	switch format {
	case "table":
		return engine.WriteTable(w, rec.Schema(), []arrow.Record{rec}, 0, 0)
	case "jsonl", "csv":
		var buf []byte
		if format == "csv" {
			buf = append(dataframe.AppendCSVHeader(buf, rec.Schema()), '\n')
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			if format == "csv" {
				buf = dataframe.AppendCSVRow(buf, rec, r)
			} else {
				buf = dataframe.AppendJSONRow(buf, rec, r)
			}
			buf = append(buf, '\n')
			if len(buf) >= 64<<10 || r == int(rec.NumRows())-1 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		if len(buf) > 0 { // a csv header with no rows
			_, err := w.Write(buf)
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown format %q", format)
}

// batchRange is one line of `microbatch offsets --format jsonl`.
type batchRange struct {
	Batch     int64  `json:"batch"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	From      int64  `json:"from"`
	Until     int64  `json:"until"`
	Committed bool   `json:"committed"`
}

// writeBatches prints one row per (batch, topic, partition) range.
func writeBatches(w io.Writer, format string, infos []checkpoint.BatchInfo) error {
	var rows []batchRange
	for _, b := range infos {
		ranges := append([]offsets.OffsetRange(nil), b.Plan.Ranges...)
		offsets.SortRanges(ranges)
		for _, r := range ranges {
			rows = append(rows, batchRange{b.Plan.ID, r.Topic, r.Partition, r.From, r.Until, b.Committed})
		}
	}
	switch format {
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "batch\ttopic\tpartition\tfrom\tuntil\toffsets\tcommitted\t")
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%v\t\n", r.Batch, r.Topic, r.Partition, r.From, r.Until, r.Until-r.From, r.Committed)
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown format %q", format)
}
