// Package ui serves a running query over HTTP, read-only: a web page with
// live charts, Prometheus metrics and the progress records as JSON.
//
// # Serving a query
//
// Start listens (127.0.0.1:4040 by default, the next free port when it is
// taken, as Spark's UI does); feed the Server every committed batch with
// Observe, from engine.Config.OnProgress, and give it the query's Status.
// New returns a Server that does not listen, whose Handler you mount
// yourself. A non-loopback address needs Options.Token, a bearer token
// every request must carry (401 without it).
//
// # Endpoints
//
//   - / is the page: ECharts (vendored in web/vendor, embedded, drawn with
//     its SVG renderer) polls the API once a second.
//   - /metrics is Prometheus text, from a registry of the Server's own.
//   - /api/v1/progress?n=N is the last N progress records (default 100) in
//     Spark's StreamingQueryProgress JSON (engine.Progress.MarshalJSON),
//     oldest first; /api/v1/status is the query's engine.Status with its
//     name, query text and settings.
package ui
