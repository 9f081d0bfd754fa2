package main

// Own-telemetry offers: POST /agents/{uid}/own-telemetry
//
//	{"metrics":{"endpoint":"http://…/v1/metrics","headers":{"k":"v"}},"logs":{…},"traces":{…}}
//
// sends ConnectionSettingsOffers with own_metrics / own_logs / own_traces (a signal left out
// is left out of the offer: "keep what you have"; an empty endpoint turns it off). The hash
// is the SHA-256 of the request body. Answers {"hash":"<hex>","delivery":"sent|queued"}.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/open-telemetry/opamp-go/protobufs"
)

type telemetryDestination struct {
	Endpoint string            `json:"endpoint"`
	Headers  map[string]string `json:"headers"`
}

func (d *telemetryDestination) settings() *protobufs.TelemetryConnectionSettings {
	if d == nil {
		return nil
	}
	s := &protobufs.TelemetryConnectionSettings{DestinationEndpoint: d.Endpoint}
	if len(d.Headers) > 0 {
		keys := make([]string, 0, len(d.Headers))
		for k := range d.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s.Headers = &protobufs.Headers{}
		for _, k := range keys {
			s.Headers.Headers = append(s.Headers.Headers, &protobufs.Header{Key: k, Value: d.Headers[k]})
		}
	}
	return s
}

func (h *hub) telemetryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /agents/{uid}/own-telemetry", func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var body struct {
			Metrics *telemetryDestination `json:"metrics"`
			Logs    *telemetryDestination `json:"logs"`
			Traces  *telemetryDestination `json:"traces"`
		}
		if err == nil {
			err = json.Unmarshal(raw, &body)
		}
		if err != nil || (body.Metrics == nil && body.Logs == nil && body.Traces == nil) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "need {\"metrics\"|\"logs\"|\"traces\": {\"endpoint\": …}}"})
			return
		}
		sum := sha256.Sum256(raw)
		offer := &protobufs.ConnectionSettingsOffers{
			Hash:       sum[:],
			OwnMetrics: body.Metrics.settings(),
			OwnLogs:    body.Logs.settings(),
			OwnTraces:  body.Traces.settings(),
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		a := h.lookup(w, r)
		if a == nil {
			return
		}
		uid, _ := hex.DecodeString(strings.ReplaceAll(a.uid, "-", ""))
		how := h.deliver(a, &protobufs.ServerToAgent{InstanceUid: uid, ConnectionSettings: offer})
		writeJSON(w, http.StatusOK, map[string]string{"hash": hex.EncodeToString(sum[:]), "delivery": how})
	})
}
