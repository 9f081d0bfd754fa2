package main

// Package offers. A control request names a file (a path on this host, or its bytes), a
// version and a signature; the server offers it as the agent's top-level package in
// PackagesAvailable, with content_hash = SHA-256 of the file and a download URL on the OpAMP
// listener itself (same TLS, same client-certificate requirement), served with
// http.ServeContent (HEAD, Range, If-Range). The agent's PackageStatuses are kept as a history.
//
//	POST /agents/{uid}/package  {"name":"otelcol","version":"…","path":"/abs/file" | "content":"<base64>",
//	                             "signature":"<base64>","content_hash":"<base64>" (optional override)}
//	                            -> {"hash","all_packages_hash","content_hash","download_url","size","delivery","time"}
//	GET  /downloads             every request for a package file
//	GET  /packages/{id}/{name}  (OpAMP listener) the file

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
)

// packageFile is one file the OpAMP listener serves.
type packageFile struct {
	id      string
	name    string // last path segment of the URL
	path    string // served from disk when set
	body    []byte // else served from memory
	modTime time.Time
}

// download is one request for a package file, as the server saw it.
type download struct {
	Time       time.Time `json:"time"`
	File       string    `json:"file"` // {id}/{name}
	Method     string    `json:"method"`
	Range      string    `json:"range,omitempty"`
	Status     int       `json:"status"`
	Bytes      int64     `json:"bytes"`
	Duration   float64   `json:"duration_ms"`
	ClientCert *certView `json:"client_cert,omitempty"`
}

// packageEvent is one package's entry in one reported PackageStatuses.
type packageEvent struct {
	Time                   time.Time `json:"time"`
	Seq                    int       `json:"seq"` // the message it came in (GET /messages)
	Name                   string    `json:"name"`
	Status                 string    `json:"status"` // INSTALLED, INSTALL_PENDING, INSTALLING, INSTALL_FAILED, DOWNLOADING
	AgentHasVersion        string    `json:"agent_has_version"`
	AgentHasHash           string    `json:"agent_has_hash"` // hex
	ServerOfferedVersion   string    `json:"server_offered_version"`
	ServerOfferedHash      string    `json:"server_offered_hash"` // hex
	ErrorMessage           string    `json:"error_message,omitempty"`
	DownloadPercent        float64   `json:"download_percent,omitempty"`
	DownloadBytesPerSecond float64   `json:"download_bytes_per_second,omitempty"`
	AllPackagesHash        string    `json:"server_provided_all_packages_hash"` // hex
}

var packageStatusNames = map[protobufs.PackageStatusEnum]string{
	protobufs.PackageStatusEnum_PackageStatusEnum_Installed:      "INSTALLED",
	protobufs.PackageStatusEnum_PackageStatusEnum_InstallPending: "INSTALL_PENDING",
	protobufs.PackageStatusEnum_PackageStatusEnum_Installing:     "INSTALLING",
	protobufs.PackageStatusEnum_PackageStatusEnum_InstallFailed:  "INSTALL_FAILED",
	protobufs.PackageStatusEnum_PackageStatusEnum_Downloading:    "DOWNLOADING",
}

func (a *agent) recordPackageStatuses(s *protobufs.PackageStatuses, now time.Time, seq int) {
	a.packageStatuses = s
	for name, p := range s.Packages {
		status, ok := packageStatusNames[p.Status]
		if !ok {
			status = p.Status.String()
		}
		e := packageEvent{
			Time: now, Seq: seq, Name: name, Status: status,
			AgentHasVersion: p.AgentHasVersion, AgentHasHash: hex.EncodeToString(p.AgentHasHash),
			ServerOfferedVersion: p.ServerOfferedVersion, ServerOfferedHash: hex.EncodeToString(p.ServerOfferedHash),
			ErrorMessage:    p.ErrorMessage,
			AllPackagesHash: hex.EncodeToString(s.ServerProvidedAllPackagesHash),
		}
		if d := p.DownloadDetails; d != nil {
			e.DownloadPercent = d.DownloadPercent
			e.DownloadBytesPerSecond = d.DownloadBytesPerSecond
		}
		a.packageHistory = append(a.packageHistory, e)
	}
}

// processedPackages is true when the agent's last report names the offer's aggregate hash.
func (a *agent) processedPackages() bool {
	return a.packageStatuses != nil && bytes.Equal(a.packageStatuses.ServerProvidedAllPackagesHash, a.packagesOffer.AllPackagesHash)
}

func (h *hub) packagesView(a *agent, v *agentView) {
	v.PackageHistory = append([]packageEvent{}, a.packageHistory...)
	if a.packagesOffer != nil {
		v.PackagesOffered = hex.EncodeToString(a.packagesOffer.AllPackagesHash)
	}
	if a.packageStatuses != nil {
		v.PackageStatuses = protoJSON(a.packageStatuses)
	}
}

// fileSHA256 streams a file through SHA-256.
func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := sha256.New()
	if _, err := io.Copy(s, f); err != nil {
		return nil, err
	}
	return s.Sum(nil), nil
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// countingWriter remembers the status and counts the body bytes of a response.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (c *countingWriter) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.bytes += int64(n)
	return n, err
}

// serveFile serves a package file on the OpAMP listener.
func (h *hub) serveFile(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	h.mu.Lock()
	f := h.files[r.PathValue("id")]
	h.mu.Unlock()
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	switch {
	case f == nil || f.name != r.PathValue("name"):
		http.NotFound(cw, r)
	case f.path != "":
		file, err := os.Open(f.path)
		if err != nil {
			http.Error(cw, err.Error(), http.StatusInternalServerError)
			break
		}
		defer file.Close()
		http.ServeContent(cw, r, f.name, f.modTime, file)
	default:
		http.ServeContent(cw, r, f.name, f.modTime, bytes.NewReader(f.body))
	}
	d := download{
		Time: started, File: r.PathValue("id") + "/" + r.PathValue("name"), Method: r.Method, Range: r.Header.Get("Range"),
		Status: cw.status, Bytes: cw.bytes, Duration: float64(time.Since(started).Microseconds()) / 1000,
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		d.ClientCert = describeCert(r.TLS.PeerCertificates[0])
	}
	h.mu.Lock()
	h.downloads = append(h.downloads, d)
	h.mu.Unlock()
}

// packageHash names one offered package: the same file, version and signature get the same hash.
func packageHash(name, version string, contentHash, signature []byte) []byte {
	s := sha256.New()
	fmt.Fprintf(s, "%d:%s%d:%s", len(name), name, len(version), version)
	fmt.Fprintf(s, "%d:%x%d:%x", len(contentHash), contentHash, len(signature), signature)
	return s.Sum(nil)
}

func (h *hub) packageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /agents/{uid}/package", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name        string `json:"name"`
			Version     string `json:"version"`
			Path        string `json:"path"`
			Content     []byte `json:"content"`      // base64 in JSON
			Signature   []byte `json:"signature"`    // base64: the 64 raw Ed25519 bytes
			ContentHash []byte `json:"content_hash"` // base64; default: the file's SHA-256
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if (body.Path == "") == (body.Content == nil) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `give one of "path" or "content"`})
			return
		}
		if body.Name == "" {
			body.Name = "otelcol"
		}
		f := &packageFile{id: randomID(), path: body.Path, body: body.Content, modTime: time.Now()}
		var sum []byte
		size := int64(len(body.Content))
		if body.Path != "" {
			if !filepath.IsAbs(body.Path) {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "path must be absolute"})
				return
			}
			st, err := os.Stat(body.Path)
			if err == nil && !st.Mode().IsRegular() {
				err = fmt.Errorf("%s is not a regular file", body.Path)
			}
			if err == nil {
				sum, err = fileSHA256(body.Path)
			}
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
			f.name = filepath.Base(body.Path)
			f.modTime = st.ModTime()
			size = st.Size()
		} else {
			s := sha256.Sum256(body.Content)
			sum = s[:]
			f.name = body.Name
		}
		contentHash := sum
		if body.ContentHash != nil {
			contentHash = body.ContentHash
		}

		h.mu.Lock()
		defer h.mu.Unlock()
		a := h.lookup(w, r)
		if a == nil {
			return
		}
		h.files[f.id] = f
		downloadURL := h.base("http") + "/packages/" + f.id + "/" + f.name
		hash := packageHash(body.Name, body.Version, contentHash, body.Signature)
		all := sha256.Sum256([]byte(body.Name + "\x00" + hex.EncodeToString(hash)))
		offer := &protobufs.PackagesAvailable{
			Packages: map[string]*protobufs.PackageAvailable{
				body.Name: {
					Type:    protobufs.PackageType_PackageType_TopLevel,
					Version: body.Version,
					Hash:    hash,
					File: &protobufs.DownloadableFile{
						DownloadUrl: downloadURL,
						ContentHash: contentHash,
						Signature:   body.Signature,
					},
				},
			},
			AllPackagesHash: all[:],
		}
		a.packagesOffer = offer
		uid, _ := hex.DecodeString(strings.ReplaceAll(a.uid, "-", ""))
		offeredAt := time.Now()
		how := h.deliver(a, &protobufs.ServerToAgent{InstanceUid: uid, PackagesAvailable: offer})
		writeJSON(w, http.StatusOK, map[string]any{
			"hash": hex.EncodeToString(hash), "all_packages_hash": hex.EncodeToString(all[:]),
			"content_hash": hex.EncodeToString(contentHash), "sha256": hex.EncodeToString(sum),
			"download_url": downloadURL, "size": size, "delivery": how, "time": offeredAt,
		})
	})
	mux.HandleFunc("GET /downloads", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		writeJSON(w, http.StatusOK, append([]download{}, h.downloads...))
	})
}
