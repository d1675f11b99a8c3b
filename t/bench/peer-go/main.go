// main.go - the benchmark's Go peer: the same three-backend page as fanout-cgi's benchmark
// endpoints, written as a Go user would with the standard library only (a goroutine per backend,
// one kept-alive http.Client), so that t/bench/run.sh can measure fanout-cgi against it.
//
//	peer-go -listen 127.0.0.1:18484 -backend http://127.0.0.1:18481 -conns 256
//
// GET /zero calls /zero three times; GET /slow calls /d20, /d30 and /d50. The answer is
// {"data":{"profile":...,"orders":...,"recommendations":...}}, as fanout-cgi's; a backend that
// fails or answers other than 200 with JSON makes the answer a 502, so that wrk counts it.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

type backendCall struct {
	name string
	path string
}

var pages = map[string][]backendCall{
	"/zero": {{"profile", "/zero?b=profile"}, {"orders", "/zero?b=orders"}, {"recommendations", "/zero?b=recs"}},
	"/slow": {{"profile", "/d20?b=profile"}, {"orders", "/d30?b=orders"}, {"recommendations", "/d50?b=recs"}},
}

type result struct {
	body []byte
	err  error
}

// fetch calls one backend and returns its body, or why it is not usable.
func fetch(client *http.Client, url string) result {
	resp, err := client.Get(url)
	if err != nil {
		return result{nil, err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return result{nil, err}
	}
	if resp.StatusCode != http.StatusOK {
		return result{nil, fmt.Errorf("%s: status %d", url, resp.StatusCode)}
	}
	if !json.Valid(body) {
		return result{nil, fmt.Errorf("%s: not JSON", url)}
	}
	return result{bytes.TrimSpace(body), nil}
}

// aggregate calls a page's backends concurrently and writes the combined document.
func aggregate(client *http.Client, base string, calls []backendCall, w http.ResponseWriter) {
	results := make([]chan result, len(calls))
	for i, c := range calls {
		results[i] = make(chan result, 1)
		go func(ch chan result, url string) { ch <- fetch(client, url) }(results[i], base+c.path)
	}
	var out bytes.Buffer
	out.WriteString(`{"data":{`)
	failed := false
	for i, c := range calls {
		r := <-results[i]
		if r.err != nil {
			log.Print(r.err)
			failed = true
			continue
		}
		if i > 0 {
			out.WriteByte(',')
		}
		fmt.Fprintf(&out, "%q:", c.name)
		out.Write(r.body)
	}
	out.WriteString("}}\n")
	if failed {
		http.Error(w, `{"error":"backend failed"}`, http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out.Bytes())
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18484", "address to serve on")
	base := flag.String("backend", "http://127.0.0.1:18481", "the backends' base URL")
	conns := flag.Int("conns", 256, "kept-alive connections to the backends (the client concurrency)")
	flag.Parse()
	if *conns < 1 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "peer-go: -conns must be at least 1, and no arguments")
		os.Exit(2)
	}
	// Three backend calls per request: up to three times the client concurrency in flight.
	transport := &http.Transport{MaxIdleConns: 3 * *conns, MaxIdleConnsPerHost: 3 * *conns,
		IdleConnTimeout: 90 * time.Second}
	client := &http.Client{Transport: transport, Timeout: 2 * time.Second}
	mux := http.NewServeMux()
	for path, calls := range pages {
		calls := calls
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			aggregate(client, *base, calls, w)
		})
	}
	log.Fatal(http.ListenAndServe(*listen, mux))
}
