// Command fakegcs runs the Google Cloud Storage emulator
// (github.com/fsouza/fake-gcs-server) for Tidemark's local stack, so that
// cloud.google.com/go/storage reaches it through STORAGE_EMULATOR_HOST.
// It is development tooling, not part of the tidemark binary.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Uint("port", 14443, "port to listen on")
	root := flag.String("root", "", "directory that keeps objects across restarts (empty: in memory)")
	flag.Parse()

	addr := fmt.Sprintf("%s:%d", *host, *port)
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:      "http",
		Host:        *host,
		Port:        uint16(*port),
		StorageRoot: *root,
		// Object reads go to PublicHost; without it the client is sent to
		// storage.googleapis.com.
		PublicHost:  addr,
		ExternalURL: "http://" + addr,
		Writer:      os.Stderr,
	})
	if err != nil {
		log.Fatalf("fakegcs: start on %s: %v", addr, err)
	}
	log.Printf("fakegcs: serving on http://%s (STORAGE_EMULATOR_HOST=%s)", addr, addr)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	srv.Stop()
}
