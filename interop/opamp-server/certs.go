package main

// TLS, client certificates and certificate offers. opamp-go's server only carries the
// messages; issuing certificates is the application's job, done here with crypto/x509:
//
//   - --tls-cert/--tls-key: the OpAMP listener speaks TLS (wss/https); --client-ca makes it
//     require and verify client certificates (mTLS). The certificate each connection presented
//     is recorded per message and per agent.
//   - --client-ca-key (the key of a CA in --client-ca): the server advertises
//     AcceptsConnectionSettingsRequest and signs the CSRs agents send (the subject CN must be
//     the agent's instance uid; URI SANs, if any, must be urn:uuid:<uid>), answering with a
//     ConnectionSettingsOffers whose certificate has no private key (the agent kept it); and
//
//	POST /agents/{uid}/certificate  {"cn":"…","validity_seconds":N}: a new ECDSA P-256 key and a
//	                                certificate from that CA, offered with the key and ca_cert
//	                                -> {"hash","certificate":{subject,serial,sha256,…},"delivery","time"}

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
)

// certView describes a certificate without its key.
type certView struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"` // hex
	SHA256   string    `json:"sha256"` // hex, over the DER
	NotAfter time.Time `json:"not_after"`
	URIs     []string  `json:"uris,omitempty"`
}

func describeCert(c *x509.Certificate) *certView {
	sum := sha256.Sum256(c.Raw)
	v := &certView{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16), SHA256: hex.EncodeToString(sum[:]), NotAfter: c.NotAfter}
	for _, u := range c.URIs {
		v.URIs = append(v.URIs, u.String())
	}
	return v
}

// certSeen is a client certificate an agent connected with, when it was first seen.
type certSeen struct {
	*certView
	FirstSeen time.Time `json:"first_seen"`
	FirstSeq  int       `json:"first_seq"`
}

// csrRecord is one certificate request and what became of it.
type csrRecord struct {
	Time    time.Time `json:"time"`
	Subject string    `json:"subject,omitempty"`
	URIs    []string  `json:"uris,omitempty"`
	KeyType string    `json:"key_type,omitempty"` // e.g. RSA-2048
	Result  string    `json:"result"`             // signed | rejected
	Error   string    `json:"error,omitempty"`
	Hash    string    `json:"offer_hash,omitempty"` // hex hash of the answering offer
	Issued  *certView `json:"issued,omitempty"`
}

// certOffer is a certificate the server offered.
type certOffer struct {
	Time        time.Time `json:"time"`
	Source      string    `json:"source"` // control | csr
	Hash        string    `json:"hash"`   // hex
	Certificate *certView `json:"certificate"`
	Delivery    string    `json:"delivery,omitempty"`
}

type connSettingsStatusView struct {
	Hash         string `json:"last_connection_settings_hash"` // hex
	Status       string `json:"status"`                        // UNSET | APPLIED | APPLYING | FAILED
	ErrorMessage string `json:"error_message"`
}

func (a *agent) sawClientCert(peer *certView, now time.Time, seq int) {
	a.clientCert = peer
	if peer == nil {
		return
	}
	for _, c := range a.clientCerts {
		if c.SHA256 == peer.SHA256 {
			return
		}
	}
	a.clientCerts = append(a.clientCerts, certSeen{certView: peer, FirstSeen: now, FirstSeq: seq})
}

func (h *hub) certsView(a *agent, v *agentView) {
	v.ClientCert = a.clientCert
	v.ClientCerts = append([]certSeen{}, a.clientCerts...)
	v.CSRs = append([]csrRecord{}, a.csrs...)
	v.CertificateOffers = append([]certOffer{}, a.certOffers...)
	if s := a.connSettingsStatus; s != nil {
		v.ConnectionSettingsStatus = &connSettingsStatusView{
			Hash:         hex.EncodeToString(s.LastConnectionSettingsHash),
			Status:       strings.TrimPrefix(s.Status.String(), "ConnectionSettingsStatuses_"),
			ErrorMessage: s.ErrorMessage,
		}
	}
}

// serverTLS is the OpAMP listener's TLS configuration; with a client CA it requires client
// certificates that chain to it.
func serverTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server certificate %s / key %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAFile != "" {
		data, err := os.ReadFile(clientCAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("%s: no PEM certificate", clientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// issuer is the CA that signs client certificates.
type issuer struct {
	cert     *x509.Certificate
	certPEM  []byte
	key      crypto.Signer
	validity time.Duration
}

// loadIssuer finds, among the certificates of caFile, the one keyFile's key belongs to.
func loadIssuer(caFile, keyFile string, validity time.Duration) (*issuer, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("no certificate in %s belongs to the key in %s", caFile, keyFile)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", caFile, err)
		}
		if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(cert.PublicKey) {
			return &issuer{cert: cert, certPEM: pem.EncodeToMemory(block), key: key, validity: validity}, nil
		}
	}
}

func parsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%T cannot sign", key)
	}
	return signer, nil
}

// issue makes a client certificate for pub, valid from a minute ago for the given time.
func (ca *issuer) issue(pub crypto.PublicKey, subject pkix.Name, uris []*url.URL, validity time.Duration) (*x509.Certificate, []byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: subject.CommonName, Organization: subject.Organization},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		URIs:                  uris,
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// checkCSR parses a PEM certificate request and checks it belongs to the agent uid.
func checkCSR(data []byte, uid string) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return csr, fmt.Errorf("signature: %w", err)
	}
	if csr.Subject.CommonName != uid {
		return csr, fmt.Errorf("subject CN %q is not the instance uid %s", csr.Subject.CommonName, uid)
	}
	for _, u := range csr.URIs {
		if u.String() != "urn:uuid:"+uid {
			return csr, fmt.Errorf("URI SAN %s is not urn:uuid:%s", u, uid)
		}
	}
	if k, ok := csr.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		return csr, fmt.Errorf("RSA key of %d bits; need 2048 or more", k.N.BitLen())
	}
	return csr, nil
}

func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + k.Curve.Params().Name
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// certificateOffer is ConnectionSettingsOffers with the agent's current endpoint and
// heartbeat (0 would mean "no heartbeats") and a client certificate.
func (h *hub) certificateOffer(a *agent, cert *protobufs.TLSCertificate, der []byte) *protobufs.ConnectionSettingsOffers {
	hb := a.heartbeatOffered
	if hb == 0 {
		hb = h.hbDefault
	}
	if hb == 0 {
		hb = 30
	}
	a.heartbeatOffered = hb
	dest := h.url(a.transport)
	sum := sha256.New()
	fmt.Fprintf(sum, "%s|%d|", dest, hb)
	sum.Write(der)
	return &protobufs.ConnectionSettingsOffers{
		Hash: sum.Sum(nil),
		Opamp: &protobufs.OpAMPConnectionSettings{
			DestinationEndpoint:      dest,
			HeartbeatIntervalSeconds: hb,
			Certificate:              cert,
		},
	}
}

// answerCSR signs a certificate request, or records why not (the agent then retries).
// Called with h.mu held.
func (h *hub) answerCSR(a *agent, csrPEM []byte, now time.Time) *protobufs.ConnectionSettingsOffers {
	rec := csrRecord{Time: now, Result: "rejected"}
	defer func() { a.csrs = append(a.csrs, rec) }()
	if h.ca == nil {
		rec.Error = "this server does not sign certificates (start it with --client-ca-key)"
		return nil
	}
	csr, err := checkCSR(csrPEM, a.uid)
	if csr != nil {
		rec.Subject = csr.Subject.String()
		rec.KeyType = keyType(csr.PublicKey)
		for _, u := range csr.URIs {
			rec.URIs = append(rec.URIs, u.String())
		}
	}
	if err != nil {
		rec.Error = err.Error()
		log.Printf("certificate request from %s rejected: %v", a.uid, err)
		return nil
	}
	cert, certPEM, err := h.ca.issue(csr.PublicKey, csr.Subject, csr.URIs, h.ca.validity)
	if err != nil {
		rec.Error = err.Error()
		return nil
	}
	offer := h.certificateOffer(a, &protobufs.TLSCertificate{Cert: certPEM, CaCert: h.ca.certPEM}, cert.Raw)
	rec.Result, rec.Issued, rec.Hash = "signed", describeCert(cert), hex.EncodeToString(offer.Hash)
	a.certOffers = append(a.certOffers, certOffer{Time: now, Source: "csr", Hash: rec.Hash, Certificate: rec.Issued, Delivery: "reply"})
	return offer
}

func (h *hub) certRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /agents/{uid}/certificate", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			CN              string `json:"cn"`
			ValiditySeconds int64  `json:"validity_seconds"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		if h.ca == nil {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "no CA to issue from: start the server with --client-ca and --client-ca-key"})
			return
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		validity := h.ca.validity
		if body.ValiditySeconds > 0 {
			validity = time.Duration(body.ValiditySeconds) * time.Second
		}

		h.mu.Lock()
		defer h.mu.Unlock()
		a := h.lookup(w, r)
		if a == nil {
			return
		}
		cn := body.CN
		if cn == "" {
			cn = a.uid
		}
		uri, _ := url.Parse("urn:uuid:" + a.uid)
		cert, certPEM, err := h.ca.issue(key.Public(), pkix.Name{CommonName: cn}, []*url.URL{uri}, validity)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		offer := h.certificateOffer(a, &protobufs.TLSCertificate{
			Cert:       certPEM,
			PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
			CaCert:     h.ca.certPEM,
		}, cert.Raw)
		uid, _ := hex.DecodeString(strings.ReplaceAll(a.uid, "-", ""))
		offeredAt := time.Now()
		how := h.deliver(a, &protobufs.ServerToAgent{InstanceUid: uid, ConnectionSettings: offer})
		view := describeCert(cert)
		a.certOffers = append(a.certOffers, certOffer{Time: offeredAt, Source: "control", Hash: hex.EncodeToString(offer.Hash), Certificate: view, Delivery: how})
		writeJSON(w, http.StatusOK, map[string]any{"hash": hex.EncodeToString(offer.Hash), "certificate": view, "delivery": how, "time": offeredAt})
	})
}
