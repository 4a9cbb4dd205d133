// An OCI registry that serves the referrers API, for the end-to-end tier.
// Neither go-containerregistry's cmd/registry nor distribution v3's registry
// answers GET /v2/<name>/referrers/<digest> as shipped (distribution has no
// referrers API; go-containerregistry has it behind an option its command
// does not set), so this turns that option on. Blobs go to --blobs on disk.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

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
	s := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: registry.New(opts...)}
	log.Fatal(s.Serve(listener))
}
