package main

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/csv"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/microbatch/microbatch/dataframe"
)

// decodeChunk is the rows per Arrow record for every decoder.
const decodeChunk = 8192

// DecodeResult compares the engine's decoders with Arrow's readers on the
// same bytes, one goroutine each, every column of the clickstream schema
// (rows/s, medians over the runs).
type DecodeResult struct {
	Rows              int     `json:"rows"`
	JSONEngine        float64 `json:"json_engine_rows_per_sec"`
	JSONEngineProject float64 `json:"json_engine_projected_rows_per_sec"` // only the query's columns (page, action)
	JSONArrow         float64 `json:"json_arrow_rows_per_sec"`
	JSONVsArrow       float64 `json:"json_vs_arrow"`
	CSVEngine         float64 `json:"csv_engine_rows_per_sec"`
	CSVEngineProject  float64 `json:"csv_engine_projected_rows_per_sec"`
	CSVArrow          float64 `json:"csv_arrow_rows_per_sec"`
	CSVVsArrow        float64 `json:"csv_vs_arrow"`
	JSONEngineCorrupt int64   `json:"json_engine_corrupt"`
	CSVEngineCorrupt  int64   `json:"csv_engine_corrupt"`
}

// decodeInput is one format's records, separately (for the engine's
// per-record decoder) and newline-joined (for Arrow's stream readers).
type decodeInput struct {
	values [][]byte
	joined []byte
}

func makeDecodeInput(cfg *config, format string) (decodeInput, error) {
	recs, err := newRecords(cfg.seed, cfg.keys, format)
	if err != nil {
		return decodeInput{}, err
	}
	var in decodeInput
	var all bytes.Buffer
	for range cfg.decodeRows {
		_, v := recs.next()
		in.values = append(in.values, append([]byte(nil), v...))
		all.Write(v)
		all.WriteByte('\n')
	}
	in.joined = all.Bytes()
	return in, nil
}

// measureDecoders runs the four decoders cfg.runs times, interleaved.
func measureDecoders(cfg *config) (*DecodeResult, error) {
	schema, err := dataframe.ParseSchema(clickSchema)
	if err != nil {
		return nil, err
	}
	jsonIn, err := makeDecodeInput(cfg, "json")
	if err != nil {
		return nil, err
	}
	csvIn, err := makeDecodeInput(cfg, "csv")
	if err != nil {
		return nil, err
	}
	mem := memory.NewGoAllocator()
	res := &DecodeResult{Rows: cfg.decodeRows}
	var je, jp, ja, ce, cp, ca []float64
	for i := range cfg.runs {
		r, corrupt, err := engineDecode(mem, schema, dataframe.FormatJSON, clickFields, jsonIn)
		if err != nil {
			return nil, fmt.Errorf("engine JSON decoder: %w", err)
		}
		je, res.JSONEngineCorrupt = append(je, r), corrupt
		if r, _, err = engineDecode(mem, schema, dataframe.FormatJSON, []string{"page", "action"}, jsonIn); err != nil {
			return nil, fmt.Errorf("engine JSON decoder (projected): %w", err)
		}
		jp = append(jp, r)
		if r, err = arrowDecode(schema.Arrow(), jsonIn, arrowJSON); err != nil {
			return nil, fmt.Errorf("arrow JSONReader: %w", err)
		}
		ja = append(ja, r)
		if r, corrupt, err = engineDecode(mem, schema, dataframe.FormatCSV, clickFields, csvIn); err != nil {
			return nil, fmt.Errorf("engine CSV decoder: %w", err)
		}
		ce, res.CSVEngineCorrupt = append(ce, r), corrupt
		if r, _, err = engineDecode(mem, schema, dataframe.FormatCSV, []string{"page", "action"}, csvIn); err != nil {
			return nil, fmt.Errorf("engine CSV decoder (projected): %w", err)
		}
		cp = append(cp, r)
		if r, err = arrowDecode(schema.Arrow(), csvIn, arrowCSV); err != nil {
			return nil, fmt.Errorf("arrow csv reader: %w", err)
		}
		ca = append(ca, r)
		logf("decode run %d: json engine %.0f arrow %.0f; csv engine %.0f arrow %.0f rows/s", i+1, je[i], ja[i], ce[i], ca[i])
	}
	res.JSONEngine, res.JSONEngineProject, res.JSONArrow = median(je), median(jp), median(ja)
	res.CSVEngine, res.CSVEngineProject, res.CSVArrow = median(ce), median(cp), median(ca)
	res.JSONVsArrow = ratio(res.JSONEngine, res.JSONArrow)
	res.CSVVsArrow = ratio(res.CSVEngine, res.CSVArrow)
	return res, nil
}

// engineDecode feeds every value to a dataframe.Decoder, flushing a record
// every decodeChunk rows, and returns rows/s and the corrupt count.
func engineDecode(mem memory.Allocator, schema *dataframe.Schema, f dataframe.Format, cols []string, in decodeInput) (float64, int64, error) {
	dec, err := dataframe.NewDecoder(mem, schema, dataframe.DecoderOptions{Format: f, Columns: cols})
	if err != nil {
		return 0, 0, err
	}
	defer dec.Release()
	meta := dataframe.RecordMeta{Topic: "bench"}
	var rows int64
	start := time.Now()
	for i, v := range in.values {
		meta.Offset = int64(i)
		if err := dec.Append(&meta, v); err != nil {
			return 0, 0, err
		}
		if dec.Len() >= decodeChunk {
			rec := dec.Flush()
			rows += rec.NumRows()
			rec.Release()
		}
	}
	if rec := dec.Flush(); rec != nil {
		rows += rec.NumRows()
		rec.Release()
	}
	el := time.Since(start)
	if rows != int64(len(in.values)) {
		return 0, 0, fmt.Errorf("decoded %d rows of %d", rows, len(in.values))
	}
	return float64(rows) / el.Seconds(), dec.Stats().Corrupt, nil
}

// arrowReader is Arrow's RecordReader surface shared by its JSON and CSV
// readers.
type arrowReader interface {
	Next() bool
	Record() arrow.Record
	Err() error
	Release()
}

func arrowJSON(r io.Reader, s *arrow.Schema) arrowReader {
	return array.NewJSONReader(r, s, array.WithChunk(decodeChunk), array.WithAllocator(memory.NewGoAllocator()))
}

func arrowCSV(r io.Reader, s *arrow.Schema) arrowReader {
	return csv.NewReader(r, s, csv.WithChunk(decodeChunk), csv.WithAllocator(memory.NewGoAllocator()))
}

// arrowDecode reads the joined bytes with an Arrow reader, returns rows/s.
func arrowDecode(s *arrow.Schema, in decodeInput, open func(io.Reader, *arrow.Schema) arrowReader) (float64, error) {
	start := time.Now()
	rd := open(bytes.NewReader(in.joined), s)
	defer rd.Release()
	var rows int64
	for rd.Next() {
		rows += rd.Record().NumRows()
	}
	el := time.Since(start)
	if err := rd.Err(); err != nil {
		return 0, err
	}
	if rows != int64(len(in.values)) {
		return 0, fmt.Errorf("read %d rows of %d", rows, len(in.values))
	}
	return float64(rows) / el.Seconds(), nil
}

func printDecode(w io.Writer, d *DecodeResult) {
	fmt.Fprintf(w, "decode (%d rows, one goroutine, rows/s): JSON engine %s (projected %s) vs arrow JSONReader %s = %.2fx; CSV engine %s (projected %s) vs arrow/csv %s = %.2fx\n",
		d.Rows, human(d.JSONEngine), human(d.JSONEngineProject), human(d.JSONArrow), d.JSONVsArrow,
		human(d.CSVEngine), human(d.CSVEngineProject), human(d.CSVArrow), d.CSVVsArrow)
	if d.JSONEngineCorrupt+d.CSVEngineCorrupt > 0 {
		fmt.Fprintf(w, "WARNING: engine decoders marked records corrupt: json %d csv %d\n", d.JSONEngineCorrupt, d.CSVEngineCorrupt)
	}
}
