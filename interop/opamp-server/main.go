// Command opamp-server is an OpAMP server for the interop tests, built on opamp-go's server
// package. It accepts agents over WebSocket and plain HTTP on /v1/opamp (optionally over TLS,
// optionally requiring client certificates), serves offered package files on the same
// listener, and offers a small HTTP+JSON control API on loopback so tests can look at what
// agents reported and tell them what to do. Never shipped.
//
// On start it prints one JSON line on stdout (wss/https URLs in TLS mode):
//
//	{"event":"listening","opamp_addr":"127.0.0.1:PORT","opamp_ws":"ws://…/v1/opamp","opamp_http":"http://…/v1/opamp","control":"http://127.0.0.1:PORT","tls":false,"mtls":false,"signs_csrs":false}
//
// Control API (all JSON):
//
//	GET  /agents                      every agent seen, with its last reported state
//	GET  /agents/{uid}                one agent (uid: canonical UUID text or 32 hex digits)
//	POST /agents/{uid}/config         {"config":{"name.yaml":"body",…},"content_type":"text/yaml"}
//	                                  -> {"hash":"<sha256 hex>","delivery":"sent|queued","time":"<RFC 3339>"};
//	                                  an empty map means "no remote config"
//	POST /agents/{uid}/restart        sends a Restart command
//	POST /agents/{uid}/heartbeat      {"seconds":N}: ConnectionSettingsOffers.opamp.heartbeat_interval_seconds
//	POST /agents/{uid}/disconnect     drops the agent's WebSocket connection
//	POST /agents/{uid}/package        {"path"|"content","version","signature",…}: offers a top-level package (packages.go)
//	POST /agents/{uid}/certificate    {"cn","validity_seconds"}: offers a client certificate from the client CA (certs.go)
//	POST /agents/{uid}/own-telemetry  {"metrics"|"logs"|"traces": {"endpoint","headers"}}: own-telemetry offers (telemetry.go)
//	GET  /downloads                   every request for a package file
//	GET  /messages[?uid=…&after=N]    every AgentToServer received (protojson), in order
//	GET  /healthz                     200 once started
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/open-telemetry/opamp-go/server"
	"github.com/open-telemetry/opamp-go/server/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

const opampPath = "/v1/opamp"

// agent is everything the server knows about one instance uid. Status sub-messages are sent
// only when they change, so each field keeps the last value reported.
type agent struct {
	uid                string
	description        *protobufs.AgentDescription
	health             *protobufs.ComponentHealth
	effectiveConfig    *protobufs.EffectiveConfig
	remoteConfigStatus *protobufs.RemoteConfigStatus
	capabilities       uint64
	sequenceNum        uint64
	messages           int
	connections        int
	transport          string
	wsConn             types.Connection // open WebSocket, nil otherwise
	disconnectSeen     bool             // the last message carried agent_disconnect
	disconnectCount    int
	firstSeen          time.Time
	lastSeen           time.Time
	desired            *protobufs.AgentRemoteConfig // the remote config we want it to run
	desiredHash        string
	pending            []*protobufs.ServerToAgent // queued for the next HTTP poll (or a WS reconnect)
	heartbeatOffered   uint64
	lastSendError      string

	// Packages (packages.go).
	packagesOffer   *protobufs.PackagesAvailable // the last PackagesAvailable offered
	packageStatuses *protobufs.PackageStatuses   // the last PackageStatuses reported
	packageHistory  []packageEvent

	// TLS (certs.go).
	clientCert         *certView // the client certificate of the connection the last message came on
	clientCerts        []certSeen
	csrs               []csrRecord
	certOffers         []certOffer
	connSettingsStatus *protobufs.ConnectionSettingsStatus

	// Available components: the last full map, and the hash the agent reports now. Like the
	// servers the spec has in mind, we ask for the map (ReportAvailableComponents) whenever
	// the agent reports a hash we have no map for.
	availableComponents     *protobufs.AvailableComponents
	availableComponentsHash string
}

type record struct {
	Seq         int             `json:"seq"`
	Time        time.Time       `json:"time"`
	InstanceUID string          `json:"instance_uid"`
	Transport   string          `json:"transport"`
	ClientCert  *certView       `json:"client_cert,omitempty"` // in TLS mode with client certificates
	Message     json.RawMessage `json:"message"`
}

type hub struct {
	mu        sync.Mutex
	agents    map[string]*agent
	records   []record
	endpoint  string  // host:port of the OpAMP listener
	hbDefault uint64  // heartbeat offered to every new agent (0: none)
	tls       bool    // the OpAMP listener speaks TLS (wss/https)
	ca        *issuer // signs CSRs and issues offered client certificates (nil: neither)

	files     map[string]*packageFile // package files served at /packages/{id}/{name}
	downloads []download
}

// base is scheme://host:port of the OpAMP listener for a transport ("websocket" or "http"),
// with the scheme the listener speaks (TLS or not).
func (h *hub) base(transport string) string {
	scheme := "ws"
	if transport == "http" {
		scheme = "http"
	}
	if h.tls {
		scheme += "s"
	}
	return scheme + "://" + h.endpoint
}

// url is the OpAMP URL for a transport.
func (h *hub) url(transport string) string {
	return h.base(transport) + opampPath
}

// capabilities is what this server says it can do, in every answer.
func (h *hub) capabilities() uint64 {
	c := protobufs.ServerCapabilities_ServerCapabilities_AcceptsStatus |
		protobufs.ServerCapabilities_ServerCapabilities_OffersRemoteConfig |
		protobufs.ServerCapabilities_ServerCapabilities_AcceptsEffectiveConfig |
		protobufs.ServerCapabilities_ServerCapabilities_OffersPackages |
		protobufs.ServerCapabilities_ServerCapabilities_AcceptsPackagesStatus |
		protobufs.ServerCapabilities_ServerCapabilities_OffersConnectionSettings
	if h.ca != nil {
		c |= protobufs.ServerCapabilities_ServerCapabilities_AcceptsConnectionSettingsRequest
	}
	return uint64(c)
}

var marshal = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}

func uidText(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func normalizeUID(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, "-", ""))
	if b, err := hex.DecodeString(s); err == nil {
		return uidText(b)
	}
	return s
}

func (h *hub) onConnecting(req *http.Request) types.ConnectionResponse {
	transport := "websocket"
	if req.Header.Get("Content-Type") == "application/x-protobuf" {
		transport = "http"
	}
	var uid string // the agent this connection belongs to, once its first message arrives
	var peer *certView
	if req.TLS != nil && len(req.TLS.PeerCertificates) > 0 {
		peer = describeCert(req.TLS.PeerCertificates[0])
	}
	return types.ConnectionResponse{
		Accept: true,
		ConnectionCallbacks: types.ConnectionCallbacks{
			OnMessage: func(_ context.Context, conn types.Connection, msg *protobufs.AgentToServer) *protobufs.ServerToAgent {
				uid = uidText(msg.InstanceUid)
				resp := h.onMessage(conn, transport, peer, msg)
				if resp != nil {
					resp.Capabilities = h.capabilities()
				}
				return resp
			},
			OnConnectionClose: func(conn types.Connection) {
				if transport != "websocket" || uid == "" {
					return
				}
				h.mu.Lock()
				defer h.mu.Unlock()
				if a := h.agents[uid]; a != nil && a.wsConn == conn {
					a.wsConn = nil
				}
			},
			OnReadMessageError: func(_ types.Connection, _ int, _ []byte, err error) {
				log.Printf("read error (%s): %v", transport, err)
			},
		},
	}
}

func (h *hub) onMessage(conn types.Connection, transport string, peer *certView, msg *protobufs.AgentToServer) *protobufs.ServerToAgent {
	now := time.Now()
	raw, err := marshal.Marshal(msg)
	if err != nil {
		raw = []byte(fmt.Sprintf("{\"marshal_error\":%q}", err.Error()))
	}
	uid := uidText(msg.InstanceUid)

	h.mu.Lock()
	defer h.mu.Unlock()
	seq := len(h.records) + 1
	h.records = append(h.records, record{Seq: seq, Time: now, InstanceUID: uid, Transport: transport, ClientCert: peer, Message: raw})

	a := h.agents[uid]
	if a == nil {
		a = &agent{uid: uid, firstSeen: now}
		h.agents[uid] = a
	}
	newConn := false
	if transport == "websocket" {
		if a.wsConn != conn {
			a.connections++
			newConn = true
		}
		a.wsConn = conn
	} else if a.transport != "http" || now.Sub(a.lastSeen) > 2*time.Minute {
		a.connections++
	}
	a.sawClientCert(peer, now, seq)
	a.transport = transport
	a.lastSeen = now
	a.messages++
	a.sequenceNum = msg.SequenceNum
	a.capabilities = msg.Capabilities
	if msg.AgentDescription != nil {
		a.description = msg.AgentDescription
	}
	if msg.Health != nil {
		a.health = msg.Health
	}
	if msg.EffectiveConfig != nil {
		a.effectiveConfig = msg.EffectiveConfig
	}
	if msg.RemoteConfigStatus != nil {
		a.remoteConfigStatus = msg.RemoteConfigStatus
	}
	if ac := msg.AvailableComponents; ac != nil {
		a.availableComponentsHash = hex.EncodeToString(ac.Hash)
		if len(ac.Components) > 0 {
			a.availableComponents = ac
		}
	}
	if msg.PackageStatuses != nil {
		a.recordPackageStatuses(msg.PackageStatuses, now, seq)
	}
	if msg.ConnectionSettingsStatus != nil {
		a.connSettingsStatus = msg.ConnectionSettingsStatus
	}
	a.disconnectSeen = msg.AgentDisconnect != nil
	if msg.AgentDisconnect != nil {
		a.disconnectCount++
		if transport == "websocket" {
			a.wsConn = nil
		}
		return nil
	}
	// A certificate request is answered in the reply to the message that carried it.
	var issued *protobufs.ConnectionSettingsOffers
	if req := msg.GetConnectionSettingsRequest().GetOpamp().GetCertificateRequest(); req != nil {
		issued = h.answerCSR(a, req.Csr, now)
	}
	resp := h.reply(a, conn, transport, newConn, msg)
	if issued != nil {
		if resp.ConnectionSettings == nil {
			resp.ConnectionSettings = issued
		} else {
			h.deliver(a, &protobufs.ServerToAgent{InstanceUid: msg.InstanceUid, ConnectionSettings: issued})
		}
	}
	return resp
}

// reply is the answer to an ordinary message: something queued, else what the agent lacks.
func (h *hub) reply(a *agent, conn types.Connection, transport string, newConn bool, msg *protobufs.AgentToServer) *protobufs.ServerToAgent {
	// Queued messages first (HTTP polls, or what a WebSocket could not take).
	if len(a.pending) > 0 {
		next := a.pending[0]
		a.pending = a.pending[1:]
		if transport == "websocket" {
			// Deliver the rest too, in order, after this response.
			rest := a.pending
			a.pending = nil
			go h.sendAll(a, conn, rest)
		}
		return next
	}

	resp := &protobufs.ServerToAgent{InstanceUid: msg.InstanceUid}
	if a.description == nil {
		// We know nothing about it (e.g. this server restarted): ask for everything.
		resp.Flags |= uint64(protobufs.ServerToAgentFlags_ServerToAgentFlags_ReportFullState)
	}
	if a.desired != nil && !a.reportedHash(a.desiredHash) {
		resp.RemoteConfig = a.desired
	}
	if a.availableComponentsHash != "" && (a.availableComponents == nil || hex.EncodeToString(a.availableComponents.Hash) != a.availableComponentsHash) {
		resp.Flags |= uint64(protobufs.ServerToAgentFlags_ServerToAgentFlags_ReportAvailableComponents)
	}
	if h.hbDefault > 0 && a.heartbeatOffered == 0 {
		resp.ConnectionSettings = h.heartbeatOffer(transport, h.hbDefault)
		a.heartbeatOffered = h.hbDefault
	}
	// An offer made while the agent was away goes out again when it reconnects, unless it
	// says it has already processed it.
	if newConn && a.packagesOffer != nil && !a.processedPackages() {
		resp.PackagesAvailable = a.packagesOffer
	}
	return resp
}

// reportedHash is true when the agent's last RemoteConfigStatus names this hash.
func (a *agent) reportedHash(hash string) bool {
	return a.remoteConfigStatus != nil && hex.EncodeToString(a.remoteConfigStatus.LastRemoteConfigHash) == hash
}

func (h *hub) sendAll(a *agent, conn types.Connection, msgs []*protobufs.ServerToAgent) {
	for _, m := range msgs {
		if err := conn.Send(context.Background(), m); err != nil {
			h.mu.Lock()
			a.lastSendError = err.Error()
			h.mu.Unlock()
			return
		}
	}
}

func (h *hub) heartbeatOffer(transport string, seconds uint64) *protobufs.ConnectionSettingsOffers {
	offer := &protobufs.ConnectionSettingsOffers{
		Opamp: &protobufs.OpAMPConnectionSettings{
			DestinationEndpoint:      h.url(transport),
			HeartbeatIntervalSeconds: seconds,
		},
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%d", offer.Opamp.DestinationEndpoint, seconds)))
	offer.Hash = sum[:]
	return offer
}

// deliver sends msg now over an open WebSocket, or queues it for the agent's next message.
// Called with h.mu held; the send itself happens outside the lock.
func (h *hub) deliver(a *agent, msg *protobufs.ServerToAgent) string {
	if a.wsConn != nil {
		conn := a.wsConn
		go func() {
			if err := conn.Send(context.Background(), msg); err != nil {
				h.mu.Lock()
				a.lastSendError = err.Error()
				a.pending = append(a.pending, msg)
				h.mu.Unlock()
			}
		}()
		return "sent"
	}
	a.pending = append(a.pending, msg)
	return "queued"
}

// configHash is the SHA-256 over the sorted file names, content types and bodies.
func configHash(files map[string]*protobufs.AgentConfigFile) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	s := sha256.New()
	for _, n := range names {
		f := files[n]
		fmt.Fprintf(s, "%d:%s%d:%s%d:", len(n), n, len(f.ContentType), f.ContentType, len(f.Body))
		s.Write(f.Body)
	}
	return s.Sum(nil)
}

// ----- control API -----

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func protoJSON(m proto.Message) json.RawMessage {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil
	}
	b, err := marshal.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

type remoteConfigStatusView struct {
	Status               string `json:"status"`
	LastRemoteConfigHash string `json:"last_remote_config_hash"` // hex
	ErrorMessage         string `json:"error_message"`
}

type agentView struct {
	InstanceUID        string                  `json:"instance_uid"`
	Connected          bool                    `json:"connected"`
	Transport          string                  `json:"transport"`
	Connections        int                     `json:"connections"`
	Messages           int                     `json:"messages"`
	SequenceNum        uint64                  `json:"sequence_num"`
	Capabilities       uint64                  `json:"capabilities"`
	Disconnected       bool                    `json:"disconnected"` // last message was agent_disconnect
	DisconnectCount    int                     `json:"disconnect_count"`
	FirstSeen          time.Time               `json:"first_seen"`
	LastSeen           time.Time               `json:"last_seen"`
	Attributes         map[string]string       `json:"attributes"` // identifying + non-identifying, string values
	Description        json.RawMessage         `json:"description,omitempty"`
	Health             json.RawMessage         `json:"health,omitempty"`
	EffectiveConfig    map[string]string       `json:"effective_config"` // file name -> body
	RemoteConfigStatus *remoteConfigStatusView `json:"remote_config_status,omitempty"`
	DesiredConfigHash  string                  `json:"desired_config_hash"`
	PendingMessages    int                     `json:"pending_messages"`
	HeartbeatOffered   uint64                  `json:"heartbeat_offered_seconds"`
	LastSendError      string                  `json:"last_send_error,omitempty"`

	PackagesOffered string          `json:"packages_offered_hash,omitempty"` // all_packages_hash (hex) of the last offer
	PackageStatuses json.RawMessage `json:"package_statuses,omitempty"`
	PackageHistory  []packageEvent  `json:"package_history"`

	ClientCert               *certView               `json:"client_cert,omitempty"`
	ClientCerts              []certSeen              `json:"client_certs"`
	CSRs                     []csrRecord             `json:"csrs"`
	CertificateOffers        []certOffer             `json:"certificate_offers"`
	ConnectionSettingsStatus *connSettingsStatusView `json:"connection_settings_status,omitempty"`
	// The last full AvailableComponents (protojson) and the hash last reported (hex).
	AvailableComponents     json.RawMessage `json:"available_components,omitempty"`
	AvailableComponentsHash string          `json:"available_components_hash,omitempty"`
}

func (h *hub) view(a *agent) agentView {
	v := agentView{
		InstanceUID: a.uid, Transport: a.transport, Connections: a.connections, Messages: a.messages,
		SequenceNum: a.sequenceNum, Capabilities: a.capabilities, Disconnected: a.disconnectSeen,
		DisconnectCount: a.disconnectCount, FirstSeen: a.firstSeen, LastSeen: a.lastSeen,
		Attributes: map[string]string{}, EffectiveConfig: map[string]string{},
		DesiredConfigHash: a.desiredHash, PendingMessages: len(a.pending),
		HeartbeatOffered: a.heartbeatOffered, LastSendError: a.lastSendError,
	}
	switch a.transport {
	case "websocket":
		v.Connected = a.wsConn != nil
	case "http":
		// A polling agent is "connected" while it keeps polling.
		v.Connected = !a.disconnectSeen && time.Since(a.lastSeen) < 2*time.Minute
	}
	if a.description != nil {
		v.Description = protoJSON(a.description)
		for _, kv := range append(append([]*protobufs.KeyValue{}, a.description.IdentifyingAttributes...), a.description.NonIdentifyingAttributes...) {
			if s, ok := kv.GetValue().GetValue().(*protobufs.AnyValue_StringValue); ok {
				v.Attributes[kv.Key] = s.StringValue
			}
		}
	}
	if a.health != nil {
		v.Health = protoJSON(a.health)
	}
	if a.availableComponents != nil {
		v.AvailableComponents = protoJSON(a.availableComponents)
	}
	v.AvailableComponentsHash = a.availableComponentsHash
	if a.effectiveConfig != nil && a.effectiveConfig.ConfigMap != nil {
		for name, f := range a.effectiveConfig.ConfigMap.ConfigMap {
			v.EffectiveConfig[name] = string(f.Body)
		}
	}
	if s := a.remoteConfigStatus; s != nil {
		v.RemoteConfigStatus = &remoteConfigStatusView{
			Status:               strings.TrimPrefix(s.Status.String(), "RemoteConfigStatuses_"),
			LastRemoteConfigHash: hex.EncodeToString(s.LastRemoteConfigHash),
			ErrorMessage:         s.ErrorMessage,
		}
	}
	h.packagesView(a, &v)
	h.certsView(a, &v)
	return v
}

func (h *hub) lookup(w http.ResponseWriter, r *http.Request) *agent {
	uid := normalizeUID(r.PathValue("uid"))
	a := h.agents[uid]
	if a == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no agent " + uid})
	}
	return a
}

func (h *hub) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /agents", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		out := []agentView{}
		for _, a := range h.agents {
			out = append(out, h.view(a))
		}
		sort.Slice(out, func(i, j int) bool { return out[i].FirstSeen.Before(out[j].FirstSeen) })
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /agents/{uid}", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if a := h.lookup(w, r); a != nil {
			writeJSON(w, http.StatusOK, h.view(a))
		}
	})
	mux.HandleFunc("POST /agents/{uid}/config", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Config      map[string]string `json:"config"`
			ContentType string            `json:"content_type"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if body.ContentType == "" {
			body.ContentType = "text/yaml"
		}
		files := map[string]*protobufs.AgentConfigFile{}
		for name, text := range body.Config {
			files[name] = &protobufs.AgentConfigFile{Body: []byte(text), ContentType: body.ContentType}
		}
		hash := configHash(files)
		rc := &protobufs.AgentRemoteConfig{Config: &protobufs.AgentConfigMap{ConfigMap: files}, ConfigHash: hash}
		h.mu.Lock()
		defer h.mu.Unlock()
		a := h.lookup(w, r)
		if a == nil {
			return
		}
		a.desired = rc
		a.desiredHash = hex.EncodeToString(hash)
		uid, _ := hex.DecodeString(strings.ReplaceAll(a.uid, "-", ""))
		pushedAt := time.Now()
		how := h.deliver(a, &protobufs.ServerToAgent{InstanceUid: uid, RemoteConfig: rc})
		writeJSON(w, http.StatusOK, map[string]any{"hash": a.desiredHash, "delivery": how, "time": pushedAt})
	})
	mux.HandleFunc("POST /agents/{uid}/restart", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		a := h.lookup(w, r)
		if a == nil {
			return
		}
		uid, _ := hex.DecodeString(strings.ReplaceAll(a.uid, "-", ""))
		how := h.deliver(a, &protobufs.ServerToAgent{InstanceUid: uid, Command: &protobufs.ServerToAgentCommand{Type: protobufs.CommandType_CommandType_Restart}})
		writeJSON(w, http.StatusOK, map[string]string{"delivery": how})
	})
	mux.HandleFunc("POST /agents/{uid}/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Seconds uint64 `json:"seconds"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Seconds == 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "need {\"seconds\": N > 0}"})
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		a := h.lookup(w, r)
		if a == nil {
			return
		}
		uid, _ := hex.DecodeString(strings.ReplaceAll(a.uid, "-", ""))
		a.heartbeatOffered = body.Seconds
		how := h.deliver(a, &protobufs.ServerToAgent{InstanceUid: uid, ConnectionSettings: h.heartbeatOffer(a.transport, body.Seconds)})
		writeJSON(w, http.StatusOK, map[string]string{"delivery": how})
	})
	mux.HandleFunc("POST /agents/{uid}/disconnect", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		a := h.lookup(w, r)
		if a == nil {
			return
		}
		if a.wsConn != nil {
			_ = a.wsConn.Disconnect()
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	h.packageRoutes(mux)
	h.certRoutes(mux)
	h.telemetryRoutes(mux)
	mux.HandleFunc("GET /messages", func(w http.ResponseWriter, r *http.Request) {
		uid := r.URL.Query().Get("uid")
		if uid != "" {
			uid = normalizeUID(uid)
		}
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		h.mu.Lock()
		defer h.mu.Unlock()
		out := []record{}
		for _, rec := range h.records {
			if rec.Seq > after && (uid == "" || rec.InstanceUID == uid) {
				out = append(out, rec)
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
	return mux
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "OpAMP listen address (WebSocket and plain HTTP on "+opampPath+", package files on /packages/)")
	control := flag.String("control", "127.0.0.1:0", "control API listen address (keep it on loopback)")
	heartbeat := flag.Uint64("heartbeat-seconds", 0, "heartbeat interval offered to each agent in its first response (0: none)")
	tlsCert := flag.String("tls-cert", "", "server certificate (PEM): the OpAMP listener speaks TLS (wss/https); needs --tls-key")
	tlsKey := flag.String("tls-key", "", "the server certificate's private key (PEM)")
	clientCA := flag.String("client-ca", "", "CA bundle (PEM): require client certificates that chain to it (mTLS); needs --tls-cert")
	clientCAKey := flag.String("client-ca-key", "", "private key (PEM) of a CA in --client-ca: sign CSRs (AcceptsConnectionSettingsRequest) and issue offered client certificates")
	validity := flag.Duration("issued-cert-validity", 90*24*time.Hour, "validity of the client certificates this server issues")
	flag.Parse()
	log.SetOutput(os.Stderr)
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	h := &hub{agents: map[string]*agent{}, hbDefault: *heartbeat, files: map[string]*packageFile{}}
	var tlsConfig *tls.Config
	switch {
	case (*tlsCert == "") != (*tlsKey == ""):
		log.Fatal("--tls-cert and --tls-key go together")
	case *clientCA != "" && *tlsCert == "":
		log.Fatal("--client-ca needs --tls-cert and --tls-key")
	case *clientCAKey != "" && *clientCA == "":
		log.Fatal("--client-ca-key needs --client-ca")
	}
	if *tlsCert != "" {
		var err error
		if tlsConfig, err = serverTLS(*tlsCert, *tlsKey, *clientCA); err != nil {
			log.Fatalf("TLS: %v", err)
		}
		h.tls = true
	}
	if *clientCAKey != "" {
		var err error
		if h.ca, err = loadIssuer(*clientCA, *clientCAKey, *validity); err != nil {
			log.Fatalf("client CA: %v", err)
		}
	}

	// opamp-go's server attached to our own http.Server, so that the same listener (and the
	// same TLS) also serves the package files.
	srv := server.New(nil)
	handler, connContext, err := srv.Attach(server.Settings{Callbacks: types.Callbacks{OnConnecting: h.onConnecting}})
	if err != nil {
		log.Fatalf("cannot attach the OpAMP server: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(opampPath, handler)
	mux.HandleFunc("GET /packages/{id}/{name}", h.serveFile)
	opampLn, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("cannot start the OpAMP server on %s: %v", *listen, err)
	}
	h.endpoint = opampLn.Addr().String()
	opampSrv := &http.Server{Handler: mux, ConnContext: connContext, TLSConfig: tlsConfig, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		var err error
		if tlsConfig != nil {
			err = opampSrv.ServeTLS(opampLn, "", "")
		} else {
			err = opampSrv.Serve(opampLn)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("OpAMP listener: %v", err)
		}
	}()

	ln, err := net.Listen("tcp", *control)
	if err != nil {
		log.Fatalf("cannot listen on %s for the control API: %v", *control, err)
	}
	ctl := &http.Server{Handler: h.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := ctl.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("control API: %v", err)
		}
	}()

	ready, _ := json.Marshal(map[string]any{
		"event":      "listening",
		"opamp_addr": h.endpoint,
		"opamp_ws":   h.url("websocket"),
		"opamp_http": h.url("http"),
		"control":    "http://" + ln.Addr().String(),
		"tls":        h.tls,
		"mtls":       *clientCA != "",
		"signs_csrs": h.ca != nil,
	})
	fmt.Println(string(ready))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = ctl.Shutdown(ctx)
	_ = opampSrv.Shutdown(ctx)
}
