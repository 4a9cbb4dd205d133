// An OCI registry that serves the referrers API, for the end-to-end tier.
//
// Neither go-containerregistry's cmd/registry nor distribution v3's registry
// answers GET /v2/<name>/referrers/<digest> as shipped: distribution has no
// referrers API, and go-containerregistry has it behind an option its command
// does not set. Its implementation also reports each referrer's artifactType
// from config.mediaType even when the manifest has its own artifactType (what
// `oras attach` writes), and ignores the ?artifactType= filter; both break the
// distribution spec. This command turns the option on and corrects those two
// things in front of the handler. Blobs go to --blobs on disk.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

type descriptor map[string]any

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// referrers serves /v2/<name>/referrers/<digest> per the distribution spec.
func referrers(inner http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v2/"), "/referrers/")
		if r.Method != http.MethodGet || len(parts) != 2 || !strings.HasPrefix(r.URL.Path, "/v2/") {
			inner.ServeHTTP(w, r)
			return
		}
		name := parts[0]
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		var idx index
		if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		want := r.URL.Query().Get("artifactType")
		kept := []descriptor{}
		for _, d := range idx.Manifests {
			digest, _ := d["digest"].(string)
			m := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/v2/"+name+"/manifests/"+digest, nil)
			inner.ServeHTTP(m, req)
			var manifest struct {
				ArtifactType string `json:"artifactType"`
			}
			if m.Code == http.StatusOK && json.Unmarshal(m.Body.Bytes(), &manifest) == nil && manifest.ArtifactType != "" {
				d["artifactType"] = manifest.ArtifactType
			}
			if want == "" || d["artifactType"] == want {
				kept = append(kept, d)
			}
		}
		idx.Manifests = kept
		body, _ := json.Marshal(idx)
		w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if want != "" {
			w.Header().Set("OCI-Filters-Applied", "artifactType")
		}
		w.WriteHeader(http.StatusOK)
		_, _ = bytes.NewReader(body).WriteTo(w)
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	blobs := flag.String("blobs", "", "directory for blobs (default: in memory)")
	flag.Parse()
	opts := []registry.Option{
		registry.WithReferrersSupport(true),
		registry.Logger(log.New(os.Stderr, "", log.LstdFlags)),
	}
	if *blobs != "" {
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobs)))
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "serving on %s\n", listener.Addr())
	s := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: referrers(registry.New(opts...))}
	log.Fatal(s.Serve(listener))
}
