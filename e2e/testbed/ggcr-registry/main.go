// Command ggcr-registry serves go-containerregistry's in-memory registry with the OCI
// referrers API enabled, so integration tests can exercise a registry that has it.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "listen address")
	flag.Parse()
	log.Printf("ggcr-registry listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, registry.New(registry.WithReferrersSupport(true))))
}
