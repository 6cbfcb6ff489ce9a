package engine

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Status is what a query is doing now.
type Status struct {
	// Running is true while Run runs.
	Running bool `json:"running"`
	// BatchInFlight is the id of the batch being run, -1 between batches.
	BatchInFlight int64 `json:"batchInFlight"`
	// LastError is the error the last Run returned ("" if none).
	LastError string `json:"lastError,omitempty"`
	// FailedBatches counts the batches that failed, ending a Run, over
	// every Run of the query.
	FailedBatches int64 `json:"failedBatches"`
	// ID and RunID are the query's and the current run's (see Progress);
	// empty before the first Run opened the checkpoint.
	ID    string `json:"id,omitempty"`
	RunID string `json:"runId,omitempty"`
}

// Status returns what the query is doing now. It is safe to call from any
// goroutine.
func (q *Query) Status() Status {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.status
}

func (q *Query) setInFlight(id int64) {
	q.mu.Lock()
	q.status.BatchInFlight = id
	q.mu.Unlock()
}

// runInfo is what progress records say of a run besides its batch.
type runInfo struct {
	queryID, runID string
	source, sink   string
}

// newRunInfo reads (or creates) the query's id and draws the run's.
func (q *Query) newRunInfo() (runInfo, error) {
	id, err := queryID(q.cfg.CheckpointLocation)
	if err != nil {
		return runInfo{}, err
	}
	r := runInfo{queryID: id, runID: newUUID(), source: sourceDescription(&q.cfg.Source), sink: sinkDescription(q.cfg.Sink)}
	q.mu.Lock()
	q.status.ID, q.status.RunID = r.queryID, r.runID
	q.mu.Unlock()
	return r, nil
}

// metadataFile holds the query's id in the checkpoint directory, as
// Spark's checkpoint "metadata" file does: {"id":"..."}.
const metadataFile = "metadata"

// queryID returns the id in dir's metadata file, creating the file with a
// new id if there is none. The caller holds the checkpoint's lock.
func queryID(dir string) (string, error) {
	path := filepath.Join(dir, metadataFile)
	b, err := os.ReadFile(path)
	if err == nil {
		var m struct{ ID string }
		if err := json.Unmarshal(b, &m); err != nil {
			return "", fmt.Errorf("%s: not a query metadata file: %w", path, err)
		}
		if m.ID == "" {
			return "", fmt.Errorf("%s: no query id (want {\"id\":\"...\"})", path)
		}
		return m.ID, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading the query id: %w", err)
	}
	id := newUUID()
	b, _ = json.Marshal(map[string]string{"id": id})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("writing the query id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("writing the query id: %w", err)
	}
	return id, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
